"""Evaluation figures with their honest baseline: every RMSE / SSIM beside copy-the-input's.

A figure alone says little: on a test set where most pixels do not move, an untrained network
that hands back its input already scores a low RMSE and a high SSIM. So every comparison here
also scores *copy the input* (the stage's input image taken as the prediction) on the very same
samples, and reports the two side by side; what a network learned is the gap between them.
Metric space: `thagen.train.core.metrics` (premultiplied sRGB RGBA in [0, 1], per image, averaged).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from thagen.train.core.metrics import rmse, ssim, to_metric_space
from thagen.train.data.images import srgb_to_linear

METRIC_SPACE = (
    "per-image figures on RGBA in [0, 1]: sRGB-encoded colour premultiplied by alpha, straight alpha; "
    "SSIM: 11x11 Gaussian window, sigma 1.5, K1=0.01, K2=0.03, valid positions, mean over channels; "
    "then averaged over images; 'baseline' = the same figures for copying the input unchanged"
)


@dataclass
class Sums:
    """Running sums of per-image RMSE and SSIM."""

    rmse: float = 0.0
    ssim: float = 0.0
    n: int = 0

    def mean(self) -> dict[str, float]:
        return {"rmse": self.rmse / max(1, self.n), "ssim": self.ssim / max(1, self.n)}


@dataclass
class Figure:
    """One comparison (a stage output against its target), with copy-the-input beside it."""

    target: str  # what the prediction is compared with, e.g. "rot.png"
    model: Sums = field(default_factory=Sums)
    baseline: Sums = field(default_factory=Sums)
    per_character: dict[str, tuple[Sums, Sums]] = field(default_factory=dict)

    def add(
        self,
        prediction: torch.Tensor,
        copied_input: torch.Tensor,
        target: torch.Tensor,
        characters: list[str] | None = None,
    ) -> None:
        """Score a batch of network-space images (B, 4, H, W)."""
        t = to_metric_space(target)
        scores = []
        for image in (prediction, copied_input):
            p = to_metric_space(image)
            scores.append((rmse(p, t).cpu(), ssim(p, t).cpu()))
        for sums, (r, s) in zip((self.model, self.baseline), scores, strict=True):
            sums.rmse += float(r.sum())
            sums.ssim += float(s.sum())
            sums.n += len(r)
        for i, ch in enumerate(characters or []):
            mine = self.per_character.setdefault(ch, (Sums(), Sums()))
            for sums, (r, s) in zip(mine, scores, strict=True):
                sums.rmse += float(r[i])
                sums.ssim += float(s[i])
                sums.n += 1

    def result(self) -> dict[str, object]:
        return {
            **self.model.mean(),
            "baseline": self.baseline.mean(),
            "target": self.target,
            "samples": self.model.n,
        }

    def characters(self) -> dict[str, dict[str, object]]:
        return {
            ch: {"samples": m.n, **m.mean(), "baseline": b.mean()}
            for ch, (m, b) in sorted(self.per_character.items())
        }


def figure_line(name: str, result: dict[str, object]) -> str:
    """`name: RMSE 0.01234 (copy-the-input 0.02345), SSIM 0.8123 (copy-the-input 0.8000)`."""
    base = result["baseline"]
    assert isinstance(base, dict)
    return (
        f"{name}: RMSE {result['rmse']:.5f} (copy-the-input {base['rmse']:.5f}), "
        f"SSIM {result['ssim']:.4f} (copy-the-input {base['ssim']:.4f}) vs {result['target']}"
    )


def heat(a: torch.Tensor, b: torch.Tensor, gain: float = 4.0) -> torch.Tensor:
    """|a - b| in metric space (max over channels) x gain, as an opaque grey network-space image."""
    err = ((to_metric_space(a) - to_metric_space(b)).abs().amax(1, keepdim=True) * gain).clamp(0, 1)
    grey = srgb_to_linear(err).expand(-1, 3, -1, -1)
    return torch.cat([grey, torch.ones_like(err)], 1) * 2 - 1


def write_report(path: Path, report: dict[str, object]) -> Path:
    """report.json, written under a temporary name and renamed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(report, indent=2) + "\n")
    os.replace(tmp, path)
    return path
