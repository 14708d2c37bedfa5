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

MMD_SCALE = 0.08  # metres per MMD unit
# blender = MMD_SCALE * mmd @ MMD_TO_BLENDER.T  (a reflection: det = -1)
MMD_TO_BLENDER = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
# columns: character x, y, z in Blender world axes (a rotation: det = +1)
CHAR_TO_BLENDER = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])

POSE_KEYS = ("left_eye", "right_eye", "mouth", "head_x", "head_y", "neck_z")
EYE_ROLES = ("eye_close_left", "eye_close_right", "eye_close_both")


def mmd_to_blender(points: np.ndarray, scale: float = MMD_SCALE) -> np.ndarray:
    """MMD positions (..., 3) to Blender world positions (float64). Use scale=1 for directions."""
    p = np.asarray(points, np.float64)
    return np.stack([p[..., 0], p[..., 2], p[..., 1]], axis=-1) * scale


def blender_to_mmd(points: np.ndarray, scale: float = MMD_SCALE) -> np.ndarray:
    """Inverse of `mmd_to_blender`."""
    p = np.asarray(points, np.float64) / scale
    return np.stack([p[..., 0], p[..., 2], p[..., 1]], axis=-1)


def mmd_rotation_to_blender(r_mmd: np.ndarray) -> np.ndarray:
    """A 3x3 rotation written in MMD axes, as the same physical rotation in Blender axes."""
    return MMD_TO_BLENDER @ np.asarray(r_mmd, np.float64) @ MMD_TO_BLENDER.T


def char_rotation_to_blender(r_char: np.ndarray) -> np.ndarray:
    """A 3x3 rotation written in character axes, as the same rotation in Blender world axes."""
    return CHAR_TO_BLENDER @ np.asarray(r_char, np.float64) @ CHAR_TO_BLENDER.T


def axis_rotation(axis: str, degrees: float) -> np.ndarray:
    """Right-handed rotation about a coordinate axis ('x', 'y' or 'z')."""
    t = np.radians(degrees)
    c, s = np.cos(t), np.sin(t)
    if axis == "x":
        return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    if axis == "y":
        return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    if axis == "z":
        return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    raise ValueError(f"axis must be 'x', 'y' or 'z', not {axis!r}")


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


def slerp_identity(q_wxyz: np.ndarray, weight: float) -> np.ndarray:
    """Quaternion (w, x, y, z) scaled by weight: slerp from identity, used for bone morphs."""
    q = np.asarray(q_wxyz, np.float64)
    q = q / np.linalg.norm(q)
    if q[0] < 0:
        q = -q
    angle = 2.0 * np.arccos(np.clip(q[0], -1.0, 1.0))
    s = np.sin(angle / 2.0)
    if s < 1e-12:
        return np.array([1.0, 0.0, 0.0, 0.0])
    axis = q[1:] / s
    half = angle * weight / 2.0
    return np.concatenate([[np.cos(half)], axis * np.sin(half)])


def quat_to_matrix(q_wxyz: np.ndarray) -> np.ndarray:
    w, x, y, z = np.asarray(q_wxyz, np.float64) / np.linalg.norm(q_wxyz)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def matrix_to_quat(m: np.ndarray) -> np.ndarray:
    """3x3 rotation -> unit quaternion (w, x, y, z) with w >= 0."""
    m = np.asarray(m, np.float64)
    t = np.trace(m)
    if t > 0:
        s = 2.0 * np.sqrt(t + 1.0)
        q = [0.25 * s, (m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s]
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = 2.0 * np.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2])
        q = [(m[2, 1] - m[1, 2]) / s, 0.25 * s, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s]
    elif m[1, 1] > m[2, 2]:
        s = 2.0 * np.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2])
        q = [(m[0, 2] - m[2, 0]) / s, (m[0, 1] + m[1, 0]) / s, 0.25 * s, (m[1, 2] + m[2, 1]) / s]
    else:
        s = 2.0 * np.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1])
        q = [(m[1, 0] - m[0, 1]) / s, (m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, 0.25 * s]
    q = np.array(q)
    q /= np.linalg.norm(q)
    return -q if q[0] < 0 else q
