"""Lighting presets for the render scene.

- 'phong' (THA1): one white directional light along the view direction (N.L = the normal's
  component toward the camera) plus white ambient: colour = base * (ambient + diffuse * max(N.L, 0)).
  Emission only, so noise-free: samples only anti-alias the edges.
- 'toon' (MMD look): the model's toon ramps looked up by N.L with MMD's default light direction
  (from above, in front, from the character's left), sphere maps multiplied/added; emission only.
- 'point' (DMV): two point lights placed around the framed head (POINT_LIGHTS), evaluated in
  the node tree, not as Blender lights: per light, N.L toward the light from the shading point
  looks up the toon ramp (Lambert max(N.L, 0) for materials without one), weighted by the light's
  share and an inverse-square falloff normalised at the head centre (POINT_FALLOFF); summed, plus
  ambient, times the texture colour. Emission only, so noise-free like the other presets.

Ambient, diffuse and the light positions live in one shared node group, so changing them per
image (or re-framing) is cheap: no material is rebuilt.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import bpy
import numpy as np

from thagen.rigs.blender.lighting import set_light_values, set_point_lights

if TYPE_CHECKING:
    from thagen.rigs.blender.imported import ImportedModel

PRESETS = ("phong", "toon", "point")
PHONG_LIGHT = (0.0, 0.0, 1.0)  # camera space: from the camera onto the face
# MMD's default light travels along (-0.5, -1, 0.5) in MMD axes; toward the light, in camera
# space (x = viewer's right = character's left, y up, z toward the camera):
MMD_LIGHT = (0.5, 1.0, 0.5)
POINT_LIGHT_PREFIX = "thagen_point_light"  # Blender light objects of older thagen versions
# Point lights, as (right, up, toward camera) offsets in units of the framed head height, and
# their share of the diffuse strength: a key light at the viewer's upper left, a weaker fill at
# the right.
POINT_LIGHTS = (((-1.5, 1.5, 4.0), 0.75), ((2.0, 0.5, 3.0), 0.35))
# Distance falloff exponent: 2 = inverse square, normalised so the head centre gets each light's
# share. The key light then varies by about +-7% across the head and is a quarter weaker on the
# chest 1.5 head heights below: a gentle gradient, not a spotlight.
POINT_FALLOFF = 2.0


def remove_point_lights() -> None:
    """Delete Blender point lights that older versions of the 'point' preset added (harmless
    when there are none)."""
    for obj in [o for o in bpy.data.objects if o.name.startswith(POINT_LIGHT_PREFIX)]:
        light = obj.data
        bpy.data.objects.remove(obj)
        if light is not None and light.users == 0:
            bpy.data.lights.remove(light)


def point_light_positions(camera: bpy.types.Object, target: np.ndarray, head_height: float) -> np.ndarray:
    """(N, 3) world positions of POINT_LIGHTS around the camera's view of the head (`target`)."""
    axes = np.array(camera.matrix_basis)[:3, :3]  # columns: camera right, up, toward the camera
    offsets = np.array([offset for offset, _ in POINT_LIGHTS], np.float64) * float(head_height)
    return np.asarray(target, np.float64).reshape(1, 3) + offsets @ axes.T


def apply_lighting(
    scene: bpy.types.Scene,
    camera: bpy.types.Object,
    imported: ImportedModel | None,
    preset: str,
    ambient: float,
    diffuse: float,
    target: np.ndarray,
    head_height: float,
) -> None:
    """Switch the character's materials to a preset and set the shared light values (the point
    lights follow the framing: `target` is the framed head centre, `head_height` its height)."""
    if preset not in PRESETS:
        raise ValueError(f"lighting preset must be one of {PRESETS}, not {preset!r}")
    axes = np.array(camera.matrix_basis)[:3, :3]
    set_light_values(ambient, diffuse, MMD_LIGHT if preset == "toon" else PHONG_LIGHT, axes)
    positions = point_light_positions(camera, target, head_height)
    shares = np.array([share for _, share in POINT_LIGHTS], np.float64)
    set_point_lights(positions, shares, target, POINT_FALLOFF)
    if imported is not None:
        imported.set_shading(preset)
    remove_point_lights()
