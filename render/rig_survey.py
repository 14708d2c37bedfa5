"""`thagen rig survey`: the rig survey of rigs/survey.py with identity columns (render/identity/).

Lives in render/ because character identity does: thagen/cli.py adds this command to the `rig`
group of rigs/cli.py. License columns come from rigs/survey.py; each input folder is its models'
collection root (readme and license files are read from a model's folder up to it, never above).
"""

from __future__ import annotations

import concurrent.futures
import sys
from pathlib import Path
from typing import Any

import click

from thagen.render.identity import survey as identity_survey
from thagen.rigs.check import expand_inputs, failure_reason
from thagen.rigs.survey import summarize, survey_columns, survey_row, write_csv_atomic


def _survey_task(args: tuple[str, str | None, str | None, str, str]) -> dict[str, Any]:
    """One model's row in a worker process (arguments as strings, so they pickle anywhere)."""
    path, member, cache, pose_vector, root = args
    return survey_row(
        Path(path), member, Path(cache) if cache else None, pose_vector, identity_survey.sign_row, Path(root)
    )


def license_root(given: Path) -> Path:
    """The collection root of the models under one input: the folder itself, or a file's folder."""
    return given if given.is_dir() else given.parent


@click.command("survey")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="CSV file to write (one row per model).",
)
@click.option(
    "--jobs", "-j", default=1, show_default=True, type=click.IntRange(1, 64), help="Worker processes."
)
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where models inside zips are extracted.",
)
@click.option(
    "--groups-out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the identity groups as a group file to review and name in a manifest "
    "(identity: {groups: FILE}).",
)
@click.option(
    "--pose-vector",
    type=click.Choice(["tha1", "tha2", "tha3"]),
    default="tha1",
    show_default=True,
    help="Also find every parameter of THA2's 42 / THA3's 45 and its availability.",
)
def survey_command(
    inputs: tuple[Path, ...],
    out_path: Path,
    jobs: int,
    cache_dir: Path | None,
    groups_out: Path | None,
    pose_vector: str,
) -> None:
    """Check every model under INPUTS (folders, .pmx/.pmd/.vrm/.glb/.gltf files, .zip archives) and write a CSV.

    Each model (each one inside each zip) gets a row with its status (usable, unusable, error)
    and reasons, its identity group (with the evidence) and, for a duplicate, the model it
    duplicates, and its license (name, redistribution, modification, commercial, credit, credit
    line, author; each input folder is the root up to which readmes are read); a broken file
    only fails its own row. A summary ends the run.
    """
    tasks: list[tuple[Path, str | None, Path]] = []
    rows: list[dict[str, Any]] = []
    for given in inputs:
        for path, member, error in expand_inputs([given]):
            if error is not None:
                rows.append(
                    {"source": str(path), "member": "", "status": "error", "reasons": error, "seconds": "0"}
                )
            else:
                tasks.append((path, member, license_root(given)))
    if not tasks and not rows:
        raise click.ClickException(
            "no .pmx, .pmd, .vrm, .glb, .gltf or .zip files found in " + ", ".join(map(str, inputs))
        )
    cache = str(cache_dir) if cache_dir else None
    with click.progressbar(length=len(tasks), label="rig survey", file=sys.stderr) as bar:
        if jobs == 1 or len(tasks) <= 1:
            for path, member, root in tasks:
                rows.append(survey_row(path, member, cache_dir, pose_vector, identity_survey.sign_row, root))
                bar.update(1)
        else:
            with concurrent.futures.ProcessPoolExecutor(max_workers=jobs) as pool:
                futures = {
                    pool.submit(_survey_task, (str(p), m, cache, pose_vector, str(r))): (p, m)
                    for p, m, r in tasks
                }
                for fut in concurrent.futures.as_completed(futures):
                    p, m = futures[fut]
                    try:
                        rows.append(fut.result())
                    except Exception as exc:  # noqa: BLE001 - a crashed worker fails only its model
                        rows.append(
                            {
                                "source": str(p),
                                "member": m or "",
                                "status": "error",
                                "reasons": failure_reason(exc),
                            }
                        )
                    bar.update(1)
    rows.sort(key=lambda r: (r["source"], r.get("member", "")))
    identity_survey.group_rows(rows)
    write_csv_atomic(out_path, survey_columns(pose_vector, identity_survey.IDENTITY_COLUMNS), rows)
    click.echo(summarize(rows))
    if pose_vector != "tha1":
        from thagen.pose_vectors import pose_vector_def
        from thagen.rigs.normalize.availability import availability_summary

        click.echo(availability_summary(rows, pose_vector_def(pose_vector).names))
    click.echo(identity_survey.identity_summary(rows))
    if groups_out is not None:
        identity_survey.write_rows_group_file(groups_out, rows)
    click.echo(f"wrote {out_path}")
