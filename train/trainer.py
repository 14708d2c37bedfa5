"""Training loop for one network (stage), with exact resume.

The morpher learns rest -> expr.png from (left_eye, right_eye, mouth); the rotator learns
expr.png -> rot.png from (head_x, head_y, neck_z), taking the ground-truth expression image as
input (THA1 trained the networks separately); the combiner learns rot.png from the outputs of
the frozen, already trained rotator.
"""

from __future__ import annotations

import contextlib
import functools
import math
import operator
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from thagen.errors import ConfigError
from thagen.train import checkpoints
from thagen.train.config import STAGES, StageConfig, TrainConfig
from thagen.train.data import EpochBatches, ShardInfo, batch_counts, epoch_plans, list_shards
from thagen.train.images import to_network
from thagen.train.logs import RunLog, save_grid
from thagen.train.networks import NetSpec, build

Echo = Callable[[str], None]


def select_device(name: str) -> torch.device:
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("key 'device': cuda was asked for but torch sees no CUDA device")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


@dataclass(frozen=True)
class Precision:
    """Autocast settings: bf16 where the GPU has it (no loss scaling needed), else fp16 + scaler."""

    enabled: bool
    dtype: torch.dtype
    scaler: bool

    @staticmethod
    def choose(device: torch.device, amp: bool) -> Precision:
        if device.type != "cuda" or not amp:
            return Precision(False, torch.float32, False)
        if torch.cuda.is_bf16_supported():
            return Precision(True, torch.bfloat16, False)
        return Precision(True, torch.float16, True)

    def autocast(self, device: torch.device) -> contextlib.AbstractContextManager[Any]:
        if not self.enabled:
            return contextlib.nullcontext()
        return torch.autocast(device_type=device.type, dtype=self.dtype)


def to_device(batch: dict, device: torch.device, channels_last: bool) -> dict:
    """Move a loader batch to the device and convert its uint8 images to network values there."""
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    out = dict(batch)
    for k in ("rest", "expr", "rot"):
        out[k] = to_network(batch[k].to(device, non_blocking=True)).contiguous(memory_format=fmt)
    out["pose"] = batch["pose"].to(device, non_blocking=True)
    return out


def run_stage(
    stage: str, model: nn.Module, batch: dict, rotator: nn.Module | None = None
) -> tuple[list[tuple[torch.Tensor, torch.Tensor]], list[tuple[str, torch.Tensor]]]:
    """One forward pass: (prediction, target) pairs for the loss, and columns for sample grids."""
    pose = batch["pose"]
    if stage == "morpher":
        pred = model(batch["rest"], pose[:, :3])
        return [(pred, batch["expr"])], [
            ("rest", batch["rest"]),
            ("morphed", pred),
            ("expr.png", batch["expr"]),
        ]
    if stage == "rotator":
        by_change, by_flow = model(batch["expr"], pose[:, 3:])
        pairs = [(by_change, batch["rot"]), (by_flow, batch["rot"])]
        cols = [
            ("expr.png", batch["expr"]),
            ("change", by_change),
            ("flow", by_flow),
            ("rot.png", batch["rot"]),
        ]
        return pairs, cols
    if stage == "combiner":
        assert rotator is not None
        with torch.no_grad():
            by_change, by_flow = rotator(batch["expr"], pose[:, 3:])
        pred = model(by_change, by_flow, pose[:, 3:])
        cols = [("change", by_change), ("flow", by_flow), ("combined", pred), ("rot.png", batch["rot"])]
        return [(pred, batch["rot"])], cols
    raise ValueError(f"unknown stage {stage!r}")


def rng_state() -> dict:
    return {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def data_fingerprint(shards: list[ShardInfo], cfg: TrainConfig, sc: StageConfig) -> dict:
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
    }


@dataclass
class StageResult:
    stage: str
    steps: int
    loss: float | None
    model_path: Path
    out_dir: Path


