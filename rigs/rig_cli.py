"""`thagen rig check` and `thagen rig survey`: see what rig normalization makes of models.

`check` is for a person looking at a few models; `survey` runs over a whole collection (zips
included) and keeps going past broken files, so one bad download never stops a night's run.
"""

from __future__ import annotations

import collections
import concurrent.futures
import csv
import json
import os
import sys
import time
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import click

from thagen.errors import ThagenError
from thagen.model_files import is_archive_file, is_model_file
from thagen.rigs.normalize.core import RigReport, normalize
from thagen.rigs.normalize.overrides import find_override_file
from thagen.rigs.normalize.roles import default_role_table


# --------------------------------------------------------------------------- model discovery


def expand_inputs(inputs: Iterable[Path]) -> Iterator[tuple[Path, str | None, str | None]]:
    """(file, zip member or None, error or None) for every model under the inputs, sorted."""
    from thagen.rigs.formats.archive import list_models

    for root in inputs:
        if root.is_dir():
            files = sorted(
                (p for p in root.rglob("*") if p.is_file() and (is_model_file(p) or is_archive_file(p))),
                key=lambda p: str(p),
            )
        else:
            files = [root]
        for path in files:
            if is_archive_file(path):
                try:
                    members = list_models(path)
                except ThagenError as exc:
                    yield path, None, _reason(exc)
                    continue
                except Exception as exc:  # noqa: BLE001 - one bad archive must not stop a survey
                    yield path, None, _reason(exc)
                    continue
                if not members:
                    yield path, None, "error: archive holds no .pmx/.pmd/.vrm model"
                for member in members:
                    yield path, member, None
            else:
                yield path, None, None


def _reason(exc: BaseException) -> str:
    text = str(exc).replace("\n", " ").strip()
    if isinstance(exc, ThagenError):
        return f"error: {type(exc).__name__}: {text}"
    return f"error: unexpected {type(exc).__name__}: {text}"


def _label(path: Path, member: str | None) -> str:
    return f"{path}!{member}" if member else str(path)


def check_one(
    path: Path,
    member: str | None,
    *,
    override: Path | None = None,
    cache_dir: Path | None = None,
    pose_vector: str | None = None,
) -> RigReport:
    """Read one model and normalize it (an explicit override wins over one found beside it);
    `pose_vector` tha2 / tha3 also finds every parameter of that vector (report.extended)."""
    return _read_and_check(path, member, override, cache_dir, pose_vector)[1]


def _read_and_check(
    path: Path,
    member: str | None,
    override: Path | None,
    cache_dir: Path | None,
    pose_vector: str | None = None,
) -> tuple[Any, RigReport]:
    from thagen.rigs.reader import read_model

    model = read_model(path, member=member, cache_dir=cache_dir)
    chosen = override if override is not None else find_override_file(path, member)
    report = normalize(model, overrides=chosen, model_path=path, discover=False, pose_vector=pose_vector)
    return model, report


# --------------------------------------------------------------------------- check


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - _width(text))


def format_report(label: str, report: RigReport) -> str:
    """One human-readable table for a model."""
    status = "OK" if report.ok else "NOT USABLE (missing " + ", ".join(report.missing_required) + ")"
    lines = [f"{label}  [{report.model_name}]  {status}"]
    if report.override_file:
        lines.append(f"  override: {report.override_file}")
    table = default_role_table()
    rows = [("role", "kind", "chosen", "method", "detail")]
    for role, match in report.matches.items():
        req = "*" if role in table.roles and table.roles[role].required else ""
        chosen = report.morph_for(role) if match.kind == "morph" else match.name
        rows.append((role + req, match.kind, chosen or "-", match.method, match.detail))
    widths = [max(_width(r[c]) for r in rows) for c in range(4)]
    for r in rows:
        lines.append("  " + "  ".join(_pad(r[c], widths[c]) for c in range(4)) + "  " + r[4])
    if report.head_height:
        lines.append(
            f"  head height {report.head_height:.3f} (MMD units), mid-plane x = {round(report.head_x, 3) + 0.0:.3f}"
        )
    for w in report.warnings:
        lines.append(f"  warning: {w}")
    if report.extended is not None:
        from thagen.rigs.normalize.availability import format_availability

        lines.append(format_availability(report.extended))
    return "\n".join(lines)


