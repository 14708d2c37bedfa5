"""Checkpoint files: written atomically, loadable without the config that made them.

Every file says which *system* (tha1 or tha3) and stage its network belongs to, so handing a
THA1 network to the THA3 poser (or the reverse) is a one-line error, not a shape mismatch deep
in `load_state_dict`. Files written before the field existed are THA1's. Per stage,
OUT/<stage>/ holds
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
from thagen.train.tha1.networks import NetSpec, Network, build

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


THA1_STAGES = ("morpher", "rotator", "combiner")
THA3_STAGES = ("eyebrow_decomposer", "eyebrow_combiner", "face_morpher", "rotator", "editor")
SYSTEM_NAMES = {"tha1": "THA1", "tha3": "THA3"}


def model_record(
    stage: str,
    model: nn.Module,
    image_size: int,
    step: int,
    config: dict,
    *,
    system: str = "tha1",
    spec: dict[str, object] | None = None,
    info: dict[str, object] | None = None,
) -> dict:
    """model.pt's content; `spec` defaults to a THA1 network's own `spec`."""
    if spec is None:
        if not isinstance(model, Network):
            raise TypeError("a network without a `spec` needs spec=")
        spec = dict(model.spec.to_dict())
    return {
        "format": FORMAT,
        "system": system,
        "stage": stage,
        "spec": spec,
        "image_size": image_size,
        "step": step,
        "model": cpu_state_dict(model),
        "config": config,
        "info": info or {},
    }


def system_of(state: dict) -> str:
    """The system a checkpoint belongs to (files without the field are THA1's)."""
    return str(state.get("system", "tha1"))


def check_kind(state: dict, path: Path, system: str, stage: str) -> None:
    """One-line ConfigError unless `state` holds `system`'s `stage` network."""
    have = system_of(state)
    if have != system:
        users = {"tha1": "THA1's morpher / rotator / combiner", "tha3": "the THA3 poser"}[system]
        raise ConfigError(
            f"{path}: holds a {SYSTEM_NAMES.get(have, have)} {state.get('stage')} network; "
            f"{users} cannot use it (train {SYSTEM_NAMES[system]} into its own folder)"
        )
    if state.get("stage") != stage:
        raise ConfigError(f"{path}: holds a {state.get('stage')!r} network, expected {stage!r}")


def run_system(run: Path) -> str:
    """Which system the stage folders of a training output folder belong to: 'tha1' or 'tha3'.

    Told apart by the stage names only one system has; a folder holding only `rotator/` (a name
    both use) is told by that checkpoint's own record.
    """
    run = Path(run)

    def present(stages: tuple[str, ...]) -> list[str]:
        return [s for s in stages if (run / s / "model.pt").is_file() or (run / s / "last.pt").is_file()]

    tha1 = [s for s in present(THA1_STAGES) if s not in THA3_STAGES]
    tha3 = [s for s in present(THA3_STAGES) if s not in THA1_STAGES]
    if tha1 and tha3:
        raise ConfigError(
            f"{run}: holds THA1 ({', '.join(tha1)}) and THA3 ({', '.join(tha3)}) checkpoints; "
            "keep each system in its own folder"
        )
    if tha1 or tha3:
        return "tha1" if tha1 else "tha3"
    if present(("rotator",)):
        return system_of(load(stage_model_path(run, "rotator")))
    raise ConfigError(f"{run}: no trained stages (no <stage>/model.pt or last.pt)")


def stage_model_path(checkpoints: Path, stage: str) -> Path:
    """OUT/<stage>/model.pt, else OUT/<stage>/last.pt (an unfinished stage), else a clear error."""
    base = Path(checkpoints) / stage
    for name in ("model.pt", "last.pt"):
        if (base / name).is_file():
            return base / name
    raise ConfigError(f"{base}: no model.pt or last.pt (train the {stage} first)")


def load_network(path: Path, stage: str, device: torch.device | str = "cpu") -> tuple[Network, dict]:
    """A trained THA1 network in eval mode with gradients off, and its checkpoint record."""
    state = load(path)
    check_kind(state, path, "tha1", stage)
    model = build(stage, NetSpec(**state["spec"]))
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as exc:
        raise ConfigError(
            f"{path}: weights do not fit the {stage} network ({str(exc).splitlines()[0]})"
        ) from exc
    model.to(device).eval().requires_grad_(False)
    return model, state
