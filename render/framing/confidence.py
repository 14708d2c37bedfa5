"""How much to trust the geometric head-top / chin estimate, and why (pure numpy, no bpy).

`estimate_framing` (render/framing/estimate.py) always answers; this says when its answer is worth a
person's look, so the annotation tool can show the least confident characters first. It only
reads the model, the rig and the estimate's notes: the estimate itself is never changed. An
estimate that failed its cross-check (crosscheck.py) was replaced by a fallback: each failed
check is a reason of its own, heavy enough to keep it under 0.5 for a person to confirm.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from thagen.render.framing.crosscheck import CHECKS
from thagen.render.framing.estimate import Framing
from thagen.render.framing.head_mesh import (
    HEAD_WEIGHT,
    _descendants,
    _mouth_morph,
    _role_index,
    _weight_on,
    is_worn,
)

if TYPE_CHECKING:
    from thagen.rigs.model import Model
    from thagen.rigs.normalize import RigReport

# Each reason multiplies the confidence by (1 - penalty); the penalties rank characters for
# review (least confident first), they are not probabilities.
CONFIDENCE_PENALTIES = {
    "no_mouth_morph": 0.5,
    "mouth_not_on_face": 0.45,
    "head_not_skinned": 0.5,
    "chin_band_empty": 0.4,
    "no_throat": 0.15,
    "spike_removed": 0.1,
    "tall_above_eyes": 0.45,
    "all_spikes": 0.4,
    "hat_like": 0.45,
    "wide_upward": 0.3,
    "proportions": 0.35,
    "off_centre": 0.25,
    "detached_top": 0.3,
    # the estimate disagreed with the head's geometry and was replaced (crosscheck.py): the
    # answer comes from a fallback, so each alone keeps it under 0.5, for a person to confirm
    "profile_gaps": 0.6,
    "spike_took_head": 0.6,
    "thin_top": 0.6,
    "short_head": 0.6,
    "below_face": 0.6,
    "chin_above_mouth": 0.6,
    "proportion_fallback": 0.5,
    "crosscheck_failed": 0.7,
    "accessory_like": 0.45,
}
# A head top on a thin piece standing clear of the head (a hair loop, a halo, a band held up):
# looked at in the front view, in head heights
TOP_CELL = 0.004  # raster cell
TOP_WINDOW = (0.1, 0.12)  # half width around the top, depth below it
TOP_THIN = 0.03  # the top piece is at most this thick...
TOP_GAP = 0.01  # ...with at least this much background under it
HAT_WORDS = (
    "hat",
    "cap",
    "helmet",
    "hood",
    "crown",
    "帽",
    "ハット",
    "キャップ",
    "ヘルメット",
    "フード",
    "冠",
)
ACCESSORY_REACH = 0.15  # of the head height: something worn reaching this close to the head top counts
HEAD_HEIGHT_PER_HALF_WIDTH = (1.6, 3.4)  # plausible head height / face half-width of anime heads
WIDE_UPWARD_RISE = 0.12  # of the head height: a wide mass this far above the chosen top is suspect
SPIKE_RISE = 0.05  # of the head height: geometry left out above the top that a person should check
TOP_OVER_EYES = (0.9, 2.2)  # plausible (head top - eyes) / (eyes - chin) of anime heads


@dataclass
class FramingConfidence:
    """How much to trust a geometric estimate, in [0, 1], and why it is lower than 1.

    `codes` are stable names (CONFIDENCE_PENALTIES) for filters and tests; `reasons` say the
    same in words for the person reviewing it.
    """

    score: float
    codes: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"score": self.score, "codes": list(self.codes), "reasons": list(self.reasons)}


def _note_codes(notes: list[str]) -> list[tuple[str, str]]:
    """Reasons the estimate itself noted while falling back (see estimate_framing's notes)."""
    found = []
    for note in notes:
        if note.startswith("no mouth-open morph"):
            found.append(("no_mouth_morph", "no mouth-open morph moves any vertex: the chin was guessed"))
        elif note.startswith("the mouth is not on a head-weighted surface"):
            found.append(
                (
                    "mouth_not_on_face",
                    "no face vertices moved by the mouth morph (the mouth is not on a surface "
                    "skinned to the head bone)",
                )
            )
        elif note.startswith("few vertices weighted mostly to the head"):
            found.append(("head_not_skinned", "head not skinned to a head bone"))
        elif note.startswith("no face vertex in front of the throat") or note.startswith(
            "no face vertex under the mouth"
        ):
            found.append(("chin_band_empty", "chin band empty: " + note))
        elif note.startswith("no neck vertices"):
            found.append(("no_throat", "no neck vertices: the throat plane was guessed"))
        elif note.startswith("head top: every column looked like a spike"):
            found.append(("all_spikes", "the head top profile is all spikes"))
        elif note.startswith("cross-check"):
            found += _crosscheck_codes(note)
    return found


def _crosscheck_codes(note: str) -> list[tuple[str, str]]:
    """A cross-check note's failed checks (crosscheck.py), each a reason of its own."""
    if note.startswith("cross-check failed"):
        return [("crosscheck_failed", f"the estimate disagrees with the head's geometry: {note}")]
    found = [(code, f"the estimate was replaced ({code}): {note}") for code in CHECKS if f"{code} (" in note]
    if "from the eye-to-mouth proportions" in note:
        found.append(("proportion_fallback", f"only the eye-to-mouth proportions were left: {note}"))
    return found


def _head_materials(model: Model, head_v: np.ndarray, above: float | None = None) -> list[str]:
    """Names of the materials drawn mostly with head vertices (reaching above `above` if given)."""
    names = []
    for mat in model.materials:
        faces = model.faces[mat.face_start : mat.face_start + mat.face_count]
        if len(faces) and np.mean(head_v[faces]) > 0.5:
            if above is None or model.positions[faces, 1].max() >= above:
                names.append(f"{mat.name} {mat.name_en}".strip())
    return names


def _raster_near_top(pos: np.ndarray, tri: np.ndarray, top: np.ndarray, h: float) -> np.ndarray:
    """Front-view occupancy (rows from the top down, columns left to right) of the triangles
    near the head top. Each triangle is sampled on a barycentric grid fine enough for the cell
    size; triangles that need the same grid are sampled together, as one array operation."""
    cell = TOP_CELL * h
    half, depth = TOP_WINDOW[0] * h, TOP_WINDOW[1] * h
    x0, y1 = top[0] - half, top[1] + 2 * cell
    cols, rows = int(round(2 * half / cell)), int(round((depth + 2 * cell) / cell))
    grid = np.zeros((rows, cols), bool)
    corners = pos[:, :2][tri]  # (T, 3, 2)
    lo, hi = corners.min(axis=1), corners.max(axis=1)
    near = (
        (hi[:, 0] >= x0)
        & (lo[:, 0] <= x0 + 2 * half)
        & (hi[:, 1] >= y1 - depth - 2 * cell)
        & (lo[:, 1] <= y1)
    )
    corners = corners[near]
    if len(corners) == 0:
        return grid
    a, b, c = corners[:, 0], corners[:, 1], corners[:, 2]
    longest = np.maximum.reduce(
        [np.linalg.norm(b - a, axis=1), np.linalg.norm(c - a, axis=1), np.linalg.norm(c - b, axis=1)]
    )
    steps = np.ceil(longest / (0.5 * cell)).astype(np.int64) + 1
    for n in np.unique(steps):
        u, v = np.meshgrid(np.linspace(0, 1, n + 1), np.linspace(0, 1, n + 1))
        keep = u + v <= 1
        u, v = u[keep], v[keep]  # (P,)
        sel = steps == n
        sa, sb, sc = a[sel, None, :], b[sel, None, :], c[sel, None, :]
        pts = (sa + u[None, :, None] * (sb - sa) + v[None, :, None] * (sc - sa)).reshape(-1, 2)
        ci = np.floor((pts[:, 0] - x0) / cell).astype(np.int64)
        ri = np.floor((y1 - pts[:, 1]) / cell).astype(np.int64)
        ok = (ci >= 0) & (ci < cols) & (ri >= 0) & (ri < rows)
        grid[ri[ok], ci[ok]] = True
    return grid


def _detached_top(pos: np.ndarray, tri: np.ndarray, framing: Framing) -> tuple[float, float] | None:
    """(thickness, gap) in head heights when the head top's columns show a thin piece with
    background under it before the head continues, else None."""
    h = framing.height
    if tri.size == 0 or h <= 0:
        return None
    grid = _raster_near_top(pos, tri, framing.head_top, h)
    mid = grid.shape[1] // 2
    span = max(1, int(round(0.03 / TOP_CELL)))
    found: list[tuple[float, float] | None] = []
    for col in grid[:, mid - span : mid + span + 1].T:
        filled = np.nonzero(col)[0]
        if filled.size == 0:
            continue
        first = filled[0]
        gaps = np.nonzero(~col[first:])[0]
        if gaps.size == 0:
            found.append(None)
            continue
        thick = gaps[0]
        below = np.nonzero(col[first + thick :])[0]
        if below.size == 0:
            found.append(None)
            continue
        found.append((thick * TOP_CELL, below[0] * TOP_CELL))
    hits = [f for f in found if f is not None and f[0] <= TOP_THIN and f[1] >= TOP_GAP]
    if not found or len(hits) < 0.6 * len(found):
        return None
    return float(np.median([f[0] for f in hits])), float(np.median([f[1] for f in hits]))


def estimate_confidence(
    model: Model, rig: RigReport | None, framing: Framing, *, mouth_weight: float = 1.0
) -> FramingConfidence:
    """Confidence in [0, 1] of `framing` (an estimate of this model) and the reasons for a low one.

    Looks at what the estimate had to guess (its notes) and at the geometry around the head:
    hat-like materials or a wide flat mass standing above the skull, head proportions outside
    what anime heads have, a centre line away from the head bone. It never changes the estimate.
    """
    found = _note_codes(framing.notes)
    head = _role_index(rig, "head")
    if head is None:
        head = model.bone_index("頭")
    if head is not None and head >= 0:
        head_v = _weight_on(model, _descendants(model, head)) >= HEAD_WEIGHT
        hats = [n for n in _head_materials(model, head_v) if any(w in n.lower() for w in HAT_WORDS)]
        if hats:
            found.append(("hat_like", f"hat-like material on the head: {', '.join(hats)}"))
        near_top = framing.head_top[1] - ACCESSORY_REACH * framing.height
        worn = [n for n in _head_materials(model, head_v, near_top) if is_worn(n) and n not in hats]
        if worn:
            found.append(
                ("accessory_like", f"something worn on the head reaches the head top: {', '.join(worn)}")
            )
        pos = model.positions.astype(np.float64)
        mouth = _mouth_morph(model, rig)
        if mouth is not None and mouth_weight:
            pos = pos.copy()
            np.add.at(pos, mouth[0], mouth_weight * mouth[1])
        h = framing.height
        band = head_v & (np.abs(pos[:, 0] - framing.center_x) <= 0.5 * h) & (pos[:, 1] > framing.head_top[1])
        # head geometry left above the chosen top: narrow spikes are expected (ahoge), a wide
        # block rising well above it is a hat, buns or a crest the profile may have taken as skull
        if np.any(band):
            rise = float(pos[band, 1].max() - framing.head_top[1])
            xs = pos[band & (pos[:, 1] > framing.head_top[1] + WIDE_UPWARD_RISE * h), 0]
            spread = float(np.ptp(xs)) if xs.size else 0.0
            if rise > WIDE_UPWARD_RISE * h and spread > 0.3 * h:
                found.append(
                    (
                        "wide_upward",
                        f"wide upward geometry above the head top (rises {rise / h:.0%} of the head "
                        f"height over {spread / h:.0%} of it)",
                    )
                )
            elif rise > SPIKE_RISE * h:
                found.append(
                    (
                        "spike_removed",
                        f"left out an upward spike (ahoge?) rising {rise / h:.0%} of the head height",
                    )
                )
        tri = model.faces.astype(np.int64)
        head_tri = tri[np.all(head_v[tri], axis=1)] if tri.size else tri
        detached = _detached_top(pos, head_tri, framing)
        if detached is not None:
            found.append(
                (
                    "detached_top",
                    f"the head top is on a thin piece ({detached[0]:.0%} of the head height) with "
                    f"{detached[1]:.0%} of background under it: a hair loop or an ahoge kept?",
                )
            )
        eyes = [i for r in ("eye_left", "eye_right") if (i := _role_index(rig, r)) is not None]
        if eyes:
            eye_y = max(float(model.bones[i].position[1]) for i in eyes)
            if framing.chin[1] < eye_y < framing.head_top[1]:
                ratio = (framing.head_top[1] - eye_y) / (eye_y - framing.chin[1])
                lo, hi = TOP_OVER_EYES
                if not lo <= ratio <= hi:
                    found.append(
                        (
                            "tall_above_eyes",
                            f"the head top is {ratio:.2f} x the eye-to-chin distance above the eyes "
                            f"(expected {lo:g}-{hi:g}: a hat or upward hair taken as skull?)",
                        )
                    )
            else:
                found.append(("tall_above_eyes", "the eyes are not between the chin and the head top"))
        face_top = head_v & (pos[:, 1] > framing.chin[1]) & (pos[:, 1] < framing.head_top[1])
        if np.any(face_top):
            half = float(np.abs(pos[face_top, 0] - framing.center_x).max())
            ratio = h / half if half > 0 else float("inf")
            lo, hi = HEAD_HEIGHT_PER_HALF_WIDTH
            if not lo <= ratio <= hi:
                found.append(
                    ("proportions", f"head height is {ratio:.2f} x its half width (expected {lo:g}-{hi:g})")
                )
        bone_x = float(model.bones[head].position[0])
        if abs(framing.center_x - bone_x) > 0.1 * h:
            found.append(
                ("off_centre", f"centre x {framing.center_x:.3f} is far from the head bone's {bone_x:.3f}")
            )
    score = 1.0
    codes, reasons = [], []
    for code, reason in found:
        if code in codes:
            continue
        codes.append(code)
        reasons.append(reason)
        score *= 1.0 - CONFIDENCE_PENALTIES[code]
    return FramingConfidence(score=round(float(np.clip(score, 0.0, 1.0)), 4), codes=codes, reasons=reasons)
