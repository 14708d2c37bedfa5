"""Evaluation of THA1's full system (morpher -> rotator -> combiner) on a held-out split.

THA1 reports RMSE and SSIM of the full system's output against the rendered expression+rotation
image on characters kept out of training. We do the same: the rest image and the sample's pose
go in, `rot.png` is the target. Each figure is printed beside copy-the-input on the same samples
(`thagen.train.core.scoring`), and THA1's published figures only when the run is comparable with them
(256 px, full width). Metric space: see thagen.train.core.metrics.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from thagen.errors import ConfigError
from thagen.train.core import checkpoints
from thagen.train.core.logs import save_grid
from thagen.train.core.runtime import select_device, to_device
from thagen.train.core.scoring import METRIC_SPACE, Figure, figure_line, heat, write_report
from thagen.train.data import EpochBatches, list_shards
from thagen.train.data.shard_index import eval_split_dir
from thagen.train.tha1.networks import Network

THA1_REPORTED = {"rmse": [0.00979, 0.01008], "ssim": [0.8508, 0.8541]}


@dataclass
class System:
    """The three trained networks, ready for inference."""

    morpher: nn.Module
    rotator: nn.Module
    combiner: nn.Module
    image_size: int
    config: dict
    spec: dict[str, object]

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
    spec: dict[str, object] = {}
    for stage in ("morpher", "rotator", "combiner"):
        nets[stage], state = checkpoints.load_network(
            checkpoints.stage_model_path(checkpoints_dir, stage), stage, device
        )
        sizes.add(state["image_size"])
        config = state.get("config") or config
        spec = dict(state["spec"])
    if len(sizes) != 1:
        raise ConfigError(
            f"{checkpoints_dir}: the three networks were trained at different image sizes {sorted(sizes)}"
        )
    return System(nets["morpher"], nets["rotator"], nets["combiner"], sizes.pop(), config, spec)


def tha1_comparable(image_size: int, spec: dict[str, object]) -> bool:
    """THA1's published figures are for 256 px images and full-width networks (64 channels, 6
    residual blocks) on its own data: only then are they printed beside ours."""
    return image_size == 256 and spec.get("width") == 64 and spec.get("blocks") == 6


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
    data_dir, split_dir = eval_split_dir(checkpoints_dir, system.config, data_dir, split)
    shards = list_shards(split_dir)
    out_dir = Path(out_dir) if out_dir else Path(checkpoints_dir) / f"eval-{split}"
    out_dir.mkdir(parents=True, exist_ok=True)
    batches = EpochBatches(
        shards, batch_size=batch_size, image_size=system.image_size, seed=0, epoch=0, shuffle=False,
        num_workers=num_workers,
    )  # fmt: skip
    full = Figure("rot.png")
    morph = Figure("expr.png")
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
        full.add(outs["final"], batch["rest"], batch["rot"], batch["character"])
        morph.add(outs["morphed"], batch["rest"], batch["expr"])
        n += len(batch["character"])
        if comparison is None:
            comparison = save_grid(
                [
                    ("rest", batch["rest"]),
                    ("morphed", outs["morphed"]),
                    ("output", outs["final"]),
                    ("rot.png", batch["rot"]),
                    ("|err|x4", heat(outs["final"], batch["rot"])),
                ],
                out_dir / "comparison.png",
                rows=6,
            )
    if n == 0:
        raise ConfigError(f"{split_dir}: no samples to evaluate")
    spec = system.spec
    comparable = tha1_comparable(system.image_size, spec)
    report: dict[str, Any] = {
        "system": "tha1",
        "split": split,
        "data_dir": str(data_dir),
        "checkpoints": str(checkpoints_dir),
        "image_size": system.image_size,
        "network": spec,
        "samples": n,
        "characters": len(full.per_character),
        "metric_space": METRIC_SPACE,
        "full_system": full.result(),
        "morpher_only": morph.result(),
        "per_character": full.characters(),
        "tha1_reported_full_system": {**THA1_REPORTED, "comparable": comparable},
        "comparison_image": str(comparison),
    }
    path = write_report(out_dir / "report.json", report)
    report["report_path"] = str(path)
    echo(f"{split}: {n} samples, {len(full.per_character)} characters, {system.image_size} px -> {path}")
    echo("  " + figure_line("full system", report["full_system"]))
    echo("  " + figure_line("morpher only", report["morpher_only"]))
    if comparable:
        echo("  THA1 reported (256 px, full width, its own test set): RMSE 0.0098-0.0101, SSIM 0.851-0.854")
    else:
        echo(
            f"  (THA1's published figures are for 256 px full-width networks; not comparable with "
            f"{system.image_size} px, width {spec.get('width')}, {spec.get('blocks')} blocks)"
        )
    return report
