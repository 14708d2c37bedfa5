"""How closely one engine's images agree with another's: the figures docs/rendering.md states.

Plain numpy on decoded RGBA images (no bpy), shared by bench/engines.py, which measures every
engine against Cycles at 16 spp, and tests/render/test_engines.py, which holds the engines to
the documented thresholds. Colours are compared premultiplied by alpha (0..255), since a pixel
that is almost transparent has an arbitrary straight colour that no reader of the image sees:

- `mae`: mean absolute error per channel (R, G, B premultiplied, and A), in 8-bit steps;
- `off`: the share of pixels where some channel is off by more than OFF_LEVELS (8/255);
- `iou`: intersection over union of the opaque masks (alpha >= 128): the silhouettes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

OFF_LEVELS = 8.0  # a pixel is "off" when a channel differs by more than 8/255


@dataclass(frozen=True)
class Agreement:
    """One image (or the mean over several) against its reference."""

    mae: tuple[float, float, float, float]  # R, G, B (premultiplied), A in 0..255 steps
    off: float  # share of pixels with a channel off by more than OFF_LEVELS
    iou: float  # opaque-mask intersection over union

    @property
    def mae_max(self) -> float:
        return max(self.mae)

    def row(self) -> str:
        """`R/G/B/A MAE, off share, IoU` for a table cell."""
        return "/".join(f"{v:.2f}" for v in self.mae) + f", {100 * self.off:.2f}%, {self.iou:.4f}"

    def within(self, limits: Limits) -> bool:
        return self.mae_max <= limits.mae and self.off <= limits.off and self.iou >= limits.iou


@dataclass(frozen=True)
class Limits:
    """A threshold: largest channel MAE, largest off share, smallest IoU."""

    mae: float
    off: float
    iou: float


# What "agrees with Cycles at 16 spp" means, per image size (docs/rendering.md "Engines"): no
# further off than thagen's own default, Cycles at 4 spp, is, plus a margin. Cycles 4 spp
# measured (built-in character and Gene, every preset, worst of reset and pose images):
# 256 px: MAE 1.15, off 4.9%, IoU 0.995; 64 px (edges are a larger share): 3.11, 14.8%, 0.982.
THRESHOLDS: dict[int, Limits] = {
    256: Limits(mae=1.5, off=0.06, iou=0.99),
    64: Limits(mae=3.5, off=0.16, iou=0.98),
}


def _premultiplied(rgba: np.ndarray) -> np.ndarray:
    image = np.asarray(rgba, np.float64)
    if image.ndim != 3 or image.shape[2] != 4:
        raise ValueError(f"expected an (H, W, 4) RGBA image, got shape {image.shape}")
    alpha = image[..., 3:4]
    return np.concatenate([image[..., :3] * alpha / 255.0, alpha], axis=2)


def agreement(image: np.ndarray, reference: np.ndarray) -> Agreement:
    """How `image` agrees with `reference` (both (H, W, 4) uint8 RGBA, straight alpha)."""
    a, b = _premultiplied(image), _premultiplied(reference)
    if a.shape != b.shape:
        raise ValueError(f"image {a.shape} and reference {b.shape} differ in size")
    diff = np.abs(a - b)
    mae = diff.reshape(-1, 4).mean(axis=0)
    off = float((diff.max(axis=2) > OFF_LEVELS).mean())
    mask_a, mask_b = a[..., 3] >= 128, b[..., 3] >= 128
    union = int((mask_a | mask_b).sum())
    iou = float((mask_a & mask_b).sum() / union) if union else 1.0
    return Agreement((float(mae[0]), float(mae[1]), float(mae[2]), float(mae[3])), off, iou)


def mean_agreement(items: Sequence[Agreement]) -> Agreement:
    """The mean MAE and off share over several images, and their smallest IoU."""
    if not items:
        raise ValueError("no images to average")
    mae = np.mean([x.mae for x in items], axis=0)
    return Agreement(
        (float(mae[0]), float(mae[1]), float(mae[2]), float(mae[3])),
        float(np.mean([x.off for x in items])),
        float(min(x.iou for x in items)),
    )
