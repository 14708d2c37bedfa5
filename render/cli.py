"""`thagen render`, `thagen render-one` and `thagen qa`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from thagen.errors import ConfigError
from thagen.render.output.shards import POSE_NAMES


@click.command("render")
@click.argument("manifest", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--resume/--restart",
    default=True,
    show_default=True,
    help="resume: skip characters already journalled in OUT. restart: delete thagen's outputs in OUT "
    "first (with --part: only that part's).",
)
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder (default: the manifest's 'output').",
)
@click.option(
    "--part",
    "part_text",
    metavar="K/N|slurm",
    help="Render only part K of N (0 <= K < N) into OUT, beside the other parts; 'slurm': from "
    "SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT. Then: thagen merge OUT.",
)
@click.option(
    "--threads",
    type=int,
    default=0,
    show_default=True,
    help="Blender render threads per worker (0: all cores).",
)
@click.option(
    "--workers",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="Worker processes, one Blender each (0: as many as the cores allow for --threads; 1 with --threads 0).",
)
@click.option(
    "--recycle-after",
    type=click.IntRange(1),
    default=200,
    show_default=True,
    help="Characters per worker process before a fresh one (bounds Blender's slow memory growth).",
)
@click.option(
    "--character-timeout",
    type=click.FloatRange(min=0, min_open=True),
    help="Seconds one character may take before its worker is killed (default: from its image count).",
)
@click.option(
    "--retries",
    type=click.IntRange(0),
    default=1,
    show_default=True,
    help="Re-renders of a character whose worker died or timed out, before it is recorded as failed.",
)
@click.option(
    "--backend",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="Where workers run.",
)
@click.option(
    "--address",
    metavar="auto|HOST:PORT",
    help="Ray cluster to join ('auto': the one `ray start` made here); default: a private local one.",
)
@click.option("--no-qa", is_flag=True, help="Skip the QA renders and checks.")
@click.option(
    "--cache-dir", type=click.Path(file_okay=False, path_type=Path), help="Where zip models are extracted."
)
@click.option(
    "--annotations",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder of <id>.annotation.yaml head-top / chin files (as `thagen annotate` writes).",
)
@click.option(
    "--progress-interval",
    type=float,
    default=10.0,
    show_default=True,
    help="Seconds between progress lines when stderr is not a terminal.",
)
@click.option(
    "--identity-jobs",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="Processes that sign models not in the identity signal cache (0: all cores).",
)
@click.option(
    "--redo",
    "redo",
    multiple=True,
    metavar="flagged|ID",
    help="Render finished characters again with the current annotations and overrides, replacing "
    "their shards once the new ones are complete: 'flagged' (every one with a hard QA flag, e.g. "
    "held back) or character ids (repeatable, or comma-separated). Then merges as a finished run does.",
)
def render_command(
    manifest: Path,
    resume: bool,
    out: Path | None,
    part_text: str | None,
    threads: int,
    workers: int,
    recycle_after: int,
    character_timeout: float | None,
    retries: int,
    backend: str,
    address: str | None,
    no_qa: bool,
    cache_dir: Path | None,
    annotations: Path | None,
    progress_interval: float,
    identity_jobs: int,
    redo: tuple[str, ...],
) -> None:
    """Render MANIFEST into training shards (resumable; a broken character is recorded and skipped;
    one QA holds back is listed at the end with the commands that fix it)."""
    from thagen.render.run.api import render_manifest
    from thagen.render.run.backends import FarmOptions

    if address and backend != "ray":
        raise ConfigError("--address is for --backend ray")
    farm = FarmOptions(
        backend=backend,
        workers=workers,
        recycle_after=recycle_after,
        character_timeout=character_timeout,
        retries=retries,
        address=address,
    )
    summary = render_manifest(
        manifest,
        out=out,
        resume=resume,
        part=part_text,
        threads=threads,
        farm=farm,
        qa=not no_qa,
        cache_dir=cache_dir,
        annotations=annotations,
        progress_interval=progress_interval,
        identity_jobs=identity_jobs,
        out_field="--out",
        redo=redo,
    )
    click.echo(summary.text(), err=True)
    if summary.failed or summary.redo_failed:
        sys.exit(1)


@click.command("status")
@click.argument("out", type=click.Path(exists=True, file_okay=False, path_type=Path))
def status_command(out: Path) -> None:
    """Done / failed / missing characters of a render output, per part and in total, with the
    images/s, ETA and the command that finishes what is missing; the characters QA held back,
    why, and the commands that fix them."""
    from thagen.render.run.status import output_status

    click.echo(output_status(out).text())


@click.command("merge")
@click.argument("out", type=click.Path(exists=True, file_okay=False, path_type=Path))
def merge_command(out: Path) -> None:
    """Check every character of OUT is complete exactly once; write dataset.yaml and index.json."""
    from thagen.render.run.merge import merge_output

    report = merge_output(out)
    click.echo(report.text(), err=not report.ok)
    if not report.ok:
        sys.exit(1)


def _parse_pose(text: str) -> dict[str, float]:
    pose: dict[str, float] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or name not in POSE_NAMES:
            raise click.BadParameter(
                f"{part!r}: expected NAME=VALUE with NAME one of {', '.join(POSE_NAMES)}"
            )
        try:
            pose[name] = float(value)
        except ValueError as exc:
            raise click.BadParameter(f"{part!r}: {value!r} is not a number") from exc
    return pose


@click.command("render-one")
@click.argument("model")
@click.option("--member", help="The model inside a zip.")
@click.option("--poses", type=click.IntRange(0), default=8, show_default=True, help="Sampled poses.")
@click.option(
    "--pose",
    "explicit",
    multiple=True,
    help="An explicit pose instead of sampled ones, e.g. head_y=1,mouth=0 (repeatable).",
)
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--size", type=click.IntRange(32, 4096), default=256, show_default=True)
@click.option(
    "--engine",
    type=click.Choice(["cycles", "eevee", "workbench"]),
    default="cycles",
    show_default=True,
    help="Renderer (docs/rendering.md, Engines).",
)
@click.option(
    "--samples",
    type=click.IntRange(1),
    default=None,
    help="Samples per pixel [default: the engine's: 4, 16, 5].",
)
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True)
@click.option("--lighting", type=click.Choice(["phong", "toon", "point"]), default="phong", show_default=True)
@click.option("--rest-pose", type=click.Choice(["tha1", "tha2"]), default="tha1", show_default=True)
@click.option(
    "--override", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Rig override file."
)
@click.option(
    "--annotation", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Framing annotation."
)
@click.option("--threads", type=int, default=0, show_default=True)
def render_one_command(
    model: str,
    member: str | None,
    poses: int,
    explicit: tuple[str, ...],
    out: Path,
    size: int,
    engine: str,
    samples: int | None,
    seed: int,
    lighting: str,
    rest_pose: str,
    override: Path | None,
    annotation: Path | None,
    threads: int,
) -> None:
    """Quick look at one MODEL (a .pmx/.pmd, a .zip, or 'builtin'): PNGs, poses.json, contact sheet."""
    from thagen.render.character import RunSettings, adhoc_job, render_one
    from thagen.render.output.output_dir import prepare_output_dir

    if size % 4:
        raise ConfigError(f"--size must be a multiple of 4, got {size}")
    from thagen.render.manifest.types import DEFAULT_SAMPLES, ENGINE_PRESETS

    samples = DEFAULT_SAMPLES[engine] if samples is None else samples
    if lighting not in ENGINE_PRESETS[engine]:
        allowed = ", ".join(ENGINE_PRESETS[engine])
        raise ConfigError(f"--engine {engine} does not support --lighting {lighting} (it renders {allowed})")
    pose_list = [_parse_pose(p) for p in explicit] or None
    job = adhoc_job(
        model,
        member=member,
        poses=len(pose_list) if pose_list else poses,
        seed=seed,
        size=size,
        samples=samples,
        lighting=lighting,
        override=override,
        annotation=annotation,
        rest_pose=rest_pose,
        engine=engine,
    )
    settings = RunSettings(image_size=size, samples=samples, engine=engine, threads=threads, seed=seed)
    prepare_output_dir(out, field="--out")
    summary = render_one(job, out, settings, poses=pose_list)
    flags = summary["qa"]["flags"]
    click.echo(
        f"{summary['id']}: {len(summary['poses'])} poses, QA {'ok' if not flags else ', '.join(flags)}"
    )
    click.echo(f"contact sheet: {out / 'contact_sheet.png'}")


@click.command("qa")
@click.argument("out", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--no-sheets", is_flag=True, help="Only check; do not rewrite the contact sheets.")
def qa_command(out: Path, no_sheets: bool) -> None:
    """Re-check a rendered OUT from its shards and saved QA images (no Blender), rebuild contact sheets."""
    from thagen.render.run.recheck import qa_output

    report = qa_output(out, sheets=not no_sheets)
    for cid, rec in report["characters"].items():
        status = "ok" if not rec["flags"] else ", ".join(rec["flags"])
        click.echo(f"{cid}: {rec['samples']} samples, {status}")
        for problem in rec["problems"]:
            click.echo(f"  {problem}")
    for rel in report["strays"]:
        click.echo(f"not journalled (an unfinished run's; a re-run removes it): {rel}")
    click.echo(
        f"{report['checked']} characters checked, {report['flagged']} flagged, {report['broken']} with broken shards"
    )
    if report["broken"]:
        sys.exit(1)
