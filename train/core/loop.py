"""The training loop every stage of every system runs, with exact resume.

A *stage task* (THA1's morpher, rotator, combiner in `thagen.train.tha1.trainer`; THA3's five in
`thagen.train.tha3_training.stages`) says what network to build, which images and pose a batch
needs and how one forward pass turns a batch into loss terms. This module does the rest once for
all of them: device and mixed precision, Adam, the epoch loop over `EpochBatches`, logs, sample
grids, validation loss, checkpoints (`last.pt` with the whole state, `model.pt` at the end),
Ctrl-C, and resume that reproduces an uninterrupted run bit for bit.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import nn

from thagen.errors import ConfigError
from thagen.train.config import RunConfig, StageSettings
from thagen.train.core import checkpoints
from thagen.train.core.logs import RunLog, save_grid
from thagen.train.core.runtime import (
    Precision,
    format_eta,
    rng_state,
    seed_everything,
    select_device,
    set_rng_state,
    to_device,
)
from thagen.train.data import LOADER_ORDER_VERSION, EpochBatches, SampleFormat, ShardInfo, list_shards

__all__ = [
    "Echo",
    "LossTerm",
    "Precision",
    "StageResult",
    "StageSettings",
    "StageTask",
    "StepOutput",
    "Trainer",
    "data_fingerprint",
    "format_eta",
    "select_device",
    "to_device",
]

Echo = Callable[[str], None]
Columns = list[tuple[str, torch.Tensor]]


@dataclass(frozen=True)
class LossTerm:
    """One L1 term of a stage's loss: `weight * |prediction - target|` (mean)."""

    prediction: torch.Tensor
    target: torch.Tensor
    weight: float = 1.0


@dataclass
class StepOutput:
    """A forward pass: the loss terms and the columns of the sample grid."""

    terms: list[LossTerm]
    columns: Columns


class StageTask(Protocol):
    """What one stage of one system is: see the module docstring."""

    system: str
    stage: str
    stage_index: int  # seeds each stage differently: seed + 1000 * stage_index

    @property
    def sample_format(self) -> SampleFormat:
        """The images and pose format a batch of this stage holds."""
        ...

    def build(self) -> nn.Module: ...

    def spec(self) -> dict[str, object]:
        """The network's size (and anything else that must match to resume or load it)."""
        ...

    def prepare(self, shards: list[ShardInfo], device: torch.device, channels_last: bool) -> None:
        """Check the shards carry the stage's images; load frozen networks it feeds on."""
        ...

    def forward(self, model: nn.Module, batch: dict) -> StepOutput: ...

    def record_info(self) -> dict[str, object]:
        """Extra facts for model.pt (e.g. which inputs the stage was trained on)."""
        ...


def data_fingerprint(shards: list[ShardInfo], cfg: RunConfig, sc: StageSettings) -> dict:
    """What must match for a resumed run to see the same batches."""
    return {
        "shards": [[s.path.name, s.count] for s in shards],
        "num_workers": cfg.num_workers,
        "world_size": 1,
        "batch_size": sc.batch_size,
        "seed": cfg.seed,
        "shuffle_buffer": cfg.shuffle_buffer,
        "open_shards": cfg.open_shards,
        "drop_last": cfg.drop_last,
        "loader": LOADER_ORDER_VERSION,
    }


@dataclass
class StageResult:
    stage: str
    steps: int
    loss: float | None
    model_path: Path
    out_dir: Path


