"""`thagen train ...` and `thagen animate ...` (imported lazily by thagen.cli)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from thagen.train.config import STAGES, load_config

if TYPE_CHECKING:
    from thagen.train.config import TrainConfig

F = TypeVar("F", bound=Callable[..., Any])

_COMMON = [
    click.argument("config"),
    click.option(
        "--data", "data_dir", type=click.Path(file_okay=False), help="Dataset folder (OUT of thagen render)."
    ),
    click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Where checkpoints and logs go."),
    click.option(
        "--device", type=click.Choice(["auto", "cpu", "cuda"]), help="Override the config's device."
    ),
    click.option("--max-steps", type=int, help="Stop each stage after this many steps."),
    click.option("--num-workers", type=int, help="Data loader worker processes."),
    click.option("--resume", is_flag=True, help="Continue from OUT/<stage>/last.pt exactly."),
    click.option("--overwrite", is_flag=True, help="Start over even if a checkpoint exists."),
]


def _with_common(f: F) -> F:
    for deco in reversed(_COMMON):
        f = deco(f)
    return f


def _load(config: str, stages: tuple[str, ...], **flags: object) -> TrainConfig:
    overrides = {
        k: flags[k] for k in ("data_dir", "out_dir", "device", "num_workers") if flags.get(k) is not None
    }
    if flags.get("max_steps") is not None:
        for s in stages:
            overrides[f"{s}.max_steps"] = flags["max_steps"]
    return load_config(config, overrides)


@click.group("train")
def train_group() -> None:
    """Train the THA1 networks on rendered shards (CONFIG: a YAML file or a shipped name: tha1, tiny)."""


def _stage_command(stage: str) -> click.Command:
    @_with_common
    def command(config: str, resume: bool, overwrite: bool, **flags: object) -> None:
        from thagen.train.trainer import train_stage

        cfg = _load(config, (stage,), **flags)
        train_stage(cfg, stage, resume=resume, overwrite=overwrite, echo=click.echo)

    command.__doc__ = f"Train the {stage}."
    return click.command(stage)(command)


for _stage in STAGES:
    train_group.add_command(_stage_command(_stage))


@train_group.command("all")
@_with_common
def train_all_command(config: str, resume: bool, overwrite: bool, **flags: object) -> None:
    """Train morpher, rotator and combiner in order (the combiner freezes the new rotator)."""
    from thagen.train.trainer import train_all

    cfg = _load(config, STAGES, **flags)
    train_all(cfg, resume=resume, overwrite=overwrite, echo=click.echo)


@train_group.command("eval")
@click.argument("checkpoints", type=click.Path(exists=True, file_okay=False))
@click.option("--split", default="test", show_default=True, type=click.Choice(["train", "val", "test"]))
@click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False),
    help="Dataset folder (default: the one trained on).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    help="Report folder (default CHECKPOINTS/eval-SPLIT).",
)
@click.option("--batch-size", default=8, show_default=True, type=click.IntRange(1))
@click.option("--max-samples", type=click.IntRange(1), help="Evaluate only the first N samples.")
@click.option("--device", default="auto", type=click.Choice(["auto", "cpu", "cuda"]))
@click.option("--num-workers", default=0, type=click.IntRange(0))
def eval_command(
    checkpoints: str,
    split: str,
    data_dir: str | None,
    out_dir: str | None,
    batch_size: int,
    max_samples: int | None,
    device: str,
    num_workers: int,
) -> None:
    """Report RMSE/SSIM of the full system on a split (per character too), like THA1."""
    from thagen.train.evaluate import evaluate

    evaluate(
        Path(checkpoints), split=split, data_dir=Path(data_dir) if data_dir else None,
        out_dir=Path(out_dir) if out_dir else None, batch_size=batch_size, max_samples=max_samples,
        device=device, num_workers=num_workers, echo=click.echo,
    )  # fmt: skip


@click.command("animate")
@click.argument("image", type=click.Path(dir_okay=False))
@click.option(
    "--checkpoints",
    required=True,
    type=click.Path(exists=True, file_okay=False),
    help="Training output folder.",
)
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="GIF to write.")
@click.option("--frames", default=48, show_default=True, type=click.IntRange(2))
@click.option("--fps", default=24.0, show_default=True, type=click.FloatRange(1, 100))
@click.option("--background", default="white", show_default=True, help="Colour behind the transparent parts.")
@click.option("--device", default="auto", type=click.Choice(["auto", "cpu", "cuda"]))
def animate_command(
    image: str, checkpoints: str, out: str, frames: int, fps: float, background: str, device: str
) -> None:
    """Animate one front image (square RGBA framed like a reset image; scaled to the network): blink, talk, turn."""
    from thagen.train.animate import animate

    path = animate(
        Path(image),
        Path(checkpoints),
        Path(out),
        frames=frames,
        fps=fps,
        device=device,
        background=background,
    )
    click.echo(f"wrote {frames} frames to {path}")
