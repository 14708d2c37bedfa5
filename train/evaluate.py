"""Evaluation of the full system (morpher -> rotator -> combiner) on a held-out split.

THA1 reports RMSE and SSIM of the full system's output against the rendered expression+rotation
image on characters kept out of training. We do the same: the rest image and the sample's pose
go in, `rot.png` is the target. Metric space: see thagen.train.metrics.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from thagen.errors import ConfigError
from thagen.train import checkpoints
from thagen.train.data import EpochBatches, list_shards
from thagen.train.images import srgb_to_linear
from thagen.train.logs import save_grid
from thagen.train.metrics import rmse, ssim, to_metric_space
from thagen.train.networks import Network
from thagen.train.trainer import select_device, to_device

THA1_REPORTED = {"rmse": [0.00979, 0.01008], "ssim": [0.8508, 0.8541]}
METRIC_SPACE = (
    "per-image figures on RGBA in [0, 1]: sRGB-encoded colour premultiplied by alpha, straight alpha; "
    "SSIM: 11x11 Gaussian window, sigma 1.5, K1=0.01, K2=0.03, valid positions, mean over channels; "
    "then averaged over images"
)


@dataclass
class System:
    """The three trained networks, ready for inference."""

    morpher: nn.Module
    rotator: nn.Module
    combiner: nn.Module
    image_size: int
    config: dict

    @torch.no_grad()
    def __call__(self, rest: torch.Tensor, pose: torch.Tensor) -> dict[str, torch.Tensor]:
        morphed = self.morpher(rest, pose[:, :3])
        by_change, by_flow = self.rotator(morphed, pose[:, 3:])
        final = self.combiner(by_change, by_flow, pose[:, 3:])
        return {"morphed": morphed, "by_change": by_change, "by_flow": by_flow, "final": final}


def load_system(checkpoints_dir: Path, device: torch.device | str = "cpu") -> System:
    """Load OUT/{morpher,rotator,combiner}/model.pt (or last.pt) from a training output folder."""
    nets: dict[str, Network] = {}
    sizes: set[int] = set()
    config: dict[str, Any] = {}
    for stage in ("morpher", "rotator", "combiner"):
        nets[stage], state = checkpoints.load_network(
            checkpoints.stage_model_path(checkpoints_dir, stage), stage, device
        )
        sizes.add(state["image_size"])
        config = state.get("config") or config
    if len(sizes) != 1:
        raise ConfigError(
            f"{checkpoints_dir}: the three networks were trained at different image sizes {sorted(sizes)}"
        )
    return System(nets["morpher"], nets["rotator"], nets["combiner"], sizes.pop(), config)


def _heat(a: torch.Tensor, b: torch.Tensor, gain: float = 4.0) -> torch.Tensor:
    """|a - b| (metric space, max over channels) as an opaque grey network-space image."""
    err = ((a - b).abs().amax(1, keepdim=True) * gain).clamp(0, 1)
    grey = srgb_to_linear(err).expand(-1, 3, -1, -1)
    return torch.cat([grey, torch.ones_like(err)], 1) * 2 - 1


def evaluate(
    checkpoints_dir: Path,
    *,
    split: str = "test",
    data_dir: Path | None = None,
    out_dir: Path | None = None,
    batch_size: int = 8,
    max_samples: int | None = None,
    device: str = "auto",
    num_workers: int = 0,
    echo: Callable[[str], None] = print,
) -> dict:
    """Run the system over a split; writes report.json and comparison.png; returns the report."""
    dev = select_device(device)
    system = load_system(Path(checkpoints_dir), dev)
    if data_dir is None:
        data_dir = system.config.get("data_dir")
        if not data_dir:
            raise ConfigError(f"{checkpoints_dir}: the checkpoints do not record a data_dir; pass --data DIR")
    split_name = (system.config.get("splits") or {}).get(split, split)
    shards = list_shards(Path(data_dir) / split_name)
    out_dir = Path(out_dir) if out_dir else Path(checkpoints_dir) / f"eval-{split}"
    out_dir.mkdir(parents=True, exist_ok=True)
    batches = EpochBatches(
        shards, batch_size=batch_size, image_size=system.image_size, seed=0, epoch=0, shuffle=False,
        num_workers=num_workers,
    )  # fmt: skip
    sums: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])  # character -> rmse, ssim, n
    morph_rmse = morph_ssim = 0.0
    n = 0
    comparison = None
    for batch in batches:
        if max_samples is not None and n >= max_samples:
            break
        if max_samples is not None and n + len(batch["key"]) > max_samples:
            keep = max_samples - n
            batch = {k: v[:keep] for k, v in batch.items() if k not in ("worker", "seq")}
        batch = to_device(batch, dev, False)
        outs = system(batch["rest"], batch["pose"])
        pred, target = to_metric_space(outs["final"]), to_metric_space(batch["rot"])
        r, s = rmse(pred, target).cpu(), ssim(pred, target).cpu()
        m_pred, m_target = to_metric_space(outs["morphed"]), to_metric_space(batch["expr"])
        morph_rmse += float(rmse(m_pred, m_target).sum())
        morph_ssim += float(ssim(m_pred, m_target).sum())
        for i, ch in enumerate(batch["character"]):
            acc = sums[ch]
            acc[0] += float(r[i])
            acc[1] += float(s[i])
            acc[2] += 1
        n += len(batch["character"])
        if comparison is None:
            comparison = save_grid(
                [
                    ("rest", batch["rest"]),
                    ("morphed", outs["morphed"]),
                    ("output", outs["final"]),
                    ("rot.png", batch["rot"]),
                    ("|err|x4", _heat(pred, target)),
                ],
                out_dir / "comparison.png",
                rows=6,
            )
    if n == 0:
        raise ConfigError(f"{Path(data_dir) / split_name}: no samples to evaluate")
    total_r = sum(v[0] for v in sums.values())
    total_s = sum(v[1] for v in sums.values())
    report: dict[str, Any] = {
        "split": split,
        "data_dir": str(data_dir),
        "checkpoints": str(checkpoints_dir),
        "image_size": system.image_size,
        "samples": n,
        "characters": len(sums),
        "metric_space": METRIC_SPACE,
        "full_system": {"rmse": total_r / n, "ssim": total_s / n},
        "morpher_only": {"rmse": morph_rmse / n, "ssim": morph_ssim / n, "target": "expr.png"},
        "per_character": {
            ch: {"samples": int(v[2]), "rmse": v[0] / v[2], "ssim": v[1] / v[2]}
            for ch, v in sorted(sums.items())
        },
        "tha1_reported_full_system": THA1_REPORTED,
        "comparison_image": str(comparison),
    }
    path = out_dir / "report.json"
    tmp = path.with_name(f"report.json.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(report, indent=2) + "\n")
    os.replace(tmp, path)
    report["report_path"] = str(path)
    echo(
        f"{split}: {n} samples, {len(sums)} characters: RMSE {report['full_system']['rmse']:.5f}, "
        f"SSIM {report['full_system']['ssim']:.4f} (THA1: RMSE 0.0098-0.0101, SSIM 0.851-0.854) -> {path}"
    )
    return report
