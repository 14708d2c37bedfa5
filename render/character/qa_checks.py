"""Automatic per-character checks on rendered pixels (no Blender needed).

A character whose eye or mouth morph does nothing, whose head is badly framed or whose
rotation does not move anything would poison the dataset silently. These checks catch the
usual causes (wrong morph picked, framing estimate off, the head bone not skinned) from the
images themselves, so `thagen qa OUT` can re-run them later from the shards alone.

Regions are pixel boxes `(x0, y0, x1, y1)` (x right, y down, end-exclusive).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

# A channel must change by more than this (of 255) for a pixel to count as changed: larger
# than anti-aliasing jitter, far smaller than an eye closing.
DIFF_THRESHOLD = 24
ALPHA_OPAQUE = 128

Box = tuple[int, int, int, int]


@dataclass
class QAThresholds:
    """Tolerances, all as fractions so they hold at any image size."""

    head_top_tolerance: float = 0.04  # of the image height, around the framed head-top row
    min_alpha_coverage: float = 0.04  # opaque share of the whole image
    max_alpha_coverage: float = 0.92
    head_band_width: float = 0.10  # a row is "head", not ahoge, when this wide
    center_tolerance: float = 0.12  # of the width, for the opaque mass in the head band
    min_region_change: float = 0.0004  # changed pixels in the expected region, share of the image
    max_outside_share: float = 0.25  # of all changed pixels, outside the expected region
    min_rotation_change: float = 0.002  # changed share of the image for a clearly rotated pose
    rotation_magnitude: float = 0.25  # a pose is "clearly rotated" when max |rotation| >= this


@dataclass
class QAResult:
    """Flags are the names of failed checks; metrics are the numbers behind them."""

    flags: list[str] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.flags

    def merge(self, other: QAResult) -> None:
        self.flags.extend(f for f in other.flags if f not in self.flags)
        self.metrics.update(other.metrics)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "flags": list(self.flags), "metrics": dict(self.metrics)}


def decode_png(data: bytes) -> np.ndarray:
    """PNG bytes -> (H, W, 4) uint8 RGBA."""
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGBA"))


def changed_mask(a: np.ndarray, b: np.ndarray, threshold: int = DIFF_THRESHOLD) -> np.ndarray:
    """Pixels where any channel differs by more than `threshold` (colour only counts where visible)."""
    if a.shape != b.shape:
        raise ValueError(f"image shapes differ: {a.shape} vs {b.shape}")
    ai = a.astype(np.int32)
    bi = b.astype(np.int32)
    # Colour under zero alpha is meaningless: weight it by the larger alpha of the two.
    vis = np.maximum(ai[..., 3], bi[..., 3])[..., None]
    colour = np.abs(ai[..., :3] - bi[..., :3]) * vis // 255
    alpha = np.abs(ai[..., 3] - bi[..., 3])
    return (colour.max(axis=-1) > threshold) | (alpha > threshold)


def clip_box(box: Sequence[float] | None, size: tuple[int, int]) -> Box | None:
    """Clamp a box to an (h, w) image; None when nothing is left."""
    if box is None:
        return None
    h, w = size
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    x0, x1 = max(0, min(x0, w)), max(0, min(x1, w))
    y0, y1 = max(0, min(y0, h)), max(0, min(y1, h))
    if x1 <= x0 or y1 <= y0:
        return None
    return (x0, y0, x1, y1)


def points_box(points: np.ndarray, margin: float, size: tuple[int, int]) -> Box | None:
    """Bounding box of projected (N, 2) pixel points, grown by `margin` of the image height."""
    pts = np.asarray(points, np.float64).reshape(-1, 2)
    pts = pts[np.isfinite(pts).all(axis=1)]
    if len(pts) == 0:
        return None
    pad = margin * size[0]
    lo = np.floor(pts.min(axis=0) - pad)
    hi = np.ceil(pts.max(axis=0) + pad) + 1
    return clip_box((lo[0], lo[1], hi[0], hi[1]), size)


def fallback_regions(
    size: tuple[int, int], head_top: float, chin: float, center_x: float
) -> dict[str, Box | None]:
    """Generous eye and mouth boxes from the framing alone (when no projection is available)."""
    h, w = size
    span = chin - head_top
    half = 0.45 * span
    eyes = (center_x - half, head_top + 0.30 * span, center_x + half, head_top + 0.80 * span)
    mouth = (center_x - 0.3 * span, head_top + 0.60 * span, center_x + 0.3 * span, chin + 0.08 * span)
    return {"eyes": clip_box(eyes, (h, w)), "mouth": clip_box(mouth, (h, w))}


def check_region_change(
    base: np.ndarray, changed: np.ndarray, region: Box | None, name: str, th: QAThresholds | None = None
) -> QAResult:
    """The morph image differs from the base inside `region` and little elsewhere."""
    th = th or QAThresholds()
    h, w = base.shape[:2]
    mask = changed_mask(base, changed)
    total = int(mask.sum())
    res = QAResult()
    box = clip_box(region, (h, w))
    if box is None:
        inside = total
    else:
        x0, y0, x1, y1 = box
        inside = int(mask[y0:y1, x0:x1].sum())
    outside = total - inside
    res.metrics[f"{name}_changed_px"] = total
    res.metrics[f"{name}_inside_px"] = inside
    res.metrics[f"{name}_region"] = list(box) if box else None
    min_px = max(2, int(th.min_region_change * h * w))
    if inside < min_px:
        res.flags.append(f"{name}_no_change")
    elif outside > th.max_outside_share * total:
        res.flags.append(f"{name}_change_outside_region")
    return res


def head_band_top(alpha: np.ndarray, band_width: float) -> int | None:
    """Topmost row whose opaque run is at least `band_width` of the width (skips thin ahoge)."""
    opaque = alpha >= ALPHA_OPAQUE
    widths = opaque.sum(axis=1)
    rows = np.nonzero(widths >= max(1, int(band_width * alpha.shape[1])))[0]
    return int(rows[0]) if len(rows) else None


def check_framing(
    rest: np.ndarray,
    *,
    head_top_row: float | None = None,
    chin_row: float | None = None,
    th: QAThresholds | None = None,
) -> QAResult:
    """Alpha coverage is plausible and the head sits where the framing put it.

    THA1 framing puts the head top at row size/4 and the chin at 3*size/4, centred. Hair
    pointing upward may reach above the top row, so only a head that starts too LOW is flagged
    by the topmost row; the band test (rows at least 10% wide) must also be near the top row.
    """
    th = th or QAThresholds()
    h, w = rest.shape[:2]
    top_row = h / 4 if head_top_row is None else head_top_row
    chin = 3 * h / 4 if chin_row is None else chin_row
    alpha = rest[..., 3]
    opaque = alpha >= ALPHA_OPAQUE
    res = QAResult()
    coverage = float(opaque.mean())
    res.metrics["alpha_coverage"] = round(coverage, 4)
    if coverage < th.min_alpha_coverage:
        res.flags.append("alpha_coverage_low")
        return res
    if coverage > th.max_alpha_coverage:
        res.flags.append("alpha_coverage_high")
    rows = np.nonzero(opaque.any(axis=1))[0]
    first = int(rows[0])
    band = head_band_top(alpha, th.head_band_width)
    res.metrics["top_opaque_row"] = first
    res.metrics["head_band_row"] = band
    tol = th.head_top_tolerance * h
    if first > top_row + tol:
        res.flags.append("head_top_too_low")
    if band is None or abs(band - top_row) > 2.5 * tol:
        res.flags.append("head_top_off")
    # The chin row must be inside the figure (the neck continues below it), near the centre.
    r = int(min(h - 1, max(0, round(chin - 0.02 * h))))
    cols = np.nonzero(opaque[r])[0]
    res.metrics["chin_row_opaque_px"] = int(len(cols))
    if len(cols) == 0:
        res.flags.append("chin_row_empty")
    # Horizontal centring of the head band.
    y0, y1 = int(max(0, top_row)), int(min(h, chin))
    band_alpha = opaque[y0:y1]
    if band_alpha.any():
        cx = float(np.nonzero(band_alpha)[1].mean())
        res.metrics["head_center_x"] = round(cx, 2)
        if abs(cx - w / 2) > th.center_tolerance * w:
            res.flags.append("head_off_center")
    return res


def check_rotation(
    pairs: list[tuple[np.ndarray, np.ndarray, dict]], th: QAThresholds | None = None
) -> QAResult:
    """For the most-rotated sample(s), the rotated image differs from the unrotated one.

    `pairs` holds (expr, rot, pose) triples; pose holds head_x, head_y, neck_z in -1..1.
    """
    th = th or QAThresholds()
    res = QAResult()
    scored = []
    for expr, rot, pose in pairs:
        mag = max(abs(float(pose.get(k, 0.0))) for k in ("head_x", "head_y", "neck_z"))
        scored.append((mag, expr, rot))
    scored = [s for s in scored if s[0] >= th.rotation_magnitude]
    if not scored:
        res.metrics["rotation_checked"] = 0
        return res
    scored.sort(key=lambda s: -s[0])
    shares = []
    for _mag, expr, rot in scored[:3]:
        shares.append(float(changed_mask(expr, rot).mean()))
    res.metrics["rotation_checked"] = len(shares)
    res.metrics["rotation_min_changed_share"] = round(min(shares), 5)
    if min(shares) < th.min_rotation_change:
        res.flags.append("rotation_no_change")
    return res


def check_samples_consistent(rest_pngs: list[bytes]) -> QAResult:
    """Every sample of a character carries the same reset image."""
    res = QAResult()
    if len({hash(b) for b in rest_pngs}) > 1:
        res.flags.append("rest_images_differ")
    return res
