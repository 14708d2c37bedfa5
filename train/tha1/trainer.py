"""THA1's three stages for the shared training loop (`thagen.train.core.loop`).

The morpher learns rest -> expr.png from (left_eye, right_eye, mouth); the rotator learns
expr.png -> rot.png from (head_x, head_y, neck_z), taking the ground-truth expression image as
input (THA1 trained the networks separately); the combiner learns rot.png from the outputs of
the frozen, already trained rotator.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from thagen.errors import ConfigError
from thagen.train.config import STAGES, TrainConfig
from thagen.train.core import checkpoints
from thagen.train.core.loop import (
    Echo,
    LossTerm,
    Precision,
    StageResult,
    StepOutput,
    Trainer,
    data_fingerprint,
    format_eta,
    select_device,
    to_device,
)
from thagen.train.data import ShardInfo
from thagen.train.data.samples import THA1_FORMAT
from thagen.train.tha1.networks import NetSpec, build

__all__ = [
    "Precision",
    "StageResult",
    "StageTrainer",
    "Tha1Task",
    "data_fingerprint",
    "format_eta",
    "run_stage",
    "select_device",
    "to_device",
    "train_all",
    "train_stage",
]


def run_stage(stage: str, model: nn.Module, batch: dict, rotator: nn.Module | None = None) -> StepOutput:
    """One forward pass of a THA1 stage: its L1 terms and the columns of its sample grid."""
    pose = batch["pose"]
    if stage == "morpher":
        pred = model(batch["rest"], pose[:, :3])
        cols = [("rest", batch["rest"]), ("morphed", pred), ("expr.png", batch["expr"])]
        return StepOutput([LossTerm(pred, batch["expr"])], cols)
    if stage == "rotator":
        by_change, by_flow = model(batch["expr"], pose[:, 3:])
        cols = [
            ("expr.png", batch["expr"]),
            ("change", by_change),
            ("flow", by_flow),
            ("rot.png", batch["rot"]),
        ]
        return StepOutput([LossTerm(by_change, batch["rot"]), LossTerm(by_flow, batch["rot"])], cols)
    if stage == "combiner":
        assert rotator is not None
        with torch.no_grad():
            by_change, by_flow = rotator(batch["expr"], pose[:, 3:])
        pred = model(by_change, by_flow, pose[:, 3:])
        cols = [("change", by_change), ("flow", by_flow), ("combined", pred), ("rot.png", batch["rot"])]
        return StepOutput([LossTerm(pred, batch["rot"])], cols)
    raise ValueError(f"unknown stage {stage!r}")


class Tha1Task:
    """One THA1 stage (see the module docstring)."""

    system = "tha1"
    sample_format = THA1_FORMAT

    def __init__(self, cfg: TrainConfig, stage: str) -> None:
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}")
        self.cfg, self.stage, self.stage_index = cfg, stage, STAGES.index(stage)
        self.net_spec = NetSpec(cfg.width, cfg.blocks)
        self.rotator: nn.Module | None = None

    def build(self) -> nn.Module:
        return build(self.stage, self.net_spec, keep_input=self.cfg.stage(self.stage).keep_input_init)

    def spec(self) -> dict[str, object]:
        return dict(self.net_spec.to_dict())

    def record_info(self) -> dict[str, object]:
        return {}

    def prepare(self, shards: list[ShardInfo], device: torch.device, channels_last: bool) -> None:
        if self.stage == "combiner":
            self.rotator = self._frozen_rotator(device, channels_last)

    def forward(self, model: nn.Module, batch: dict) -> StepOutput:
        return run_stage(self.stage, model, batch, self.rotator)

    def _frozen_rotator(self, device: torch.device, channels_last: bool) -> nn.Module:
        path = self.cfg.combiner.rotator_checkpoint
        if path is None:
            path = Path(self.cfg.out_dir) / "rotator" / "model.pt"
            if not path.is_file():
                raise ConfigError(
                    f"{self.cfg.path}: key 'combiner.rotator_checkpoint': not set and {path} does not exist "
                    "(train the rotator first or point to its model.pt)"
                )
        rotator, state = checkpoints.load_network(Path(path), "rotator", device)
        if state["image_size"] != self.cfg.image_size:
            raise ConfigError(
                f"{path}: rotator was trained at {state['image_size']} px, config says {self.cfg.image_size}"
            )
        if channels_last:
            # torch's stubs leave out Module.to(memory_format=...), which Module.to accepts
            rotator.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        return rotator


class StageTrainer(Trainer):
    """The shared loop on one THA1 stage: `StageTrainer(cfg, "rotator").run()`."""

    def __init__(self, cfg: TrainConfig, stage: str, *, echo: Echo = print) -> None:
        super().__init__(cfg, Tha1Task(cfg, stage), echo=echo)


def train_stage(
    cfg: TrainConfig,
    stage: str,
    *,
    resume: bool = False,
    overwrite: bool = False,
    echo: Echo = print,
    on_step: Callable[[int], None] | None = None,
) -> StageResult:
    """Train one network from `cfg`; see StageTrainer."""
    return StageTrainer(cfg, stage, echo=echo).run(resume=resume, overwrite=overwrite, on_step=on_step)


def train_all(
    cfg: TrainConfig, *, resume: bool = False, overwrite: bool = False, echo: Echo = print
) -> list[StageResult]:
    """Morpher, rotator, then combiner (which freezes the rotator just trained)."""
    return [train_stage(cfg, s, resume=resume, overwrite=overwrite, echo=echo) for s in STAGES]
