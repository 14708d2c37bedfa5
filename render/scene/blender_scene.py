"""The render scene: one long-lived Blender scene that renders posed characters to PNG bytes.

Set up once (Cycles, orthographic camera, exact colour management), then per image only shape-key
values, two bone rotations and maybe the ambient value change, so Cycles' persistent data is
reused. Colour settings keep flat colours exact: view transform Standard, look None, exposure 0,
gamma 1, no dither. Blender's own stdout/stderr (C level) is captured per import and render and
handed to `log` instead of being lost or mixed into the caller's output.
"""

from __future__ import annotations

import ctypes
import math
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import bpy
import numpy as np

from thagen.errors import RenderError, RigError
from thagen.render.framing.presets import preset_camera
from thagen.render.output.layout import pid_alive
from thagen.render.poses.posing import eye_morph_weights, mmd_to_blender, rotation_matrices
from thagen.render.poses.vector_posing import is_vector_pose, vector_targets
from thagen.render.scene.blender_lighting import apply_lighting
from thagen.render.scene.blender_split import remove_static, split_static_geometry
from thagen.render.scene.eyebrow_layer import MeshPart, mesh_parts, render_eyebrow_layer
from thagen.render.scene.material_mask import render_material_mask
from thagen.render.scene.png import strip_png_text
from thagen.rigs.blender.import_model import import_model
from thagen.rigs.blender.imported import ImportedModel
from thagen.rigs.blender.report import TextureMiss
from thagen.rigs.model import Model

if TYPE_CHECKING:
    from thagen.rigs.normalize import RigReport

CAMERA_DISTANCE = 10.0  # metres in front of the face; orthographic, so only clipping cares
MORPH_ROLES = ("eye_close_left", "eye_close_right", "eye_close_both", "mouth_open")


@dataclass
class Captured:
    text: str = ""


TMP_PREFIX = "thagen-render-"


def _private_tmp() -> str:
    """A per-process scratch folder for Blender's PNG output (RAM-backed where /dev/shm exists).

    Its name carries the pid, so folders left by killed workers (kill -9 skips cleanup) are
    recognised and removed by the next renderer on the machine.
    """
    shm = "/dev/shm"
    base = shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else tempfile.gettempdir()
    _sweep_dead(base)
    return tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{os.getpid()}-", dir=base)


def _sweep_dead(base: str) -> None:
    """Remove scratch folders whose owning process no longer exists."""
    try:
        names = os.listdir(base)
    except OSError:
        return
    for name in names:
        if not name.startswith(TMP_PREFIX):
            continue
        pid_text = name[len(TMP_PREFIX) :].split("-", 1)[0]
        if not pid_text.isdigit() or pid_alive(int(pid_text)):
            continue
        shutil.rmtree(os.path.join(base, name), ignore_errors=True)


@contextmanager
def capture_output(directory: str | None = None) -> Iterator[Captured]:
    """Capture C-level writes to fd 1 and 2 (Blender's prints) into `Captured.text`."""
    libc = ctypes.CDLL(None)
    result = Captured()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    libc.fflush(None)
    saved = (os.dup(1), os.dup(2))
    with tempfile.TemporaryFile(dir=directory) as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield result
        finally:
            for stream in (sys.stdout, sys.stderr):
                stream.flush()
            libc.fflush(None)
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
            sink.seek(0)
            result.text = sink.read().decode("utf-8", "replace")