class StageTrainer:
    """Trains one stage; `run()` goes from a fresh start or the last checkpoint to the end."""

    def __init__(self, cfg: TrainConfig, stage: str, *, echo: Echo = print) -> None:
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}")
        self.cfg, self.stage, self.sc, self.echo = cfg, stage, cfg.stage(stage), echo
        self.out = Path(cfg.out_dir) / stage
        self.device = select_device(cfg.device)
        self.precision = Precision.choose(self.device, cfg.amp)
        self.channels_last = cfg.channels_last and self.device.type == "cuda"
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # fixed input sizes: let cuDNN pick its kernels
        self.seed = cfg.seed + 1000 * STAGES.index(stage)
        seed_everything(self.seed)
        self.model = build(stage, NetSpec(cfg.width, cfg.blocks)).to(self.device)
        if self.channels_last:
            # torch's stubs leave out Module.to(memory_format=...), which Module.to accepts
            self.model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=self.sc.lr, betas=self.sc.betas)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.precision.scaler)
        self.rotator = self._frozen_rotator() if stage == "combiner" else None
        self.perceptual = self._perceptual()
        self.shards = list_shards(cfg.split_dir("train"))
        self.step = 0
        self.epoch = 0
        self.batch_in_epoch = 0

    # -- setup -----------------------------------------------------------------------------
    def _frozen_rotator(self) -> nn.Module:
        path = self.sc.rotator_checkpoint
        if path is None:
            path = Path(self.cfg.out_dir) / "rotator" / "model.pt"
            if not path.is_file():
                raise ConfigError(
                    f"{self.cfg.path}: key 'combiner.rotator_checkpoint': not set and {path} does not exist "
                    "(train the rotator first or point to its model.pt)"
                )
        rotator, state = checkpoints.load_network(Path(path), "rotator", self.device)
        if state["image_size"] != self.cfg.image_size:
            raise ConfigError(
                f"{path}: rotator was trained at {state['image_size']} px, config says {self.cfg.image_size}"
            )
        if self.channels_last:
            # torch's stubs leave out Module.to(memory_format=...), which Module.to accepts
            rotator.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        return rotator

    def _perceptual(self) -> nn.Module | None:
        if self.sc.perceptual_weight <= 0:
            return None
        if self.cfg.perceptual_weights is None:
            raise ConfigError(
                f"{self.cfg.path}: key 'perceptual_weights': {self.stage}.perceptual_weight > 0 needs a local VGG16 weights file"
            )
        from thagen.train.perceptual import PerceptualLoss

        return PerceptualLoss(self.cfg.perceptual_weights).to(self.device)

    # -- schedule --------------------------------------------------------------------------
    def epoch_length(self, epoch: int) -> int:
        plans = epoch_plans(
            self.shards,
            seed=self.cfg.seed,
            epoch=epoch,
            shuffle=True,
            total_workers=max(1, self.cfg.num_workers),
        )
        return sum(batch_counts(plans, self.sc.batch_size, self.cfg.drop_last))

    def total_steps(self) -> int:
        if self.sc.epochs is None:
            if self.sc.max_steps is None:  # config_from_dict refuses this
                raise ConfigError(f"{self.cfg.path}: key '{self.stage}.epochs': set epochs or max_steps")
            return self.sc.max_steps
        total = sum(self.epoch_length(e) for e in range(self.sc.epochs))
        return min(total, self.sc.max_steps) if self.sc.max_steps else total

    def finished(self) -> bool:
        if self.sc.max_steps is not None and self.step >= self.sc.max_steps:
            return True
        return self.sc.epochs is not None and self.epoch >= self.sc.epochs

    # -- checkpoints -----------------------------------------------------------------------
    def state(self) -> dict:
        return {
            "format": checkpoints.FORMAT,
            "stage": self.stage,
            "spec": self.model.spec.to_dict(),
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
        if state.get("stage") != self.stage:
            raise ConfigError(f"{path}: is a {state.get('stage')} checkpoint, not {self.stage}")
        if state["spec"] != self.model.spec.to_dict() or state["image_size"] != self.cfg.image_size:
            raise ConfigError(
                f"{path}: network size {state['spec']} at {state['image_size']} px differs from the config "
                f"({self.model.spec.to_dict()} at {self.cfg.image_size} px)"
            )
        want = data_fingerprint(self.shards, self.cfg, self.sc)
        for key, value in want.items():
            if state["data"].get(key) != value:
                raise ConfigError(
                    f"{self.cfg.path}: key '{key}': differs from the checkpoint {path} "
                    f"({state['data'].get(key)!r} there); an exact resume needs the same data setup"
                )
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scaler.load_state_dict(state["scaler"])
        self.step, self.epoch, self.batch_in_epoch = state["step"], state["epoch"], state["batch_in_epoch"]
        set_rng_state(state["rng"])

    # -- the loop --------------------------------------------------------------------------
    def train_step(self, batch: dict) -> tuple[torch.Tensor, list]:
        self.model.train()
        with self.precision.autocast(self.device):
            pairs, columns = run_stage(self.stage, self.model, batch, self.rotator)
            loss = functools.reduce(operator.add, [F.l1_loss(p.float(), t.float()) for p, t in pairs])
            if self.perceptual is not None:
                loss = loss + self.sc.perceptual_weight * sum(self.perceptual(p, t) for p, t in pairs)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return loss.detach(), columns

    @torch.no_grad()
    def validation_loss(self) -> float | None:
        try:
            shards = list_shards(self.cfg.split_dir("val"))
        except Exception:  # noqa: BLE001 - no val split: no val loss
            return None
        batches = EpochBatches(
            shards, batch_size=self.sc.batch_size, image_size=self.cfg.image_size, seed=self.cfg.seed, epoch=0,
            shuffle=False, num_workers=0,
        )  # fmt: skip
        self.model.eval()
        total, n = 0.0, 0
        for i, batch in enumerate(batches):
            if i >= self.cfg.val_batches:
                break
            batch = to_device(batch, self.device, self.channels_last)
            with self.precision.autocast(self.device):
                pairs, _ = run_stage(self.stage, self.model, batch, self.rotator)
                total += float(sum(F.l1_loss(p.float(), t.float()) for p, t in pairs))
            n += 1
        return total / n if n else None

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
                batches = EpochBatches(
                    self.shards, batch_size=self.sc.batch_size, image_size=self.cfg.image_size, seed=self.cfg.seed,
                    epoch=self.epoch, start=self.batch_in_epoch, shuffle=True, shuffle_buffer=self.cfg.shuffle_buffer,
                    open_shards=self.cfg.open_shards, drop_last=self.cfg.drop_last, num_workers=self.cfg.num_workers,
                    pin_memory=self.device.type == "cuda",
                )  # fmt: skip
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
                        now = time.perf_counter()
                        rate = (self.step - s_log) / max(now - t_log, 1e-9)
                        last_loss = float(acc) / acc_n
                        rec = {
                            "step": self.step,
                            "epoch": self.epoch,
                            "loss": last_loss,
                            "lr": self.sc.lr,
                            "steps_per_s": rate,
                            "samples_per_s": rate * self.sc.batch_size,
                            "time_s": now - t0,
                        }
                        if self.cfg.val_every and self.step % self.cfg.val_every == 0:
                            val = self.validation_loss()
                            if val is not None:
                                rec["val_loss"] = val
                        log.add(rec)
                        eta = (total - self.step) / rate if rate > 0 else math.inf
                        self.echo(
                            f"[{self.stage}] step {self.step}/{total} epoch {self.epoch} loss {last_loss:.5f}"
                            + (f" val {rec['val_loss']:.5f}" if "val_loss" in rec else "")
                            + f" | {rate:.2f} steps/s, ETA {format_eta(eta)}"
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
        checkpoints.save_atomic(
            checkpoints.model_record(
                self.stage, self.model, self.cfg.image_size, self.step, self.cfg.to_dict()
            ),
            model_path,
        )
        log.plot()
        log.close()
        self.echo(f"[{self.stage}] done at step {self.step}: {model_path}")
        return StageResult(self.stage, self.step, last_loss, model_path, self.out)


def format_eta(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    s = int(seconds)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


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
