"""Where the head sits in the image: THA1's framing and THA3's input framing (pure, no bpy).

======== ============ ===================================================================
preset   image        head (top of the skull to the chin tip)
======== ============ ===================================================================
tha1     256 x 256    rows size/4 .. 3 size/4 (the middle 128 px strip), centred on the head
tha3     512 x 512    inside the 128 x 128 box in the middle of the top half: rows size/8 ..
                      3 size/8 (64 .. 192 at 512), columns centred (192 .. 320 at 512); the
                      body below shows to the waist, as THA3's demo expects its input
======== ============ ===================================================================

The framing estimate / annotation (head top and chin) is the same for both; only the camera's
orthographic scale and height change. QA checks the rows of the preset used.
"""

from __future__ import annotations

from dataclasses import dataclass

from thagen.errors import ConfigError


@dataclass(frozen=True)
class FramingPreset:
    name: str
    head_fraction: float  # head height / image height
    head_centre_row: float  # the head's centre row / image height
    default_size: int


FRAMING_PRESETS = {
    "tha1": FramingPreset("tha1", 0.5, 0.5, 256),
    "tha3": FramingPreset("tha3", 0.25, 0.25, 512),
}


def framing_preset(name: str) -> FramingPreset:
    if name not in FRAMING_PRESETS:
        raise ConfigError(f"unknown framing preset {name!r}; expected one of {', '.join(FRAMING_PRESETS)}")
    return FRAMING_PRESETS[name]


def preset_camera(name: str, head_height: float, head_centre_z: float) -> tuple[float, float]:
    """(orthographic scale, camera height) that put a head of this height and centre where the
    preset wants it (both in the same units, Blender metres in the renderer)."""
    p = framing_preset(name)
    scale = head_height / p.head_fraction
    # the image centre is at the camera; the head centre sits (0.5 - row) of the image above it
    return scale, head_centre_z - (0.5 - p.head_centre_row) * scale


def preset_rows(name: str, size: int) -> dict[str, float]:
    """Pixel rows of the head top and chin and the head's centre column for a preset."""
    p = framing_preset(name)
    half = 0.5 * p.head_fraction * size
    centre = p.head_centre_row * size
    return {"head_top": centre - half, "chin": centre + half, "center_x": size / 2.0}