@click.group("rig")
def rig_group() -> None:
    """Find the bones and morphs thagen drives (head, neck, eye closes, mouth) in MMD models."""


@rig_group.command("check")
@click.argument("models", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--override",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Override file (docs/overrides.md) to use instead of one found beside each model.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the reports as JSON instead of tables.")
@click.option(
    "--pose-vector",
    type=click.Choice(["tha1", "tha2", "tha3"]),
    default="tha1",
    show_default=True,
    help="Also find every parameter of THA2's 42 / THA3's 45 and its availability.",
)
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where models inside zips are extracted.",
)
def check_command(
    models: tuple[Path, ...], override: Path | None, as_json: bool, pose_vector: str, cache_dir: Path | None
) -> None:
    """Show which bone or morph fills each role of each MODEL (.pmx, .pmd, .vrm, .glb, .gltf, .zip or folder).

    Exits non-zero when a model cannot be read or lacks a required role (marked * in the table).
    """
    failed: list[str] = []
    out: list[dict[str, Any]] = []
    for path, member, error in expand_inputs(models):
        label = _label(path, member)
        if error is None:
            try:
                report = check_one(
                    path, member, override=override, cache_dir=cache_dir, pose_vector=pose_vector
                )
            except ThagenError as exc:
                error = str(exc)
        if error is not None:
            failed.append(f"error: {error}" if error.startswith(str(path)) else f"error: {label}: {error}")
            out.append({"path": str(path), "member": member, "error": error})
            if not as_json:
                click.echo(f"{label}  ERROR: {error}\n")
            continue
        out.append({"path": str(path), "member": member, "report": report.to_dict()})
        if not as_json:
            click.echo(format_report(label, report) + "\n")
        if not report.ok:
            failed.append(f"error: {label}: missing required roles: {', '.join(report.missing_required)}")
    if as_json:
        click.echo(json.dumps(out, ensure_ascii=False, indent=2))
    for line in failed:
        click.echo(line, err=True)
    if failed:
        raise SystemExit(1)


# --------------------------------------------------------------------------- survey


def survey_columns(pose_vector: str = "tha1") -> list[str]:
    roles = list(default_role_table().roles)
    cols = ["source", "member", "model_name", "status", "reasons"]
    for role in roles:
        cols += [role, f"{role}_method"]
    from thagen.render.identity.survey import IDENTITY_COLUMNS

    cols += ["eye_close_left_score", "eye_close_right_score", "warnings", "override", "seconds"]
    if pose_vector != "tha1":
        from thagen.pose_vectors import pose_vector_def
        from thagen.rigs.normalize.availability import availability_columns

        cols += availability_columns(pose_vector_def(pose_vector).names)
    return cols + IDENTITY_COLUMNS


def survey_row(
    path: Path, member: str | None, cache_dir: Path | None = None, pose_vector: str = "tha1"
) -> dict[str, Any]:
    """One CSV row; every failure becomes a row, never an exception."""
    row: dict[str, Any] = {"source": str(path), "member": member or ""}
    start = time.perf_counter()
    try:
        model, report = _read_and_check(path, member, None, cache_dir, pose_vector)
    except Exception as exc:  # noqa: BLE001 - isolate every model's failure
        row.update(status="error", reasons=_reason(exc))
    else:
        _sign(row, path, member, model, report)
        row["model_name"] = report.model_name
        row["status"] = "usable" if report.ok else "unusable"
        row["reasons"] = "; ".join(f"missing {r}" for r in report.missing_required)
        for role, match in report.matches.items():
            row[role] = (report.morph_for(role) if match.kind == "morph" else match.name) or ""
            row[f"{role}_method"] = match.method
        for role in ("eye_close_left", "eye_close_right"):
            score = report.matches[role].score if role in report.matches else None
            row[f"{role}_score"] = "" if score is None else f"{score:.4f}"
        row["warnings"] = " | ".join(report.warnings)
        row["override"] = report.override_file or ""
        if report.extended is not None:
            from thagen.rigs.normalize.availability import availability_cells

            row.update(availability_cells(report.extended))
    row["seconds"] = f"{time.perf_counter() - start:.3f}"
    return row


