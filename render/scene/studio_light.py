"""Workbench's stand-in for the `phong` light: a studio light written at run time.

Workbench cannot evaluate node trees, but its studio lighting is exactly phong's model when
set up right: colour = base x (ambient + sum over lights of colour_i x max(N.L_i, 0)) with the
lights in view space, no specular and no wrap (`smooth` 0), up to the constant FAST_RCP_ONE. One light along the view direction
(toward the camera, `vec` (0, 0, 1)) with colour `diffuse` and ambient `ambient` is THA1's
light. Studio lights live in .sl files, so each (ambient, diffuse) pair gets one, written into
a private temp folder and loaded through `bpy.context.preferences.studio_lights`; a per-image
ambient (`lighting.ambient_range`) loads one per value, and the previous one is removed, so
the loaded set stays small. Nothing is written into the user's Blender configuration.
"""

from __future__ import annotations

import os
import shutil
import struct
import tempfile

import bpy

from thagen.errors import RenderError

PREFIX = "thagen_phong"
# Workbench's shader divides the wrapped N.L by (1 + smooth)^2 through a bit-trick reciprocal,
# fast_rcp(x) = intBitsToFloat(0x7eef370b - floatBitsToInt(x)) ([Drobot2014a]), which for 1.0
# gives 0.93444, not 1: its diffuse term comes out 6.6% dark (measured on Gene: 0.935). The light's
# colour is divided by that factor so the term is phong's diffuse x max(N.L, 0) again.
FAST_RCP_ONE = struct.unpack("<f", struct.pack("<I", 0x7EEF370B - 0x3F800000))[0]
# The other three of Workbench's four studio lights, switched off.
_UNUSED = "".join(
    f"light[{i}].flag 0\nlight[{i}].smooth 0.0\n"
    + "".join(f"light[{i}].{part}.{axis} 0.0\n" for part in ("col", "spec") for axis in "xyz")
    + f"light[{i}].vec.x 0.0\nlight[{i}].vec.y 0.0\nlight[{i}].vec.z 1.0\n"
    for i in (1, 2, 3)
)


def studio_light_text(ambient: float, diffuse: float) -> str:
    """The .sl file of phong's light: white ambient plus one white light along the view."""
    a, d = float(ambient), float(diffuse) / FAST_RCP_ONE
    lines = ["version 1"]
    lines += [f"light_ambient.{axis} {a:.9g}" for axis in "xyz"]
    lines += ["light[0].flag 1", "light[0].smooth 0.0"]
    lines += [f"light[0].col.{axis} {d:.9g}" for axis in "xyz"]
    lines += [f"light[0].spec.{axis} 0.0" for axis in "xyz"]
    lines += ["light[0].vec.x 0.0", "light[0].vec.y 0.0", "light[0].vec.z 1.0"]
    return "\n".join(lines) + "\n" + _UNUSED


class StudioLight:
    """The scene's current phong studio light; `set` loads a new one only when values change."""

    def __init__(self, scene: bpy.types.Scene) -> None:
        self.scene = scene
        self._dir = tempfile.mkdtemp(prefix="thagen-studio-")
        self._loaded: bpy.types.StudioLight | None = None
        self._values: tuple[float, float] | None = None
        self._count = 0

    def set(self, ambient: float, diffuse: float) -> None:
        """Light the Workbench render with phong's `ambient` and `diffuse` (cheap when unchanged)."""
        values = (float(ambient), float(diffuse))
        if values == self._values:
            return
        self._count += 1
        path = os.path.join(self._dir, f"{PREFIX}_{os.getpid()}_{self._count}.sl")
        with open(path, "w", encoding="ascii") as f:
            f.write(studio_light_text(*values))
        lights = bpy.context.preferences.studio_lights
        light = lights.load(path, "STUDIO")
        if light is None:
            raise RenderError(f"Blender could not load the studio light {path}")
        self.scene.display.shading.studio_light = light.name
        self._drop()
        self._loaded, self._values = light, values

    def _drop(self) -> None:
        if self._loaded is not None:
            path = self._loaded.path
            bpy.context.preferences.studio_lights.remove(self._loaded)
            self._loaded = None
            if path and os.path.isfile(path):
                os.unlink(path)

    def close(self) -> None:
        """Unload the light and remove its folder."""
        self._drop()
        self._values = None
        shutil.rmtree(self._dir, ignore_errors=True)
