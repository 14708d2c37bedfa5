"""Where and how a training step runs: device, mixed precision, batches on the device, RNGs.

Shared by the training loop, evaluation and the demo, so that a batch is converted the same way
everywhere and a checkpoint's RNG state means the same thing to every system.
"""

from __future__ import annotations

import contextlib
import math
import random
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from thagen.errors import ConfigError
from thagen.train.data.images import to_network


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
    for k, v in batch.items():
        if isinstance(v, torch.Tensor) and v.dtype == torch.uint8 and v.dim() == 4:
            out[k] = to_network(v.to(device, non_blocking=True)).contiguous(memory_format=fmt)
    out["pose"] = batch["pose"].to(device, non_blocking=True)
    return out


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


def format_eta(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    s = int(seconds)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"
