"""MMD, Blender and character coordinate frames, and small rotation helpers (pure numpy).

*MMD* is left-handed, Y up, about 12.5 units per metre; a character faces -Z and MMD +X is the
character's own LEFT. *Blender* is right-handed, Z up, metres. `mmd_to_blender` maps
``(x, y, z)_blender = MMD_SCALE * (x, z, y)_mmd`` with ``MMD_SCALE = 0.08`` (1 MMD unit = 8 cm),
so a character stands at real-world size and Blender's defaults (clip distances, light units,
bone display sizes) stay sensible. Swapping two axes mirrors handedness, so the importer reverses
every triangle's vertex order to keep normals outward.

*Character axes* (THA1): x toward the character's left, y up, z toward the front (the camera);
in Blender world axes x -> +X, y -> +Z, z -> -Y (`CHAR_TO_BLENDER`, a proper rotation).
Lives in `rigs` because the importer needs it and data flows rigs -> render, never back.
"""

from __future__ import annotations

import numpy as np

MMD_SCALE = 0.08  # metres per MMD unit
# blender = MMD_SCALE * mmd @ MMD_TO_BLENDER.T  (a reflection: det = -1)
MMD_TO_BLENDER = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
# columns: character x, y, z in Blender world axes (a rotation: det = +1)
CHAR_TO_BLENDER = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])


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
    quat = np.array(q)
    quat /= np.linalg.norm(quat)
    return -quat if quat[0] < 0 else quat