class BlenderRenderer:
    """One scene, one character at a time, rendering THA1-framed RGBA PNGs."""

    def __init__(
        self,
        *,
        image_size: int = 256,
        engine: str = "CYCLES",
        device: str = "CPU",
        samples: int = 4,
        threads: int = 0,
        log: Callable[[str], None] | None = None,
        split_static: bool = True,
    ) -> None:
        self.image_size = int(image_size)
        self.blender_version = ""  # set by make_renderer (render/scene/renderer.py)
        self.framing_preset = "tha1"  # render/framing/presets.py; set per character
        self.split_static = bool(split_static)
        self.static: bpy.types.Object | None = None  # the character's split-off never-moving faces
        self.parts: list[MeshPart] = []  # its mesh objects and their model triangles (eyebrow_layer.py)
        self.log = log
        self.warnings: list[str] = []
        self.character: ImportedModel | None = None
        self.rig: RigReport | None = None
        self.preset, self.ambient, self.diffuse = "phong", 0.5, 0.5
        self._head = (np.zeros(3), 1.0)  # framed head centre (world) and height (m)
        self._tmp = _private_tmp()
        with capture_output(self._tmp) as out:
            bpy.ops.wm.read_factory_settings(use_empty=True)
        self._emit(out.text)
        self.scene = bpy.context.scene
        self._setup_render(engine, device, samples, threads)
        self._setup_camera()

    # ----------------------------------------------------------------- setup
    def _emit(self, text: str) -> None:
        if text and self.log is not None:
            self.log(text)

    def _warn(self, message: str) -> None:
        self.warnings.append(message)
        self._emit(f"thagen warning: {message}\n")

    def _setup_render(self, engine: str, device: str, samples: int, threads: int) -> None:
        scene, render = self.scene, self.scene.render
        render.engine = engine
        render.resolution_x = render.resolution_y = self.image_size
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
        render.filepath = os.path.join(self._tmp, "frame.png")
        if engine != "CYCLES":
            return
        cycles = scene.cycles
        cycles.samples = int(samples)
        cycles.use_adaptive_sampling = False
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
            if self._enable_gpu():
                cycles.device = "GPU"
            else:
                self._warn("no usable GPU for Cycles; rendering on the CPU")

    def _enable_gpu(self) -> bool:
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

    def _setup_camera(self) -> None:
        data = bpy.data.cameras.new("thagen_camera")
        data.type = "ORTHO"
        data.clip_start = 0.01
        data.clip_end = 2.0 * CAMERA_DISTANCE + 10.0
        camera = bpy.data.objects.new("thagen_camera", data)
        camera.rotation_euler = (math.pi / 2.0, 0.0, 0.0)  # look along +Y, up +Z
        self.scene.collection.objects.link(camera)
        self.scene.camera = camera
        self.camera = camera

    def set_image_size(self, size: int) -> None:
        """Change the square output size; the framing (rows size/4 and 3*size/4) scales with it."""
        self.image_size = int(size)
        self.scene.render.resolution_x = self.scene.render.resolution_y = self.image_size

    # ----------------------------------------------------------------- character
    def load_character(
        self,
        model: Model,
        rig: RigReport | None,
        model_path: Path | None = None,
        shading: str | None = None,
        *,
        all_morphs: bool = False,
    ) -> ImportedModel:
        """Import a character (replacing the current one); shading defaults to the current preset.

        Only the morphs the rig's roles drive become shape keys unless `all_morphs`: the others
        would never be set, and each one costs import time and geometry to split.
        """
        self.unload_character()
        driven = None
        if not all_morphs and rig is not None:
            driven = {name for role in MORPH_ROLES if (name := rig.morph_for(role))}
            if rig.extended is not None:  # THA2 / THA3: every parameter's morph
                driven |= rig.extended.morph_names()
        with capture_output(self._tmp) as out:
            self.character = import_model(
                model, rig=rig, model_path=model_path, shading=shading or self.preset, morphs=driven
            )
            static_faces = None
            if self.split_static:
                try:
                    self.static, static_faces = split_static_geometry(self.character, model, rig)
                except BaseException:
                    self.unload_character()
                    raise
            self.parts = mesh_parts(model, self.character.mesh, self.static, static_faces)
        self._emit(out.text)
        self.rig = rig
        if shading is not None:
            self.preset = shading
        return self.character

    def unload_character(self) -> None:
        if self.character is not None:
            with capture_output(self._tmp) as out:
                try:
                    remove_static(self.static)
                    self.character.remove()
                except ReferenceError:  # the scene was reset under us: nothing left to remove
                    pass
            self._emit(out.text)
        self.character, self.rig, self.static, self.parts = None, None, None, []

    # ----------------------------------------------------------------- camera
    def frame(
        self, head_top_mmd: np.ndarray, chin_mmd: np.ndarray, center_x_mmd: float | None = None
    ) -> None:
        """THA1 framing: head top at row size/4, chin tip at row 3*size/4, centred on the head."""
        top = mmd_to_blender(np.asarray(head_top_mmd, np.float64).reshape(3))
        chin = mmd_to_blender(np.asarray(chin_mmd, np.float64).reshape(3))
        height = float(top[2] - chin[2])
        if not height > 0:
            raise RenderError(f"head top (z={top[2]:.4f} m) must be above the chin (z={chin[2]:.4f} m)")
        x = (
            0.5 * (top[0] + chin[0])
            if center_x_mmd is None
            else float(mmd_to_blender(np.array([center_x_mmd, 0.0, 0.0]))[0])
        )
        z = 0.5 * (top[2] + chin[2])
        self.camera.data.ortho_scale = 2.0 * height
        self.camera.location = (x, -CAMERA_DISTANCE, z)
        preset = self.framing_preset
        if preset != "tha1":  # e.g. THA3's input framing (render/framing/presets.py)
            self.camera.data.ortho_scale, camera_z = preset_camera(preset, height, z)
            self.camera.location = (x, -CAMERA_DISTANCE, camera_z)
        self._head = (np.array([x, 0.5 * (top[1] + chin[1]), z]), height)
        bpy.context.view_layer.update()
        if self.preset == "point":
            self.set_lighting(self.preset, self.ambient, self.diffuse)

    def project(self, points_mmd: np.ndarray) -> np.ndarray:
        """(N, 2) pixel coordinates (column, row; row 0 at the top edge) of MMD points."""
        world = mmd_to_blender(np.asarray(points_mmd, np.float64).reshape(-1, 3))
        inverse = np.linalg.inv(np.array(self.camera.matrix_basis))  # no parent: = matrix_world, but current
        local = (inverse[:3, :3] @ world.T).T + inverse[:3, 3]
        scale = self.camera.data.ortho_scale
        size = self.image_size
        return np.stack(
            [size / 2 + local[:, 0] / scale * size, size / 2 - local[:, 1] / scale * size], axis=1
        )

    # ----------------------------------------------------------------- lighting and pose
    def set_lighting(self, preset: str = "phong", ambient: float = 0.5, diffuse: float = 0.5) -> None:
        """Switch the preset (rebuilds material tails only when it changes) and the light values."""
        apply_lighting(self.scene, self.camera, self.character, preset, ambient, diffuse, *self._head)
        self.preset, self.ambient, self.diffuse = preset, float(ambient), float(diffuse)

    def set_pose(
        self,
        pose: Mapping[str, float],
        *,
        imported: ImportedModel | None = None,
        rig: RigReport | None = None,
        max_degrees: float = 15.0,
    ) -> None:
        """Drive the eye/mouth shape keys and the head/neck rotations for a THA1 pose dict."""
        imported = imported or self.character
        rig = rig or self.rig
        if imported is None or rig is None:
            raise RenderError("set_pose needs a loaded character and its rig report")
        apply_pose(imported, rig, pose, max_degrees=max_degrees)

    def texture_misses(self) -> list[TextureMiss]:
        """The loaded character's missing texture files, per material (its import report)."""
        return list(self.character.report.texture_misses) if self.character is not None else []

    def render_material_mask(self, colors: Mapping[int, tuple[float, float, float]]) -> bytes:
        """The current pose with material i as flat `colors[i]`, the rest held out (material_mask.py)."""
        return render_material_mask(self.character, colors, self.render_png)

    def render_layer(self, which: str) -> bytes:
        """The current pose as THA3's `eyebrow_layer` or `no_eyebrow` image (eyebrow_layer.py)."""
        return render_eyebrow_layer(self.character, self.parts, self.rig, which, self.render_png)

    def render_png(self) -> bytes:
        """Render the current state and return the PNG bytes."""
        path = self.scene.render.filepath
        with capture_output(self._tmp) as out:
            try:
                result = bpy.ops.render.render(write_still=True)
            except RuntimeError as exc:
                raise RenderError(f"Blender render failed: {exc}") from exc
        self._emit(out.text)
        if "FINISHED" not in result or not os.path.isfile(path):
            raise RenderError(f"Blender render did not write {path}: {out.text[-500:]}")
        with open(path, "rb") as f:
            data = f.read()
        os.unlink(path)
        return strip_png_text(data)

    def close(self) -> None:
        self.unload_character()
        for name in os.listdir(self._tmp):
            os.unlink(os.path.join(self._tmp, name))
        os.rmdir(self._tmp)


def apply_pose(
    imported: ImportedModel, rig: RigReport, pose: Mapping[str, float], *, max_degrees: float = 15.0
) -> None:
    """Shape keys via rig.morph_for(role), rotations via posing.rotation_matrices: no rebuild."""
    names = {role: name for role in MORPH_ROLES if (name := rig.morph_for(role))}
    available = list(names)
    for role, weight in eye_morph_weights(pose, available).items():
        imported.set_morph(names[role], weight)
    rotations = rotation_matrices(pose, max_degrees=max_degrees)
    for role in ("head", "neck"):
        bone = rig.bone_for(role)
        if bone is None:
            if np.allclose(rotations[role], np.eye(3)):
                continue
            raise RigError(f"the rig has no {role} bone to rotate")
        imported.set_bone_rotation(bone, rotations[role])
    if rig.extended is not None and is_vector_pose(pose):
        targets = vector_targets(pose, rig.extended)
        for name, weight in targets.morphs.items():
            imported.set_morph(name, weight)
        for bone, rotation in targets.bones.items():
            imported.set_bone_rotation(bone, rotation)