def _sign(row: dict[str, Any], path: Path, member: str | None, model: Any, report: RigReport) -> None:
    """Identity signals for the group columns (render/identity/survey.py); never fails the row."""
    from thagen.render.identity.survey import sign_row

    try:
        sign_row(row, path, member, model, report)
    except Exception as exc:  # noqa: BLE001 - a model that cannot be signed is still surveyed
        row["group_evidence"] = f"not signed: {_reason(exc)}"


def _survey_task(args: tuple[str, str | None, str | None, str]) -> dict[str, Any]:
    path, member, cache, pose_vector = args
    return survey_row(Path(path), member, Path(cache) if cache else None, pose_vector)


def write_csv_atomic(path: Path, columns: list[str], rows: list[dict[str, Any]]) -> None:
    """Write next to the target and rename, so a reader never sees half a survey."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    try:
        with tmp.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
            writer.writeheader()
            for row in rows:
                writer.writerow({c: row.get(c, "") for c in columns})
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def summarize(rows: list[dict[str, Any]], top: int = 8) -> str:
    counts = collections.Counter(r["status"] for r in rows)
    reasons: collections.Counter[str] = collections.Counter()
    for r in rows:
        if r["status"] == "unusable":
            reasons.update(part.strip() for part in r["reasons"].split(";") if part.strip())
        elif r["status"] == "error":
            # group errors by kind, not by their file-specific message
            head = r["reasons"].split(":")
            reasons[":".join(head[:2]).strip()] += 1
    lines = [
        f"{len(rows)} models: {counts['usable']} usable, {counts['unusable']} missing roles, "
        f"{counts['error']} unreadable"
    ]
    if reasons:
        lines.append("top reasons not usable:")
        lines += [f"  {n:5d}  {reason}" for reason, n in reasons.most_common(top)]
    return "\n".join(lines)


@rig_group.command("survey")
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
    duplicates; a broken file only fails its own row. A summary ends the run.
    """
    tasks: list[tuple[Path, str | None]] = []
    rows: list[dict[str, Any]] = []
    for path, member, error in expand_inputs(inputs):
        if error is not None:
            rows.append(
                {"source": str(path), "member": "", "status": "error", "reasons": error, "seconds": "0"}
            )
        else:
            tasks.append((path, member))
    if not tasks and not rows:
        raise click.ClickException(
            "no .pmx, .pmd, .vrm, .glb, .gltf or .zip files found in " + ", ".join(map(str, inputs))
        )
    cache = str(cache_dir) if cache_dir else None
    with click.progressbar(length=len(tasks), label="rig survey", file=sys.stderr) as bar:
        if jobs == 1 or len(tasks) <= 1:
            for path, member in tasks:
                rows.append(survey_row(path, member, cache_dir, pose_vector))
                bar.update(1)
        else:
            with concurrent.futures.ProcessPoolExecutor(max_workers=jobs) as pool:
                futures = {
                    pool.submit(_survey_task, (str(p), m, cache, pose_vector)): (p, m) for p, m in tasks
                }
                for fut in concurrent.futures.as_completed(futures):
                    p, m = futures[fut]
                    try:
                        rows.append(fut.result())
                    except Exception as exc:  # noqa: BLE001 - a crashed worker fails only its model
                        rows.append(
                            {"source": str(p), "member": m or "", "status": "error", "reasons": _reason(exc)}
                        )
                    bar.update(1)
    rows.sort(key=lambda r: (r["source"], r.get("member", "")))
    from thagen.render.identity import survey as identity_survey

    identity_survey.group_rows(rows)
    write_csv_atomic(out_path, survey_columns(pose_vector), rows)
    click.echo(summarize(rows))
    if pose_vector != "tha1":
        from thagen.pose_vectors import pose_vector_def
        from thagen.rigs.normalize.availability import availability_summary

        click.echo(availability_summary(rows, pose_vector_def(pose_vector).names))
    click.echo(identity_survey.identity_summary(rows))
    if groups_out is not None:
        identity_survey.write_rows_group_file(groups_out, rows)
    click.echo(f"wrote {out_path}")
