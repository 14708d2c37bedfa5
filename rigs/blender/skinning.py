"""Vertex weights of a `Model` as Blender vertex groups (what binds the mesh to the armature).

Deform types: BDEF1/2/4 as given, SDEF as BDEF2 (its C/R0/R1 are ignored), QDEF as BDEF4.
`vertex_weights` is plain numpy (the renderer's split check reuses it); `build_weights` writes
the groups with one `add` call per run of equal (bone, weight).
"""

from __future__ import annotations

import bpy
import numpy as np

from thagen.rigs.model import DeformType, Model


def vertex_weights(model: Model) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(vertex, bone, weight) triples, one per distinct (vertex, bone), weights > 0."""
    n = model.vertex_count
    kinds = np.asarray(model.deform_types)
    bones = np.asarray(model.bone_indices, np.int64).reshape(n, -1)
    given = np.asarray(model.bone_weights, np.float64).reshape(n, -1)
    weights = np.zeros(bones.shape, np.float64)
    one = kinds == DeformType.BDEF1
    two = (kinds == DeformType.BDEF2) | (kinds == DeformType.SDEF)
    four = (kinds == DeformType.BDEF4) | (kinds == DeformType.QDEF)
    weights[one, 0] = 1.0
    weights[two, 0] = given[two, 0]
    weights[two, 1] = 1.0 - given[two, 0]
    weights[four] = given[four]
    ok = (bones >= 0) & (weights > 0)
    vertex = np.broadcast_to(np.arange(n)[:, None], bones.shape)[ok]
    bone, weight = bones[ok], weights[ok]
    key = bone * n + vertex
    unique, inverse = np.unique(key, return_inverse=True)
    summed = np.bincount(inverse, weights=weight)
    return (unique % n).astype(np.int64), (unique // n).astype(np.int64), summed


def build_weights(
    obj: bpy.types.Object,
    model: Model,
    bone_names: list[str],
    vertex_ids: np.ndarray | None = None,
    weights: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> int:
    """Vertex groups, one `add` call per run of equal (bone, weight); returns the call count.

    `vertex_ids` (ascending model vertex ids): the mesh holds only those vertices, in that order
    (a part of the static split); None: all of them. `weights`: `vertex_weights(model)` if the
    caller has it already.
    """
    groups = [obj.vertex_groups.new(name=name) for name in bone_names]
    vertex, bone, weight = weights if weights is not None else vertex_weights(model)
    if vertex_ids is not None:
        index = np.searchsorted(vertex_ids, vertex)
        inside = index < len(vertex_ids)
        inside[inside] = vertex_ids[index[inside]] == vertex[inside]
        vertex, bone, weight = index[inside], bone[inside], weight[inside]
    if len(vertex) == 0:
        return 0
    weight32 = weight.astype(np.float32)
    order = np.lexsort((vertex, weight32, bone))
    vertex, bone, weight32 = vertex[order], bone[order], weight32[order]
    starts = np.flatnonzero(np.r_[True, (bone[1:] != bone[:-1]) | (weight32[1:] != weight32[:-1])])
    ends = np.r_[starts[1:], len(vertex)]
    for s, e in zip(starts.tolist(), ends.tolist()):
        groups[bone[s]].add(vertex[s:e].tolist(), float(weight32[s]), "REPLACE")
    return len(starts)
