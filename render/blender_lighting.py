"""Lighting presets for the render scene.

- 'phong' (THA1): one white directional light along the view direction (N.L = the normal's
  component toward the camera) plus white ambient: colour = base * (ambient + diffuse * max(N.L, 0)).
  Emission only, so noise-free: samples only anti-alias the edges.
- 'toon' (MMD look): the model's toon ramps looked up by N.L with MMD's default light direction
  (from above, in front, from the character's left), sphere maps multiplied/added; emission only.
- 'point' (DMV): real point lights on Diffuse BSDF materials plus an ambient emission term.
  Real lights are sampled, so low sample counts are visibly noisy; use >= 16 samples.

Ambient and diffuse live in one shared node group, so changing them per image is cheap.
"""

from __future__ import annotations

import math

import bpy
import numpy as np

from thagen.rigs.blender_materials import set_light_values

PRESETS = ("phong", "toon", "point")
PHONG_LIGHT = (0.0, 0.0, 1.0)  # camera space: from the camera onto the face
# MMD's default light travels along (-0.5, -1, 0.5) in MMD axes; toward the light, in camera
# space (x = viewer's right = character's left, y up, z toward the camera):
MMD_LIGHT = (0.5, 1.0, 0.5)
POINT_LIGHT_PREFIX = "thagen_point_light"
# Point lights, as (right, up, toward camera) offsets in units of the framed head height, and
# their share of the diffuse strength.
POINT_LIGHTS = (((-1.5, 1.5, 4.0), 0.75), ((2.0, 0.5, 3.0), 0.35))


def remove_point_lights() -> None:
    for obj in [o for o in bpy.data.objects if o.name.startswith(POINT_LIGHT_PREFIX)]:
        light = obj.data
        bpy.data.objects.remove(obj)
        if light is not None and light.users == 0:
            bpy.data.lights.remove(light)


def add_point_lights(
    scene: bpy.types.Scene, camera: bpy.types.Object, target: np.ndarray, head_height: float, diffuse: float
) -> None:
    """Point lights around the camera's view of the head (`target`, world), bright enough that a
    white surface facing the key light renders at about `diffuse * share`."""
    remove_point_lights()
    axes = np.array(camera.matrix_basis)[:3, :3]  # columns: camera right, up, toward the camera
    for i, (offset, share) in enumerate(POINT_LIGHTS):
        position = np.asarray(target, np.float64) + axes @ (np.asarray(offset) * head_height)
        distance = float(np.linalg.norm(position - target))
        light = bpy.data.lights.new(f"{POINT_LIGHT_PREFIX}_{i}", "POINT")
        # Cycles: a point light of power P gives irradiance P / (4 pi^2 d^2) at distance d, and
        # a white diffuse surface facing it renders at that value.
        light.energy = float(diffuse * share * 4.0 * math.pi**2 * distance**2)
        light.shadow_soft_size = 0.05 * head_height
        obj = bpy.data.objects.new(light.name, light)
        obj.location = position.tolist()
        scene.collection.objects.link(obj)


def apply_lighting(
    scene: bpy.types.Scene,
    camera: bpy.types.Object,
    imported,
    preset: str,
    ambient: float,
    diffuse: float,
    target: np.ndarray,
    head_height: float,
) -> None:
    """Switch the character's materials and the scene's lights to a preset."""
    if preset not in PRESETS:
        raise ValueError(f"lighting preset must be one of {PRESETS}, not {preset!r}")
    axes = np.array(camera.matrix_basis)[:3, :3]
    set_light_values(ambient, diffuse, MMD_LIGHT if preset == "toon" else PHONG_LIGHT, axes)
    if imported is not None:
        imported.set_shading(preset)
    if preset == "point":
        add_point_lights(scene, camera, target, head_height, diffuse)
    else:
        remove_point_lights()
