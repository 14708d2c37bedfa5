"""The three render engines and what each sets up in the one Blender scene.

Every lighting preset is emission-only shading (rigs/blender/shading.py), so an engine only has
to rasterize or trace the camera rays and filter the edges; nothing is lit by a real light.

- `cycles`: the path tracer. Settings as they have always been (bounces 0, fixed seed,
  Blackman-Harris 1.5 px), so existing outputs stay byte-identical; `adaptive` turns on
  Cycles' adaptive sampling (flat interiors stop early, edges keep their samples).
- `eevee`: Blender 4.5's EEVEE Next (engine id 'BLENDER_EEVEE_NEXT'; 'BLENDER_EEVEE' in
  Blender 5) renders the same node trees. Shadows, ray tracing, AO and light probes do
  nothing for emission-only materials, so they are turned off; `samples` become its TAA
  samples and the film filter is EEVEE_FILTER_SIZE (both chosen by bench/engines.py).
- `workbench`: the viewport rasterizer cannot run node trees, so the `phong` preset is
  rebuilt from what it can do: texture colour (rigs/blender/workbench.py) times a custom
  studio light with ambient + diffuse x max(N.L, 0) along the view (render/scene/studio_light.py).
  `samples` pick its anti-aliasing (WORKBENCH_AA).

Both rasterizers draw through OpenGL; headless they need EGL (render/scene/gl_probe.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable

import bpy

from thagen.errors import RenderError

ENGINE_NAMES = ("cycles", "eevee", "workbench")
# EEVEE's film filter width in pixels (Blender's default 1.5): the width whose edges came
# closest to Cycles' 1.5 px Blackman-Harris filter in bench/engines.py (docs/rendering.md).
EEVEE_FILTER_SIZE = 1.5
# Workbench's anti-aliasing choices, as (most samples asked for, render_aa value).
WORKBENCH_AA = ((1, "OFF"), (5, "5"), (8, "8"), (11, "11"), (16, "16"))
# Samples of Cycles' own renders in a scene set up for another engine (the QA material mask).
MASK_SAMPLES = 4
# Adaptive sampling (render.adaptive): a pixel stops once its noise is below the threshold, after
# at least this many samples. Blender's automatic minimum (0) is about 16 at threshold 0.01,
# which leaves nothing to adapt at thagen's sample counts.
ADAPTIVE_THRESHOLD = 0.01
ADAPTIVE_MIN_SAMPLES = 2


def engine_name(engine: str) -> str:
    """thagen's name of an engine given by name or Blender id (`BLENDER_EEVEE_NEXT` -> eevee)."""
    key = engine.strip().lower()
    aliases = {"blender_eevee_next": "eevee", "blender_eevee": "eevee", "blender_workbench": "workbench"}
    key = aliases.get(key, key)
    if key not in ENGINE_NAMES:
        raise RenderError(f"unknown render engine {engine!r}; expected one of {', '.join(ENGINE_NAMES)}")
    return key


def blender_engine_id(name: str) -> str:
    """Blender's id of an engine in this build: EEVEE Next is 'BLENDER_EEVEE_NEXT' in 4.2-4.5."""
    name = engine_name(name)
    if name == "cycles":
        return "CYCLES"
    if name == "workbench":
        return "BLENDER_WORKBENCH"
    items = {item.identifier for item in bpy.types.RenderSettings.bl_rna.properties["engine"].enum_items}
    for candidate in ("BLENDER_EEVEE_NEXT", "BLENDER_EEVEE"):
        if candidate in items:
            return candidate
    raise RenderError(f"this Blender ({bpy.app.version_string}) has no EEVEE engine")


def workbench_aa(samples: int) -> str:
    """Workbench's `render_aa` for `samples`: the fewest of its choices with at least that many."""
    for most, value in WORKBENCH_AA:
        if samples <= most:
            return value
    return "32"


def set_gl_threads(threads: int) -> None:
    """Let Mesa's software rasterizer (llvmpipe) use the render threads the run gave this process.

    Read once, when the first OpenGL context is made (the first EEVEE / Workbench render), so it
    is set before; a value the user exported wins. Harmless where a GPU driver does the drawing.
    """
    if threads > 0 and "LP_NUM_THREADS" not in os.environ:
        os.environ["LP_NUM_THREADS"] = str(threads)


def setup_output(scene: bpy.types.Scene, image_size: int, filepath: str, threads: int) -> None:
    """What every engine shares: size, transparent film, exact 8-bit RGBA PNG, Standard view."""
    render = scene.render
    render.resolution_x = render.resolution_y = image_size
    render.resolution_percentage = 100
    render.film_transparent = True
    render.use_persistent_data = True
    render.threads_mode = "AUTO" if threads <= 0 else "FIXED"
    if threads > 0:
        render.threads = threads
    render.dither_intensity = 0.0
    render.use_compositing = False
    render.use_sequencer = False
    for flag in [a for a in dir(render) if a.startswith("use_stamp")]:
        setattr(render, flag, False)  # no date or render time in the PNG: identical bytes
    settings = render.image_settings
    settings.file_format = "PNG"
    settings.color_mode = "RGBA"
    settings.color_depth = "8"
    settings.compression = 15
    scene.display_settings.display_device = "sRGB"
    view = scene.view_settings
    view.view_transform = "Standard"
    view.look = "None"
    view.exposure = 0.0
    view.gamma = 1.0
    view.use_curve_mapping = False
    render.filepath = filepath


