"""Checkpoint files: written atomically, loadable without the config that made them.

Per stage, OUT/<stage>/ holds
  last.pt   the full training state (model, optimiser, grad scaler, step, epoch, data position,
            RNG states), rewritten every `checkpoint_every` steps and at the end;
  model.pt  weights only plus the network size, written when the stage finishes; what `eval`,
            `animate` and the combiner's frozen rotator load.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from thagen.errors import ConfigError
from thagen.files import fsync_dir
from thagen.train.networks import NetSpec, Network, build

FORMAT = 1


def save_atomic(obj: object, path: Path) -> None:
    """torch.save to a temporary name, fsync, then os.replace: a crash never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        torch.save(obj, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def load(path: Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: checkpoint not found")
    try:
        # full training state holds numpy RNG state and config dicts, so not weights_only
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:
        raise ConfigError(f"{path}: unreadable checkpoint ({exc})") from exc
    if not isinstance(state, dict) or state.get("format") != FORMAT or "model" not in state:
        raise ConfigError(f"{path}: not a thagen checkpoint (format {FORMAT})")
    return state


def cpu_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """Contiguous fp32 CPU weights (channels_last strides and device do not leak into the file)."""
    return {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in model.state_dict().items()}


def model_record(stage: str, model: Network, image_size: int, step: int, config: dict) -> dict:
    return {
        "format": FORMAT,
        "stage": stage,
        "spec": model.spec.to_dict(),
        "image_size": image_size,
        "step": step,
        "model": cpu_state_dict(model),
        "config": config,
    }


def stage_model_path(checkpoints: Path, stage: str) -> Path:
    """OUT/<stage>/model.pt, else OUT/<stage>/last.pt (an unfinished stage), else a clear error."""
    base = Path(checkpoints) / stage
    for name in ("model.pt", "last.pt"):
        if (base / name).is_file():
            return base / name
    raise ConfigError(f"{base}: no model.pt or last.pt (train the {stage} first)")


def load_network(path: Path, stage: str, device: torch.device | str = "cpu") -> tuple[Network, dict]:
    """A trained network in eval mode with gradients off, and its checkpoint record."""
    state = load(path)
    if state.get("stage") != stage:
        raise ConfigError(f"{path}: holds a {state.get('stage')!r} network, expected {stage!r}")
    model = build(stage, NetSpec(**state["spec"]))
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as exc:
        raise ConfigError(
            f"{path}: weights do not fit the {stage} network ({str(exc).splitlines()[0]})"
        ) from exc
    model.to(device).eval().requires_grad_(False)
    return model, state
