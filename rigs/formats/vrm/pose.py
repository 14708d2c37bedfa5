"""VRM avatars stand in a T-pose; lower their upper arms so they stand like MMD models (A-pose).

THA framing shows the head and the top of the shoulders. A T-pose puts both arms straight out
at shoulder height, a horizontal band across the bottom of every image that no MMD character
(modelled with the arms down at 30-45 degrees) has. The reader therefore rotates each
humanoid upper arm (`leftUpperArm` / `rightUpperArm`, with every bone below it) down by
`ARM_DEGREES` about its own joint, with linear blend skinning in numpy: a vertex moves by the
share of its weight on the arm's bones, so the shoulder blends smoothly. Bone rest positions,
normals and morph offsets move with it. Models without humanoid arms are left as they are.
"""

from __future__ import annotations

import numpy as np

from thagen.rigs.model import Model

ARM_DEGREES = 40.0


def _subtree(parents: np.ndarray, root: int) -> np.ndarray:
    """Mask of `root` and every bone below it (parents before children is not assumed)."""
    inside = np.zeros(len(parents), bool)
    inside[root] = True
    for _ in range(len(parents)):
        grown = inside | ((parents >= 0) & inside[np.maximum(parents, 0)])
        if np.array_equal(grown, inside):
            break
        inside = grown
    return inside


def _rotation_z(degrees: float) -> np.ndarray:
    t = np.radians(degrees)
    c, s = np.cos(t), np.sin(t)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def lower_arms(model: Model, degrees: float = ARM_DEGREES) -> list[str]:
    """Rotate the humanoid upper arms down by `degrees` in place; returns the arms moved."""
    info = model.vrm
    if info is None or not degrees or not model.bones:
        return []
    parents = np.array([b.parent for b in model.bones], np.int64)
    moved = []
    # MMD frame: the character's left arm points +X; turning it down is a rotation by -degrees about Z
    for key, sign in (("leftUpperArm", -1.0), ("rightUpperArm", 1.0)):
        bone = info.humanoid.get(key)
        if bone is None or not 0 <= bone < len(model.bones):
            continue
        pivot = np.asarray(model.bones[bone].position, np.float64)
        rot = _rotation_z(sign * degrees)
        arm = _subtree(parents, bone)
        idx = model.bone_indices
        share = np.where(idx >= 0, model.bone_weights * arm[np.maximum(idx, 0)], 0.0).sum(axis=1)
        share = np.clip(share, 0.0, 1.0)[:, None]
        touched = share[:, 0] > 0
        p = model.positions[touched].astype(np.float64)
        rotated = pivot + (p - pivot) @ rot.T
        model.positions[touched] = (p + share[touched] * (rotated - p)).astype(np.float32)
        n = model.normals[touched].astype(np.float64)
        n = n + share[touched] * (n @ rot.T - n)
        length = np.linalg.norm(n, axis=1, keepdims=True)
        model.normals[touched] = (n / np.where(length > 0, length, 1.0)).astype(np.float32)
        for morph in model.morphs:
            if morph.values.ndim != 2 or morph.values.shape[1] != 3 or not len(morph.indices):
                continue
            w = share[morph.indices.astype(np.int64), 0][:, None]
            d = morph.values.astype(np.float64)
            morph.values = (d + w * (d @ rot.T - d)).astype(np.float32)
        for i in np.flatnonzero(arm):
            b = model.bones[i]
            b.position = (pivot + (np.asarray(b.position, np.float64) - pivot) @ rot.T).astype(np.float32)
            b.tail_offset = (np.asarray(b.tail_offset, np.float64) @ rot.T).astype(np.float32)
        moved.append(key)
    if moved:
        info.notes.append(
            f"T-pose: {', '.join(moved)} lowered {degrees:g} degrees (A-pose, as MMD models stand)"
        )
    return moved
