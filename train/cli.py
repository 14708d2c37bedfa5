"""`thagen train ...` and `thagen animate ...` (imported lazily by thagen.cli).

THA1: `thagen train morpher|rotator|combiner|all CONFIG`; THA3: `thagen train tha3 CONFIG
[--stage NAME ...]`. `thagen train eval RUN` and `thagen animate` tell the system from RUN.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from thagen.train.config import STAGES, load_config

if TYPE_CHECKING:
    from thagen.train.config import TrainConfig

THA3_STAGES = ("eyebrow_decomposer", "eyebrow_combiner", "face_morpher", "rotator", "editor")

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


def _overrides(stages: tuple[str, ...], flags: dict[str, object]) -> dict[str, object]:
    overrides = {
        k: flags[k] for k in ("data_dir", "out_dir", "device", "num_workers") if flags.get(k) is not None
    }
    if flags.get("max_steps") is not None:
        for s in stages:
            overrides[f"{s}.max_steps"] = flags["max_steps"]
    return overrides


def _load(config: str, stages: tuple[str, ...], **flags: object) -> TrainConfig:
    return load_config(config, _overrides(stages, flags))


@click.group("train")
def train_group() -> None:
    """Train THA1 or THA3 on rendered shards (CONFIG: a YAML file or a shipped name: tha1, tiny, tha3, tha3_tiny)."""


def _stage_command(stage: str) -> click.Command:
    @_with_common
    def command(config: str, resume: bool, overwrite: bool, **flags: object) -> None:
        from thagen.train.tha1.trainer import train_stage

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
    from thagen.train.tha1.trainer import train_all

    cfg = _load(config, STAGES, **flags)
    train_all(cfg, resume=resume, overwrite=overwrite, echo=click.echo)


@train_group.command("tha3")
@_with_common
@click.option(
    "--stage",
    "stages",
    multiple=True,
    type=click.Choice(THA3_STAGES),
    help="Train only this stage (repeatable); default: all five in THA3's order.",
)
def train_tha3_command(
    config: str, resume: bool, overwrite: bool, stages: tuple[str, ...], **flags: object
) -> None:
    """Train THA3's networks: eyebrow_decomposer, eyebrow_combiner, face_morpher, rotator, editor."""
    from thagen.train.tha3_training.config import load_tha3_config
    from thagen.train.tha3_training.run import train_tha3

    chosen = stages or THA3_STAGES
    cfg = load_tha3_config(config, _overrides(chosen, flags))
    results = train_tha3(cfg, chosen, resume=resume, overwrite=overwrite, echo=click.echo)
    click.echo(f"trained: {', '.join(r.stage for r in results) or 'nothing'} -> {cfg.out_dir}")


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
    """Report RMSE/SSIM on a split beside copy-the-input (THA1: full system; THA3: each stage and the poser)."""
    from thagen.train.core.checkpoints import run_system
    from thagen.train.tha1.evaluate import evaluate
    from thagen.train.tha3_training.evaluate import evaluate_tha3

    run = evaluate_tha3 if run_system(Path(checkpoints)) == "tha3" else evaluate
    run(
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
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False),
    help="GIF to write (and .mp4 beside it with ffmpeg).",
)
@click.option("--frames", type=click.IntRange(2), help="Frames in the loop (default: THA1 48, THA3 140).")
@click.option("--fps", default=24.0, show_default=True, type=click.FloatRange(1, 100))
@click.option("--background", default="white", show_default=True, help="Colour behind the transparent parts.")
@click.option("--device", default="auto", type=click.Choice(["auto", "cpu", "cuda"]))
@click.option(
    "--mp4/--no-mp4", default=True, show_default=True, help="Also write an MP4 when ffmpeg is on PATH."
)
def animate_command(
    image: str,
    checkpoints: str,
    out: str,
    frames: int | None,
    fps: float,
    background: str,
    device: str,
    mp4: bool,
) -> None:
    """Animate one image with a THA1 or THA3 run (square RGBA, framed as that system expects).

    THA1: blinks, talking, head turns. THA3: blinks, winks, vowels, eyebrows, irises, head and
    body turns, breathing.
    """
    from thagen.train.tha1.animate import animate

    done = animate(
        Path(image), Path(checkpoints), Path(out), frames=frames, fps=fps, device=device,
        background=background, mp4=mp4,
    )  # fmt: skip
    click.echo(f"wrote {done.frames} frames ({done.system.upper()}) to {done.gif}")
    if done.mp4 is not None:
        click.echo(f"wrote {done.mp4}")
    elif mp4:
        click.echo("no MP4: ffmpeg is not on PATH")
