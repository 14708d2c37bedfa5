"""Chibi proportions for the built-in character: a big head on a small body, made by scaling
the finished model through its own skinning weights.

The head and everything on it (the vertices weighted to 頭 and the bones below it: eyes, back
hair) scale by `head_scale` about the neck joint (頭's position); the rest of the body scales
by `body_scale` toward the floor, so the feet stay on y = 0 and the joint moves down with the
body. A vertex split between the head and the neck blends the two, as skinning would, so the
neck stays one surface. Morph offsets scale with their vertices; `transform_point` maps any
head point (the truth in rigs/builtin/truth.py) the same way.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from thagen.rigs.builtin.mesh import _vertex_normals
from thagen.rigs.model import Model, MorphKind


def _head_bones(model: Model) -> np.ndarray:
    """Bool mask over bones: 頭 and every bone below it."""
    head = model.bone_index("頭")
    mask = np.zeros(len(model.bones), bool)
    mask[head] = True
    changed = True
    while changed:
        changed = False
        for i, bone in enumerate(model.bones):
            if not mask[i] and bone.parent >= 0 and mask[bone.parent]:
                mask[i] = changed = True
    return mask


def joint(model: Model) -> np.ndarray:
    """The neck joint the head scales about: 頭's position."""
    return np.asarray(model.bones[model.bone_index("頭")].position, np.float64)


def transform_point(point: np.ndarray, pivot: np.ndarray, head_scale: float, body_scale: float) -> np.ndarray:
    """Where a point fully on the head goes (see the module docstring)."""
    return body_scale * pivot + head_scale * (np.asarray(point, np.float64) - pivot)


def rescale(model: Model, head_scale: float, body_scale: float) -> Model:
    """A copy of `model` with its head scaled by `head_scale` and its body by `body_scale`."""
    if head_scale == 1.0 and body_scale == 1.0:
        return model
    pivot = joint(model)
    heads = _head_bones(model)
    idx = model.bone_indices
    on_head = (idx >= 0) & heads[np.where(idx >= 0, idx, 0)]
    w = np.where(on_head, model.bone_weights, 0.0).sum(axis=1)[:, None]
    pos = model.positions.astype(np.float64)
    # body_scale * p for the body, pivot' + head_scale * (p - pivot) for the head, blended by w
    new_pos = body_scale * pos + w * (head_scale - body_scale) * (pos - pivot)
    factor = body_scale + w[:, 0] * (head_scale - body_scale)  # how much a morph offset grows
    morphs = []
    for morph in model.morphs:
        if morph.kind == MorphKind.VERTEX and len(morph.indices):
            values = morph.values.astype(np.float64) * factor[morph.indices][:, None]
            morph = dataclasses.replace(morph, values=values.astype(np.float32))
        morphs.append(morph)
    bones = []
    for i, bone in enumerate(model.bones):
        scale = head_scale if heads[i] else body_scale
        position = transform_point(bone.position, pivot, scale, body_scale)
        tail = np.asarray(bone.tail_offset, np.float64) * scale
        bones.append(
            dataclasses.replace(
                bone, position=position.astype(np.float32), tail_offset=tail.astype(np.float32)
            )
        )
    return dataclasses.replace(
        model,
        positions=new_pos.astype(np.float32),
        normals=_vertex_normals(new_pos, model.faces.astype(np.int64)).astype(np.float32),
        morphs=morphs,
        bones=bones,
    )
