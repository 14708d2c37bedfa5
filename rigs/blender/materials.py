"""MMD materials as Cycles node materials: the entry point that makes one Blender material each.

Picks each material's images (diffuse texture, sphere map, toon ramp) from an `ImageCache`
(`textures`), records them in a `MaterialSpec` and builds its node tree for the chosen preset
(`shading`); `set_shading` later swaps every tree to another preset without reloading images.
The materials all read the shared lighting group (`lighting`). VRM / glTF materials follow
their alphaMode and cutoff and, without a toon texture, get a toon ramp from their MToon shade
colour.
"""

from __future__ import annotations

import bpy
import numpy as np

from thagen.rigs.blender.shading import SHADINGS, MaterialSpec, build_tree
from thagen.rigs.blender.textures import ImageCache
from thagen.rigs.model import Model


def build_materials(model: Model, images: ImageCache, shading: str, prefix: str) -> list[MaterialSpec]:
    """One Blender material per MMD material, in order."""
    if shading not in SHADINGS:
        raise ValueError(f"shading must be one of {SHADINGS}, not {shading!r}")
    specs = []
    for i, mmd in enumerate(model.materials):
        material = bpy.data.materials.new(f"{prefix}_{i:03d}_{mmd.name}"[:63])
        material.use_nodes = True
        material.use_backface_culling = not mmd.double_sided
        material.cycles.emission_sampling = "NONE"  # emissive triangles are not lights: 2.5-4x faster
        if mmd.toon_shared:
            toon = images.shared_toon(mmd.toon_index)
        else:
            toon = images.optional(mmd.toon_index, "toon", i)
        sphere = None
        if mmd.sphere_mode in (1, 2):
            sphere = images.optional(mmd.sphere_texture, "sphere", i)
        diffuse = np.clip(np.asarray(mmd.diffuse, np.float64).reshape(-1)[:4], 0.0, None)
        vrm = model.vrm.materials[i] if model.vrm is not None and i < len(model.vrm.materials) else None
        if vrm is not None and toon is None and vrm.shade_color is not None:
            toon = images.mtoon_ramp(i, vrm.shade_color, diffuse[:3])
        spec = MaterialSpec(
            material=material,
            diffuse=(float(diffuse[0]), float(diffuse[1]), float(diffuse[2]), float(min(diffuse[3], 1.0))),
            double_sided=mmd.double_sided,
            texture=images.texture(mmd.texture, i),
            sphere=sphere,
            sphere_mode=mmd.sphere_mode,
            toon=toon,
        )
        if vrm is not None:
            spec.alpha_mode, spec.alpha_cutoff = vrm.alpha_mode, float(vrm.alpha_cutoff)
        build_tree(spec, shading)
        specs.append(spec)
    return specs


def set_shading(specs: list[MaterialSpec], shading: str) -> None:
    """Rebuild every material's nodes for another preset (images are kept)."""
    if shading not in SHADINGS:
        raise ValueError(f"shading must be one of {SHADINGS}, not {shading!r}")
    for spec in specs:
        build_tree(spec, shading)
