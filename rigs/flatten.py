"""Resolve group morphs into the parts they finally drive.

Shared by rig normalization (to judge what a morph moves) and the Blender importer (to turn a
group morph into one shape key), so both agree on what a group means.
"""

from __future__ import annotations

import numpy as np

from thagen.errors import ModelFormatError
from thagen.rigs.model import Model, MorphKind

MAX_DEPTH = 64


def _error(model: Model, morph_index: int, message: str) -> ModelFormatError:
    name = model.morphs[morph_index].name if 0 <= morph_index < len(model.morphs) else "?"
    return ModelFormatError(message, path=model.source_path, field=f"morph {morph_index} {name!r}")


def morph_leaves(model: Model, morph_index: int) -> list[tuple[int, float]]:
    """(non-group morph index, total weight) pairs a morph resolves to.

    Nested groups are followed and their weights multiplied; a morph reached twice has its
    weights summed. A non-group morph is its own single leaf with weight 1.
    Raises ModelFormatError on a cycle or an index out of range.
    """
    n = len(model.morphs)
    if not 0 <= morph_index < n:
        raise ModelFormatError(
            f"morph index {morph_index} out of range (model has {n})", path=model.source_path
        )
    totals: dict[int, float] = {}

    def visit(index: int, weight: float, stack: tuple[int, ...]) -> None:
        morph = model.morphs[index]
        if morph.kind != MorphKind.GROUP:
            totals[index] = totals.get(index, 0.0) + weight
            return
        if index in stack:
            cycle = " -> ".join(model.morphs[i].name for i in (*stack[stack.index(index) :], index))
            raise _error(model, morph_index, f"group morph cycle: {cycle}")
        if len(stack) >= MAX_DEPTH:
            raise _error(model, morph_index, f"group morphs nested deeper than {MAX_DEPTH}")
        children = np.asarray(morph.indices, np.int64).reshape(-1)
        weights = np.asarray(morph.values, np.float64).reshape(-1)
        if children.shape != weights.shape:
            raise _error(model, index, "group morph has different numbers of children and weights")
        for child, w in zip(children.tolist(), weights.tolist()):
            if not 0 <= child < n:
                raise _error(model, index, f"group morph child {child} out of range (model has {n} morphs)")
            visit(child, weight * w, (*stack, index))

    visit(morph_index, 1.0, ())
    return list(totals.items())


def flatten_group_morph(model: Model, morph_index: int) -> tuple[np.ndarray, np.ndarray]:
    """Vertex indices (K,) int32, sorted and unique, and summed offsets (K, 3) float32.

    Works for any morph: a vertex morph gives its own offsets (duplicates summed), a group morph
    the weighted sum of every vertex morph it reaches; other kinds contribute nothing.
    """
    idx_parts: list[np.ndarray] = []
    val_parts: list[np.ndarray] = []
    nv = model.vertex_count
    for leaf, weight in morph_leaves(model, morph_index):
        morph = model.morphs[leaf]
        if morph.kind != MorphKind.VERTEX or weight == 0.0:
            continue
        indices = np.asarray(morph.indices, np.int64).reshape(-1)
        values = np.asarray(morph.values, np.float64).reshape(-1, 3)
        if indices.shape[0] != values.shape[0]:
            raise _error(model, leaf, "vertex morph has different numbers of indices and offsets")
        if indices.size and (indices.min() < 0 or indices.max() >= nv):
            raise _error(model, leaf, f"vertex morph index out of range (model has {nv} vertices)")
        idx_parts.append(indices)
        val_parts.append(values * weight)
    if not idx_parts:
        return np.zeros(0, np.int32), np.zeros((0, 3), np.float32)
    all_idx = np.concatenate(idx_parts)
    all_val = np.concatenate(val_parts)
    unique, inverse = np.unique(all_idx, return_inverse=True)
    summed = np.zeros((unique.size, 3), np.float64)
    np.add.at(summed, inverse, all_val)
    return unique.astype(np.int32), summed.astype(np.float32)


def leaf_kinds(model: Model, morph_index: int) -> dict[int, list[tuple[int, float]]]:
    """Leaves of a morph grouped by MorphKind, to say what else (bones, materials) it drives."""
    out: dict[int, list[tuple[int, float]]] = {}
    for leaf, weight in morph_leaves(model, morph_index):
        out.setdefault(int(model.morphs[leaf].kind), []).append((leaf, weight))
    return out
