"""THA1 pose vectors as rotations and morph weights (pure numpy, no bpy).

Axes
----
*MMD* is left-handed, Y up, about 12.5 units per metre; a character faces -Z and MMD +X is the
character's own LEFT. *Blender* is right-handed, Z up, metres. `mmd_to_blender` maps
``(x, y, z)_blender = MMD_SCALE * (x, z, y)_mmd`` with ``MMD_SCALE = 0.08`` (1 MMD unit = 8 cm),
so a character stands at real-world size and Blender's defaults (clip distances, light units,
bone display sizes) stay sensible. Swapping two axes mirrors handedness, so the importer reverses
every triangle's vertex order to keep normals outward. The character then faces -Y and Blender
+X stays the character's LEFT, which a camera at -Y shows on the viewer's RIGHT.

*Character axes* (THA1): x toward the character's left, y up, z toward the front (the camera).
In Blender world axes that is x -> +X, y -> +Z, z -> -Y (`CHAR_TO_BLENDER`, a proper rotation).

Pose vector and signs (thagen's choices; degrees scale linearly with ``max_degrees``, 15 in THA1)
---------------------------------------------------------------------------------------------------
=========== ======= ==================================================================
name        range   meaning
=========== ======= ==================================================================
left_eye    0..1    character's LEFT eye: 0 open, 1 closed (eye-close morph weight)
right_eye   0..1    character's RIGHT eye, the same
mouth       0..1    0 closed, 1 open (mouth-open morph weight, MMD ``あ``)
head_x      -1..1   at the head bone: +1 tilts the head UP (the face looks up; on screen
                    the face features move up)
head_y      -1..1   at the head bone: +1 turns the face toward the character's LEFT, i.e.
                    the viewer's RIGHT (the nose moves to the image's right)
neck_z      -1..1   at the neck bone: +1 tilts the head toward the character's LEFT
                    shoulder (the top of the head moves to the image's right)
=========== ======= ==================================================================

Rule of thumb: every positive value moves the face up or to the image's right::

        the rendered image (camera in front of the character)
        +------------------------------------------------+
        |            head_x +1: features move up  ^      |
        |                                         |      |
        |   (R eye)   (L eye)   head_y +1:  --> nose moves right
        |     character's RIGHT | character's LEFT       |
        |      = viewer's left  | = viewer's right       |
        |   neck_z +1: head top swings to the right,     |
        |              clockwise on screen  (\\ -> /)    |
        +------------------------------------------------+
As rotations about the character axes (right-hand rule): head_x = +1 is -15 deg about x,
head_y = +1 is +15 deg about y, neck_z = +1 is -15 deg about z. The head rotation is
``R_y(head_y) @ R_x(head_x)`` (tilt, then turn, both about axes fixed to the neck), and it is
relative to the neck's posed frame, as in a bone hierarchy.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import numpy as np

from thagen.rigs.coordinates import (  # noqa: F401 - re-exported for render code
    CHAR_TO_BLENDER,
    MMD_SCALE,
    MMD_TO_BLENDER,
    axis_rotation,
    blender_to_mmd,
    char_rotation_to_blender,
    matrix_to_quat,
    mmd_rotation_to_blender,
    mmd_to_blender,
    quat_to_matrix,
    slerp_identity,
)

POSE_KEYS = ("left_eye", "right_eye", "mouth", "head_x", "head_y", "neck_z")
EYE_ROLES = ("eye_close_left", "eye_close_right", "eye_close_both")


def _value(pose: Mapping[str, float], key: str, low: float, high: float) -> float:
    v = float(pose.get(key, 0.0))
    if not np.isfinite(v) or v < low - 1e-6 or v > high + 1e-6:
        raise ValueError(f"pose value {key}={v} outside [{low}, {high}]")
    return min(max(v, low), high)


def rotation_matrices(pose: Mapping[str, float], max_degrees: float = 15.0) -> dict[str, np.ndarray]:
    """{'head': R, 'neck': R}: 3x3 rotations in character axes about the bones' joints."""
    hx = _value(pose, "head_x", -1.0, 1.0)
    hy = _value(pose, "head_y", -1.0, 1.0)
    nz = _value(pose, "neck_z", -1.0, 1.0)
    head = axis_rotation("y", hy * max_degrees) @ axis_rotation("x", -hx * max_degrees)
    neck = axis_rotation("z", -nz * max_degrees)
    return {"head": head, "neck": neck}


def eye_morph_weights(
    pose: Mapping[str, float], available: Collection[str] | None = None
) -> dict[str, float]:
    """Morph-role weights for a pose: eye value e -> eye-close weight e, mouth m -> mouth_open m.

    `available` is the set of roles the rig fills (None: all). Per-side closes win when the
    rig has them (the both-eyes blink then stays 0, so it never adds to them). A rig with only
    a both-eyes blink gets the mean of the two eye values; a sampler should keep left == right
    for such rigs, since one blink cannot show two different eyes.
    """
    roles = set(EYE_ROLES + ("mouth_open",)) if available is None else set(available)
    left = _value(pose, "left_eye", 0.0, 1.0)
    right = _value(pose, "right_eye", 0.0, 1.0)
    out: dict[str, float] = {}
    has_left, has_right = "eye_close_left" in roles, "eye_close_right" in roles
    if has_left:
        out["eye_close_left"] = left
    if has_right:
        out["eye_close_right"] = right
    if "eye_close_both" in roles:
        if has_left and has_right:
            out["eye_close_both"] = 0.0
        elif has_left:
            out["eye_close_both"] = right
        elif has_right:
            out["eye_close_both"] = left
        else:
            out["eye_close_both"] = 0.5 * (left + right)
    if "mouth_open" in roles:
        out["mouth_open"] = _value(pose, "mouth", 0.0, 1.0)
    return out
