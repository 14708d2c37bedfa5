"""Geometry the rig normalizer judges by: head region, bone weights, morph motion, mid-plane split.

Pure functions and plain records over a model's arrays, with no knowledge of roles or name
tables, so that both the THA1 matcher (matcher.py, one_eye.py) and the THA2 / THA3 roles
(extended_roles.py) can use them without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from thagen.rigs.model import Model


@dataclass
class Head:
    """The head region every morph is judged against."""

    x: float
    height: float
    lo: np.ndarray  # region box (with margin), MMD coords
    hi: np.ndarray
    box_min: np.ndarray | None
    box_max: np.ndarray | None
    neck_y: float | None

    def region_mask(self, positions: np.ndarray) -> np.ndarray:
        inside = np.all((positions >= self.lo) & (positions <= self.hi), axis=1)
        if self.neck_y is not None:
            inside &= positions[:, 1] >= self.neck_y
        return inside


def bone_weight(model: Model, bone: int) -> np.ndarray:
    """Per-vertex total weight of one bone."""
    if model.bone_indices.size == 0:
        return np.zeros(model.vertex_count, np.float32)
    hit = (model.bone_indices == bone) & (model.bone_weights > 0)
    return np.where(hit, model.bone_weights, 0.0).sum(axis=1)


def bones_touch(model: Model, bones: np.ndarray) -> np.ndarray:
    """Vertices with any positive weight on any of these bones."""
    if model.bone_indices.size == 0 or bones.size == 0:
        return np.zeros(model.vertex_count, bool)
    return np.any(np.isin(model.bone_indices, bones) & (model.bone_weights > 0), axis=1)


def head_from_bone(model: Model, head: int, neck: int | None, margin: float) -> Head:
    weight = bone_weight(model, head)
    verts = weight >= 0.5
    if np.count_nonzero(verts) < 4:
        verts = weight > 0
    pos = model.positions[verts].astype(np.float64)
    box_min, box_max = pos.min(axis=0), pos.max(axis=0)
    height = float(box_max[1] - box_min[1])
    if height <= 0:
        height = float(np.max(box_max - box_min)) or 1.0
    pad = margin * height
    neck_y = float(model.bones[neck].position[1]) if neck is not None else None
    return Head(
        x=float(model.bones[head].position[0]),
        height=height,
        lo=box_min - pad,
        hi=box_max + pad,
        box_min=box_min,
        box_max=box_max,
        neck_y=neck_y,
    )


def head_from_model(model: Model) -> Head:
    """Without a usable head bone: judge against the whole model (a rough, flagged guess)."""
    if model.vertex_count == 0:
        return Head(0.0, 1.0, np.full(3, -np.inf), np.full(3, np.inf), None, None, None)
    pos = model.positions.astype(np.float64)
    lo, hi = pos.min(axis=0), pos.max(axis=0)
    height = float(hi[1] - lo[1]) / 7.0 or 1.0
    return Head(0.0, height, lo, hi, None, None, None)


@dataclass
class Motion:
    """What a candidate morph does to the head."""

    indices: np.ndarray
    offsets: np.ndarray
    peak: float  # largest head-vertex displacement
    left_share: float  # share of head motion at +X (character's left)
    note: str = ""


def cosine(ia: np.ndarray, va: np.ndarray, ib: np.ndarray, vb: np.ndarray) -> float:
    """Cosine similarity of two sparse offset fields over the union of their vertices."""
    union = np.union1d(ia, ib)
    a = np.zeros((union.size, 3))
    b = np.zeros((union.size, 3))
    a[np.searchsorted(union, ia)] = va
    b[np.searchsorted(union, ib)] = vb
    denom = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.sum(a * b) / denom) if denom > 0 else 0.0


def split_weights(x: np.ndarray, mid_x: float, halfwidth: float) -> np.ndarray:
    """Left-side weight per vertex: 1 at +X, 0 at -X, smoothstep across mid_x +- halfwidth."""
    if halfwidth <= 0:
        return (np.asarray(x) > mid_x).astype(np.float64) + 0.5 * (np.asarray(x) == mid_x)
    t = np.clip((np.asarray(x, np.float64) - mid_x) / (2 * halfwidth) + 0.5, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)