def setup_cycles(
    scene: bpy.types.Scene, samples: int, device: str, adaptive: bool, warn: Callable[[str], None]
) -> None:
    """Cycles for emission-only shading: no bounces, a fixed seed, optional adaptive sampling."""
    cycles = scene.cycles
    cycles.samples = int(samples)
    cycles.use_adaptive_sampling = bool(adaptive)
    if adaptive:
        cycles.adaptive_threshold = ADAPTIVE_THRESHOLD
        cycles.adaptive_min_samples = min(ADAPTIVE_MIN_SAMPLES, int(samples))
    cycles.use_denoising = False
    # One fixed sampling pattern for every character and process, so pixels cannot depend on
    # render order, worker count or resumes. (With persistent data, Cycles picks up a seed or
    # sample-count change between renders only when the scene's objects were rebuilt: a
    # per-character seed would rest on that detail.)
    cycles.seed = 0
    cycles.use_animated_seed = False
    cycles.pixel_filter_type = "BLACKMAN_HARRIS"
    cycles.filter_width = 1.5
    # emission-only shading needs no bounces; transparency (cut-outs, culled back faces) does
    cycles.max_bounces = 0
    cycles.diffuse_bounces = cycles.glossy_bounces = 0
    cycles.transmission_bounces = cycles.volume_bounces = 0
    cycles.transparent_max_bounces = 16
    cycles.caustics_reflective = cycles.caustics_refractive = False
    cycles.device = "CPU"
    if device.upper() == "GPU":
        if enable_cycles_gpu():
            cycles.device = "GPU"
        else:
            warn("no usable GPU for Cycles; rendering on the CPU")


def enable_cycles_gpu() -> bool:
    """Turn on the first GPU backend Cycles finds devices for; False when there is none."""
    prefs = bpy.context.preferences.addons["cycles"].preferences
    for backend in ("OPTIX", "CUDA", "HIP", "ONEAPI", "METAL"):
        try:
            prefs.compute_device_type = backend
        except TypeError:
            continue
        prefs.get_devices()
        gpus = [d for d in prefs.devices if d.type == backend]
        if gpus:
            for d in prefs.devices:
                d.use = d.type == backend
            return True
    return False


def setup_eevee(scene: bpy.types.Scene, samples: int) -> None:
    """EEVEE Next with everything that lights or shadows turned off: emission needs none of it."""
    eevee = scene.eevee
    eevee.taa_render_samples = int(samples)
    eevee.use_shadows = False
    eevee.use_raytracing = False
    eevee.use_gtao = False
    eevee.use_volumetric_shadows = False
    eevee.gi_diffuse_bounces = 0
    eevee.gi_cubemap_resolution = "128"  # the world probe reflects into nothing here
    scene.render.filter_size = EEVEE_FILTER_SIZE
    # EEVEE Next re-renders the world's light probe for every render (F12), at 1024 px by
    # default, and with no world at all it uses a default one of that size: on llvmpipe that was
    # three quarters of a 1 s render at 64 px. Nothing here reflects it (emission only), so the
    # smallest probe gives the same pixels: 64 px renders 1.05 -> 0.23 s.
    if scene.world is None:
        scene.world = bpy.data.worlds.new("thagen_world")
    if hasattr(scene.world, "probe_resolution"):
        scene.world.probe_resolution = "128"


def setup_workbench(scene: bpy.types.Scene, samples: int) -> None:
    """Workbench in texture colour with studio lighting and none of its viewport effects.

    The studio light itself (ambient and one view-space light) is set per image by
    render/scene/studio_light.py; back faces are culled per material (`use_backface_culling`).
    """
    shading = scene.display.shading
    shading.light = "STUDIO"
    shading.color_type = "TEXTURE"
    shading.use_world_space_lighting = False  # the light follows the view, as phong's does
    shading.show_specular_highlight = False
    shading.show_cavity = False
    shading.show_shadows = False
    shading.show_object_outline = False
    shading.show_xray = False
    shading.use_dof = False
    shading.show_backface_culling = False
    scene.display.render_aa = workbench_aa(samples)


def setup_engine(
    scene: bpy.types.Scene,
    engine: str,
    *,
    samples: int,
    device: str,
    adaptive: bool,
    warn: Callable[[str], None],
) -> str:
    """Make `engine` the scene's engine and set it up; returns thagen's name of it.

    Cycles is set up in every case: the QA material mask renders with it whatever the engine
    (render/scene/material_mask.py), since the other engines cannot hold out materials exactly.
    """
    name = engine_name(engine)
    scene.render.engine = blender_engine_id(name)
    if name == "cycles":
        setup_cycles(scene, samples, device, adaptive, warn)
        return name
    if adaptive:
        raise RenderError(f"adaptive sampling is Cycles' own; {name} has none")
    setup_cycles(scene, MASK_SAMPLES, "CPU", False, warn)
    if name == "eevee":
        setup_eevee(scene, samples)
    else:
        setup_workbench(scene, samples)
    return name
