"""`thagen render`, `thagen render-one` and `thagen qa`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from thagen.errors import ConfigError
from thagen.render.shards import POSE_NAMES


@click.command("render")
@click.argument("manifest", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--resume/--restart",
    default=True,
    show_default=True,
    help="resume: skip characters already in OUT/journal.jsonl. restart: delete thagen's outputs in OUT first.",
)
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder (default: the manifest's 'output').",
)
@click.option(
    "--threads", type=int, default=0, show_default=True, help="Blender render threads (0: all cores)."
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
def render_command(
    manifest: Path,
    resume: bool,
    out: Path | None,
    threads: int,
    no_qa: bool,
    cache_dir: Path | None,
    annotations: Path | None,
    progress_interval: float,
) -> None:
    """Render MANIFEST into training shards (resumable; a broken character is recorded and skipped)."""
    from thagen.render.character import RunSettings
    from thagen.render.manifest import expand_characters, load_manifest
    from thagen.render.runner import run_jobs

    m = load_manifest(manifest)
    jobs = expand_characters(m, annotations=annotations)
    out_dir = (out or m.output_dir).resolve()
    settings = RunSettings.from_manifest(
        m, threads=threads, qa=not no_qa, cache_dir=str(cache_dir or out_dir / ".cache")
    )
    summary = run_jobs(
        jobs,
        out_dir,
        settings,
        manifest_dict=m.to_dict(),
        resume=resume,
        progress_interval=progress_interval,
    )
    click.echo(summary.text(), err=True)
    if summary.failed:
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
@click.option("--samples", type=click.IntRange(1), default=4, show_default=True)
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
    samples: int,
    seed: int,
    lighting: str,
    rest_pose: str,
    override: Path | None,
    annotation: Path | None,
    threads: int,
) -> None:
    """Quick look at one MODEL (a .pmx/.pmd, a .zip, or 'builtin'): PNGs, poses.json, contact sheet."""
    from thagen.render.character import RunSettings, adhoc_job, render_one

    if size % 4:
        raise ConfigError(f"--size must be a multiple of 4, got {size}")
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
    )
    settings = RunSettings(image_size=size, samples=samples, threads=threads, seed=seed)
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
    from thagen.render.runner import qa_output

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
