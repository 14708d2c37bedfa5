"""Where the built-in character's head top and chin truly are, for every variant.

Framing tests and benchmarks compare the estimate against these (render/framing/, tests/render/
test_odd_models.py), so they come from how the character is built, never from the estimate:

- **head top**: the top of the hair cap (rigs/builtin/hair.py: the head ellipsoid grown by 0.12
  in y), scaled with the head for chibi proportions. Following THA1 (docs/annotation.md) it is the
  skull with the hair lying flat on it, whatever stands above: an ahoge (hair pointing upward),
  animal ears, a bow and a hat are left out. For ears, bows and hats that is the choice that
  keeps the face the same size in every reset image, the networks' one fixed scale; what sticks
  up goes into the image's top quarter and may be cut there. Under a hat the hair cap is still
  modelled, so the head top is where the head would be without it, as THA1 annotated hats.
- **chin**: looking along the camera at the head's centre line in the reset pose (the
  mouth-open morph at `mouth_weight`), the lowest point of the face skin (material 顔) that is
  in front of everything else, going down from the mouth: where the chin's edge shows against
  the neck. Cast on the model's own triangles, so it is exact at every tessellation and scale.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from thagen.rigs.builtin.character import builtin_character
from thagen.rigs.builtin.hair import CAP_CENTER, CAP_RADII
from thagen.rigs.builtin.proportions import transform_point
from thagen.rigs.builtin.skeleton import BONE_INDEX, BONES
from thagen.rigs.builtin.variants import BuiltinVariant
from thagen.rigs.model import Model

CHIN_STEP = 0.0005  # MMD units between the rows the chin is looked for on
FACE_MATERIALS = ("顔", "口")  # the face skin and the mouth interior
CENTER_X = 0.0  # the character is symmetric about x = 0


@dataclass(frozen=True)
class HeadTruth:
    """The head top and chin (MMD model space) and the head's centre line."""

    head_top: np.ndarray
    chin: np.ndarray
    center_x: float

    @property
    def height(self) -> float:
        return float(self.head_top[1] - self.chin[1])


def _reset_positions(model: Model, mouth_weight: float) -> np.ndarray:
    pos = model.positions.astype(np.float64)
    index = model.morph_index("あ")
    if index >= 0 and mouth_weight:
        morph = model.morphs[index]
        np.add.at(pos, morph.indices.astype(np.int64), mouth_weight * morph.values.astype(np.float64))
    return pos


def _material_triangles(model: Model, names: tuple[str, ...]) -> np.ndarray:
    """Bool per triangle: drawn with one of the materials `names`."""
    hit = np.zeros(len(model.faces), bool)
    for mat in model.materials:
        if mat.name in names:
            hit[mat.face_start : mat.face_start + mat.face_count] = True
    return hit


def _cut(corners: np.ndarray, x: float) -> np.ndarray:
    """(S, 2, 2): where each triangle (S, 3, 3) crossing the plane at x meets it, as two (y, z)."""
    ends = []
    for a, b in ((0, 1), (1, 2), (2, 0)):
        pa, pb = corners[:, a], corners[:, b]
        crosses = (pa[:, 0] < x) != (pb[:, 0] < x)
        t = np.where(crosses, (x - pa[:, 0]) / np.where(crosses, pb[:, 0] - pa[:, 0], 1.0), np.nan)
        ends.append(pa[:, 1:] + t[:, None] * (pb[:, 1:] - pa[:, 1:]))
    pts = np.stack(ends, axis=1)  # NaN where an edge does not cross
    order = np.argsort(np.isnan(pts[:, :, 0]), axis=1, kind="stable")[:, :2]
    return np.take_along_axis(pts, order[:, :, None], axis=1)


def front_chin(model: Model, x: float, mouth_weight: float = 1.0) -> np.ndarray:
    """The chin as seen from the front on the vertical line at `x` (see the module docstring)."""
    pos = _reset_positions(model, mouth_weight)
    tri = model.faces.astype(np.int64)
    is_face = _material_triangles(model, FACE_MATERIALS)
    corners = pos[tri]
    cut = (corners[:, :, 0].min(axis=1) < x) & (corners[:, :, 0].max(axis=1) > x)
    seg, is_face = _cut(corners[cut], x), is_face[cut]
    y0, z0, y1, z1 = seg[:, 0, 0], seg[:, 0, 1], seg[:, 1, 0], seg[:, 1, 1]
    lo, hi = np.minimum(y0, y1), np.maximum(y0, y1)
    span = np.where(y1 != y0, y1 - y0, 1.0)
    mouth = np.unique(tri[_material_triangles(model, ("口",))])
    face_low = float(pos[np.unique(tri[_material_triangles(model, FACE_MATERIALS)]), 1].min())
    ys = np.arange(float(pos[mouth, 1].min()), face_low - CHIN_STEP, -CHIN_STEP)
    for start in range(0, len(ys), 512):
        rows = ys[start : start + 512, None]
        z = np.where((rows >= lo) & (rows <= hi), z0 + (rows - y0) / span * (z1 - z0), np.inf)
        front = np.argmin(z, axis=1)
        front_z = z[np.arange(len(rows)), front]
        on_face = np.isfinite(front_z) & is_face[front]
        if not np.all(on_face):
            last = start + int(np.argmin(on_face)) - 1  # the last row the face was in front
            if last < 0:
                raise ValueError("below the mouth the face is hidden")
            row = ys[last : last + 1, None]
            z_last = np.where((row >= lo) & (row <= hi), z0 + (row - y0) / span * (z1 - z0), np.inf)
            return np.array([x, float(ys[last]), float(z_last.min())])
    raise ValueError("the face never gives way to something else below the mouth")


def builtin_truth(
    variant: BuiltinVariant | None = None, *, mouth_weight: float = 1.0, model: Model | None = None
) -> HeadTruth:
    """The true head top and chin of `builtin_character(variant=variant)` (pass `model` when
    built already), in the reset pose with the mouth open at `mouth_weight`."""
    variant = variant or BuiltinVariant()
    model = model if model is not None else builtin_character(variant=variant)
    cap_top = CAP_CENTER + np.array([0.0, CAP_RADII[1], 0.0])
    pivot = np.asarray(BONES[BONE_INDEX["頭"]][2], np.float64)  # the neck joint before scaling
    top = transform_point(cap_top, pivot, variant.head_scale, variant.body_scale)
    # the chin just off the centre line, so the plane never runs along the head's seam edges
    return HeadTruth(top, front_chin(model, CENTER_X + 1e-4, mouth_weight), CENTER_X)