class Trainer:
    """Trains one stage task; `run()` goes from a fresh start or the last checkpoint to the end."""

    def __init__(self, cfg: RunConfig, task: StageTask, *, echo: Echo = print) -> None:
        self.cfg, self.task, self.echo = cfg, task, echo
        self.stage = task.stage
        self.sc: StageSettings = cfg.stage(task.stage)
        self.out = Path(cfg.out_dir) / task.stage
        self.device = select_device(cfg.device)
        self.precision = Precision.choose(self.device, cfg.amp)
        self.channels_last = cfg.channels_last and self.device.type == "cuda"
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # fixed input sizes: let cuDNN pick its kernels
        self.seed = cfg.seed + 1000 * task.stage_index
        seed_everything(self.seed)
        self.model = task.build().to(self.device)
        if self.channels_last:
            # torch's stubs leave out Module.to(memory_format=...), which Module.to accepts
            self.model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=self.sc.lr, betas=self.sc.betas)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.precision.scaler)
        self.shards = list_shards(cfg.split_dir("train"))
        task.prepare(self.shards, self.device, self.channels_last)
        self.perceptual = self._perceptual()
        self.step = 0
        self.epoch = 0
        self.batch_in_epoch = 0

    def _perceptual(self) -> nn.Module | None:
        if self.sc.perceptual_weight <= 0:
            return None
        if self.cfg.perceptual_weights is None:
            raise ConfigError(
                f"{self.cfg.path}: key 'perceptual_weights': {self.stage}.perceptual_weight > 0 needs a local VGG16 weights file"
            )
        from thagen.train.core.perceptual import PerceptualLoss

        return PerceptualLoss(self.cfg.perceptual_weights).to(self.device)

    # -- schedule --------------------------------------------------------------------------
    def epoch_batches(self, epoch: int, start: int = 0) -> EpochBatches:
        return EpochBatches(
            self.shards, batch_size=self.sc.batch_size, image_size=self.cfg.image_size, seed=self.cfg.seed,
            epoch=epoch, start=start, shuffle=True, shuffle_buffer=self.cfg.shuffle_buffer,
            open_shards=self.cfg.open_shards, drop_last=self.cfg.drop_last, num_workers=self.cfg.num_workers,
            pin_memory=self.device.type == "cuda", sample_format=self.task.sample_format,
        )  # fmt: skip

    def total_steps(self) -> int:
        if self.sc.epochs is None:
            if self.sc.max_steps is None:  # the config parser refuses this
                raise ConfigError(f"{self.cfg.path}: key '{self.stage}.epochs': set epochs or max_steps")
            return self.sc.max_steps
        total = sum(self.epoch_batches(e).total for e in range(self.sc.epochs))
        return min(total, self.sc.max_steps) if self.sc.max_steps else total

    def finished(self) -> bool:
        if self.sc.max_steps is not None and self.step >= self.sc.max_steps:
            return True
        return self.sc.epochs is not None and self.epoch >= self.sc.epochs

    # -- checkpoints -----------------------------------------------------------------------
    def state(self) -> dict:
        return {
            "format": checkpoints.FORMAT,
            "system": self.task.system,
            "stage": self.stage,
            "spec": self.task.spec(),
            "image_size": self.cfg.image_size,
            "model": checkpoints.cpu_state_dict(self.model),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "step": self.step,
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "rng": rng_state(),
            "data": data_fingerprint(self.shards, self.cfg, self.sc),
            "config": self.cfg.to_dict(),
        }

    def save(self) -> Path:
        path = self.out / "last.pt"
        checkpoints.save_atomic(self.state(), path)
        return path

    def restore(self, path: Path) -> None:
        state = checkpoints.load(path)
        checkpoints.check_kind(state, path, self.task.system, self.stage)
        if state["spec"] != self.task.spec() or state["image_size"] != self.cfg.image_size:
            raise ConfigError(
                f"{path}: network {state['spec']} at {state['image_size']} px differs from the config "
                f"({self.task.spec()} at {self.cfg.image_size} px)"
            )
        want = data_fingerprint(self.shards, self.cfg, self.sc)
        for key, value in want.items():
            if state["data"].get(key) != value:
                what = "the loader's sample order" if key == "loader" else f"key '{key}'"
                raise ConfigError(
                    f"{self.cfg.path}: {what}: differs from the checkpoint {path} "
                    f"({state['data'].get(key)!r} there); an exact resume needs the same data setup"
                )
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scaler.load_state_dict(state["scaler"])
        self.step, self.epoch, self.batch_in_epoch = state["step"], state["epoch"], state["batch_in_epoch"]
        set_rng_state(state["rng"])

    # -- one step --------------------------------------------------------------------------
    def loss(self, out: StepOutput) -> torch.Tensor:
        total = torch.zeros((), device=self.device)
        for t in out.terms:
            total = total + t.weight * F.l1_loss(t.prediction.float(), t.target.float())
            if self.perceptual is not None:
                total = total + self.sc.perceptual_weight * t.weight * self.perceptual(t.prediction, t.target)
        return total

    def train_step(self, batch: dict) -> tuple[torch.Tensor, Columns]:
        self.model.train()
        with self.precision.autocast(self.device):
            out = self.task.forward(self.model, batch)
            loss = self.loss(out)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return loss.detach(), out.columns

    @torch.no_grad()
    def validation_loss(self) -> float | None:
        try:
            shards = list_shards(self.cfg.split_dir("val"))
        except Exception:  # noqa: BLE001 - no val split: no val loss
            return None
        wanted = {f"{n}.png" for n in self.task.sample_format.images}
        if any(not wanted <= s.members for s in shards):
            return None  # a val split without this stage's images (e.g. no eyebrow layers): no val loss
        batches = EpochBatches(
            shards, batch_size=self.sc.batch_size, image_size=self.cfg.image_size, seed=self.cfg.seed, epoch=0,
            shuffle=False, num_workers=0, sample_format=self.task.sample_format,
        )  # fmt: skip
        self.model.eval()
        total, n = 0.0, 0
        for i, batch in enumerate(batches):
            if i >= self.cfg.val_batches:
                break
            batch = to_device(batch, self.device, self.channels_last)
            with self.precision.autocast(self.device):
                out = self.task.forward(self.model, batch)
                total += float(
                    sum(t.weight * F.l1_loss(t.prediction.float(), t.target.float()) for t in out.terms)
                )
            n += 1
        return total / n if n else None

    # -- the loop --------------------------------------------------------------------------
    def run(
        self, *, resume: bool = False, overwrite: bool = False, on_step: Callable[[int], None] | None = None
    ) -> StageResult:
        last = self.out / "last.pt"
        if resume and last.is_file():
            self.restore(last)
            self.echo(
                f"[{self.stage}] resumed from {last} at step {self.step} (epoch {self.epoch}, batch {self.batch_in_epoch})"
            )
        elif last.is_file() and not overwrite:
            raise ConfigError(
                f"{last}: a checkpoint exists; pass --resume to continue it or --overwrite to start over"
            )
        log = RunLog(self.out, resume_step=self.step)
        total = self.total_steps()
        self.echo(
            f"[{self.stage}] {sum(s.count for s in self.shards)} samples in {len(self.shards)} shards; "
            f"{total} steps; device {self.device}"
            + (
                f", autocast {str(self.precision.dtype).removeprefix('torch.')}"
                if self.precision.enabled
                else ""
            )
            + (", channels_last" if self.channels_last else "")
        )
        acc, acc_n = torch.zeros((), device=self.device), 0
        t_log, s_log, t0 = time.perf_counter(), self.step, time.perf_counter()
        last_loss: float | None = None
        try:
            while not self.finished():
                batches = self.epoch_batches(self.epoch, self.batch_in_epoch)
                if batches.total == 0:
                    raise ConfigError(
                        f"{self.cfg.path}: key '{self.stage}.batch_size': epoch {self.epoch} has no batches "
                        f"({sum(s.count for s in self.shards)} samples, batch {self.sc.batch_size}, drop_last {self.cfg.drop_last})"
                    )
                for batch in batches:
                    batch = to_device(batch, self.device, self.channels_last)
                    loss, columns = self.train_step(batch)
                    self.step += 1
                    self.batch_in_epoch += 1
                    acc, acc_n = acc + loss, acc_n + 1
                    if self.cfg.sample_every and self.step % self.cfg.sample_every == 0:
                        save_grid(columns, self.out / "samples" / f"step_{self.step:07d}.png")
                    if self.step % self.cfg.log_every == 0 or self.finished():
                        last_loss = float(acc) / acc_n
                        self._log(
                            log,
                            last_loss,
                            total,
                            (self.step - s_log) / max(time.perf_counter() - t_log, 1e-9),
                            t0,
                        )
                        acc, acc_n, t_log, s_log = (
                            torch.zeros((), device=self.device),
                            0,
                            time.perf_counter(),
                            self.step,
                        )
                    if self.cfg.checkpoint_every and self.step % self.cfg.checkpoint_every == 0:
                        self.save()
                        log.plot()
                    if on_step is not None:
                        on_step(self.step)
                    if self.finished():
                        break
                else:
                    self.epoch += 1
                    self.batch_in_epoch = 0
        except KeyboardInterrupt:
            self.save()
            log.plot()
            log.close()
            self.echo(f"[{self.stage}] interrupted: saved step {self.step} to {last}; continue with --resume")
            raise
        self.save()
        model_path = self.out / "model.pt"
        record = checkpoints.model_record(
            self.stage, self.model, self.cfg.image_size, self.step, self.cfg.to_dict(),
            system=self.task.system, spec=self.task.spec(), info=self.task.record_info(),
        )  # fmt: skip
        checkpoints.save_atomic(record, model_path)
        log.plot()
        log.close()
        self.echo(f"[{self.stage}] done at step {self.step}: {model_path}")
        return StageResult(self.stage, self.step, last_loss, model_path, self.out)

    def _log(self, log: RunLog, loss: float, total: int, rate: float, t0: float) -> None:
        rec: dict[str, float | int] = {
            "step": self.step,
            "epoch": self.epoch,
            "loss": loss,
            "lr": self.sc.lr,
            "steps_per_s": rate,
            "samples_per_s": rate * self.sc.batch_size,
            "time_s": time.perf_counter() - t0,
        }
        if self.cfg.val_every and self.step % self.cfg.val_every == 0:
            val = self.validation_loss()
            if val is not None:
                rec["val_loss"] = val
        log.add(rec)
        eta = (total - self.step) / rate if rate > 0 else math.inf
        self.echo(
            f"[{self.stage}] step {self.step}/{total} epoch {self.epoch} loss {loss:.5f}"
            + (f" val {rec['val_loss']:.5f}" if "val_loss" in rec else "")
            + f" | {rate:.2f} steps/s, ETA {format_eta(eta)}"
        )
