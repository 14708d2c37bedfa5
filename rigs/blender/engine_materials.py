"""What the rasterizing engines need of the materials beyond the node trees.

- EEVEE renders the node trees themselves (rigs/blender/shading.py). Its materials draw
  `DITHERED` (EEVEE's default): transparency is a random per-sample cut that the TAA samples
  average, as Cycles' samples do, so cut-outs and see-through overlays converge on Cycles'
  look; `BLENDED` would sort whole objects, not fragments, and get overlaps within the one
  character mesh wrong. Per-material back-face culling is the material's own flag.
- Workbench ignores node trees. Its texture colour mode shows the active image node's image
  as the base colour (not multiplied by anything) and cuts at its alpha; materials without a
  texture show `diffuse_color`, whose alpha below 1 makes them see-through. So each material
  gets `diffuse_color` = its MMD diffuse colour and alpha, and a textured one a display image
  (`MaterialSpec.display_image`): the texture itself when the diffuse colour is white (the
  usual case), else a copy multiplied by it in linear light, as the phong tree does.
"""

from __future__ import annotations

import bpy
import numpy as np

from thagen.rigs.blender.shading import MaterialSpec, build_tree

ALPHA_CUTOFF = 0.5  # Workbench: texture alpha below this is cut, above drawn opaque


def prepare_materials(specs: list[MaterialSpec], engine: str, shading: str) -> list[bpy.types.Image]:
    """Set the materials up for `engine` (cycles, eevee, workbench); returns images it made."""
    made: list[bpy.types.Image] = []
    for spec in specs:
        material = spec.material
        if engine == "eevee":
            material.surface_render_method = "DITHERED"
        elif engine == "workbench":
            r, g, b, a = spec.diffuse
            material.diffuse_color = (r, g, b, a)
            material.blend_method = "CLIP"
            material.alpha_threshold = ALPHA_CUTOFF
            if spec.texture is not None:
                if (r, g, b) == (1.0, 1.0, 1.0):
                    spec.display_image = spec.texture
                else:
                    spec.display_image = tinted_copy(spec.texture, (r, g, b), material.name)
                    made.append(spec.display_image)
                build_tree(spec, shading)
    return made


def _to_linear(srgb: np.ndarray) -> np.ndarray:
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)


def _to_srgb(linear: np.ndarray) -> np.ndarray:
    linear = np.clip(linear, 0.0, 1.0)
    return np.where(linear <= 0.0031308, linear * 12.92, 1.055 * linear ** (1.0 / 2.4) - 0.055)


def tinted_copy(image: bpy.types.Image, rgb: tuple[float, float, float], name: str) -> bpy.types.Image:
    """`image` times a linear RGB colour, as a new packed sRGB image (alpha kept)."""
    width, height = (int(v) for v in image.size)
    pixels = np.empty(width * height * 4, np.float32)
    image.pixels.foreach_get(pixels)
    pixels = pixels.reshape(-1, 4)
    color = pixels[:, :3].astype(np.float64)
    if image.colorspace_settings.name == "sRGB" and not image.is_float:
        color = _to_srgb(_to_linear(color) * np.asarray(rgb)[None, :])
    else:
        color = color * np.asarray(rgb)[None, :]
    pixels[:, :3] = color
    copy = bpy.data.images.new(f"{name}_workbench"[:63], width, height, alpha=True)
    copy.colorspace_settings.name = image.colorspace_settings.name
    copy.alpha_mode = "STRAIGHT"
    copy.pixels.foreach_set(pixels.ravel())
    copy.pack()
    return copy
