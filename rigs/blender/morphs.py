"""Morphs of a `Model`: shape keys for vertex and group morphs, bone-morph parts for posing.

Vertex morphs (and the vertex leaves of group morphs, and a rig's synthetic morphs) become shape
keys; bone morphs become (bone, translation, rotation) parts that the imported character applies
on top of the user's bone rotations. UV, material, flip and impulse morphs are not built: they are
listed in the report instead.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING

import bpy
import numpy as np

from thagen.errors import ModelFormatError
from thagen.rigs.blender.report import ImportReport
from thagen.rigs.coordinates import mmd_rotation_to_blender, mmd_to_blender, quat_to_matrix
from thagen.rigs.flatten import leaf_kinds
from thagen.rigs.model import Model, MorphKind

if TYPE_CHECKING:
    from thagen.rigs.normalize import RigReport

UNSUPPORTED_KINDS: dict[int, str] = {
    MorphKind.UV: "uv",
    MorphKind.UV_EXT1: "uv1",
    MorphKind.UV_EXT2: "uv2",
    MorphKind.UV_EXT3: "uv3",
    MorphKind.UV_EXT4: "uv4",
    MorphKind.MATERIAL: "material",
    MorphKind.FLIP: "flip",
    MorphKind.IMPULSE: "impulse",
}

# bone morph part: (blender bone name, translation in world axes (3,), rotation in world axes (3, 3))
BonePart = tuple[str, np.ndarray, np.ndarray]


@dataclass(frozen=True)
class ShapeKeySpec:
    """One shape key to build: the vertices a morph offsets and by how much (Blender axes)."""

    name: str
    indices: np.ndarray  # (n,) int64 model vertex ids, in range
    offsets: np.ndarray  # (n, 3) float32

    def coordinates(self, base: np.ndarray) -> np.ndarray:
        """(V, 3) float32: the key's positions, as Blender stores them."""
        co = base.copy()
        np.add.at(co, self.indices, self.offsets)
        return co

    def moved(self, base: np.ndarray) -> np.ndarray:
        """Model vertex ids this key really moves (an offset too small to change a float32 is none)."""
        ids, row = np.unique(self.indices, return_inverse=True)
        co = base[ids]
        np.add.at(co, row, self.offsets)  # the same additions, in the same order, as `coordinates`
        return ids[(co != base[ids]).any(axis=1)]


@dataclass(frozen=True)
class MorphPlan:
    """What `plan_morphs` decided: the shape keys and the bone-morph parts, before any is built."""

    keys: list[ShapeKeySpec]
    bone_morphs: dict[str, list[tuple[BonePart, float]]]


def build_morphs(
    obj: bpy.types.Object,
    model: Model,
    rig: RigReport | None,
    bone_names: list[str],
    report: ImportReport,
    only: Collection[str] | None = None,
) -> dict[str, list[tuple[BonePart, float]]]:
    """Shape keys for vertex and group morphs (and the rig's synthetic ones); bone-morph parts."""
    plan = plan_morphs(model, rig, bone_names, report, only)
    add_shape_keys(obj, mmd_to_blender(model.positions).astype(np.float32), plan.keys, report)
    return plan.bone_morphs


def add_shape_keys(
    obj: bpy.types.Object,
    base: np.ndarray,
    keys: list[ShapeKeySpec],
    report: ImportReport,
    vertex_ids: np.ndarray | None = None,
) -> None:
    """Basis plus `keys` on `obj`, whose mesh holds the model vertices `vertex_ids` (None: all)."""
    obj.shape_key_add(name="Basis", from_mix=False)
    for spec in keys:
        co = spec.coordinates(base)
        if vertex_ids is not None:
            co = co[vertex_ids]
        key = obj.shape_key_add(name=spec.name, from_mix=False)
        key.points.foreach_set("co", co.ravel())  # `points`: the fast path (data: ~100x slower)
        report.shape_keys.setdefault(spec.name, key.name)


def plan_morphs(
    model: Model,
    rig: RigReport | None,
    bone_names: list[str],
    report: ImportReport,
    only: Collection[str] | None = None,
) -> MorphPlan:
    """Which shape keys and bone-morph parts to build (numpy only; bad indices raise here,
    before anything is built)."""
    from thagen.rigs.flatten import flatten_group_morph

    count = model.vertex_count
    keys: list[ShapeKeySpec] = []
    bone_morphs: dict[str, list[tuple[BonePart, float]]] = {}

    def add_key(name: str, indices: np.ndarray, offsets: np.ndarray) -> None:
        indices = np.asarray(indices, np.int64).reshape(-1)
        if len(indices) != len(offsets) or (indices.size and (indices.min() < 0 or indices.max() >= count)):
            raise ModelFormatError(
                "vertex morph indices out of range or not matching its offsets",
                path=model.source_path,
                field=f"morph {name!r}",
            )
        keys.append(ShapeKeySpec(name, indices, mmd_to_blender(offsets).astype(np.float32)))

    def bone_parts(index: int) -> list[BonePart]:
        morph = model.morphs[index]
        values = np.asarray(morph.values, np.float64).reshape(-1, 7)
        parts = []
        for b, v in zip(np.asarray(morph.indices).tolist(), values):
            if 0 <= b < len(bone_names):
                turn = mmd_rotation_to_blender(quat_to_matrix(np.r_[v[6], v[3:6]]))
                parts.append((bone_names[b], mmd_to_blender(v[:3]), turn))
        return parts

    for index, morph in enumerate(model.morphs):
        if only is not None and morph.name not in only:
            continue
        kind = int(morph.kind)
        if kind == MorphKind.VERTEX:
            add_key(morph.name, morph.indices, np.asarray(morph.values).reshape(-1, 3))
        elif kind == MorphKind.BONE:
            bone_morphs.setdefault(morph.name, [(p, 1.0) for p in bone_parts(index)])
        elif kind == MorphKind.GROUP:
            leaves = leaf_kinds(model, index)  # raises ModelFormatError on cycles
            if MorphKind.VERTEX in leaves:
                add_key(morph.name, *flatten_group_morph(model, index))
            parts = [(p, w) for leaf, w in leaves.get(MorphKind.BONE, []) for p in bone_parts(leaf)]
            if parts:
                bone_morphs.setdefault(morph.name, parts)
            skipped = sorted({UNSUPPORTED_KINDS[k] for k in leaves if k in UNSUPPORTED_KINDS})
            if skipped:
                report.unsupported_morphs.append(f"{morph.name} (group: {', '.join(skipped)} parts ignored)")
        else:
            report.unsupported_morphs.append(f"{morph.name} ({UNSUPPORTED_KINDS.get(kind, kind)})")
    for role, morph in (rig.synthetic_morphs if rig is not None else {}).items():
        if any(spec.name == morph.name for spec in keys):
            report.warnings.append(f"synthetic morph {morph.name!r} for {role} shadows a model morph")
        add_key(morph.name, morph.indices, np.asarray(morph.values).reshape(-1, 3))
    return MorphPlan(keys, bone_morphs)
