"""`thagen rig survey`'s engine: one CSV row per model of a collection, and a summary.

Every failure becomes a row, never an exception. The rig columns are here, and the license
columns (rigs/licenses/: what each author allows, read from the model and the files beside it up
to the collection root), so one survey says both whether a model can be rendered and whether
its renders can be published. A caller adds its own columns (the identity columns of
render/identity/survey.py) through `extra_columns` and a `sign` callback, so this module never
imports the renderer's packages.
"""

from __future__ import annotations

import collections
import csv
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from thagen.rigs.check import failure_reason, read_and_check
from thagen.rigs.licenses import (
    LicenseRecord,
    LicenseTally,
    model_license,
    read_model_license,
    unreadable_inputs,
)
from thagen.rigs.model import Model
from thagen.rigs.normalize import RigReport
from thagen.rigs.normalize.overrides import find_override_file
from thagen.rigs.normalize.roles import default_role_table

SignRow = Callable[[dict[str, Any], Path, str | None, Model, RigReport], None]
"""Adds a caller's columns to a usable row (e.g. identity signals); may raise, never fails the row."""

LICENSE_COLUMNS = (
    "license_name",
    "redistribution",
    "modification",
    "commercial",
    "credit",
    "credit_line",
    "author",
)
"""The license columns: the record's fields a curator filters a collection on."""

LICENSE_KEY = "_license"
"""A row's compact license record (not a CSV column): what the summary counts."""


def survey_columns(pose_vector: str = "tha1", extra_columns: Sequence[str] = ()) -> list[str]:
    """The CSV's columns: source, status, each role and how it was found, availability, extras."""
    roles = list(default_role_table().roles)
    cols = ["source", "member", "model_name", "status", "reasons"]
    for role in roles:
        cols += [role, f"{role}_method"]
    cols += ["eye_close_left_score", "eye_close_right_score", "warnings", "override"]
    cols += [*LICENSE_COLUMNS, "seconds"]
    if pose_vector != "tha1":
        from thagen.pose_vectors import pose_vector_def
        from thagen.rigs.normalize.availability import availability_columns

        cols += availability_columns(pose_vector_def(pose_vector).names)
    return cols + list(extra_columns)


def survey_row(
    path: Path,
    member: str | None,
    cache_dir: Path | None = None,
    pose_vector: str = "tha1",
    sign: SignRow | None = None,
    root: Path | None = None,
) -> dict[str, Any]:
    """One CSV row; every failure becomes a row, never an exception. `root`: the collection
    root, up to which readme and license files beside the model are read."""
    row: dict[str, Any] = {"source": str(path), "member": member or ""}
    start = time.perf_counter()
    try:
        model, report = read_and_check(path, member, None, cache_dir, pose_vector)
    except Exception as exc:  # noqa: BLE001 - isolate every model's failure
        row.update(status="error", reasons=failure_reason(exc))
        inputs = unreadable_inputs(exc)
        _license(row, lambda: model_license(path, inputs, root=root, member=member))
    else:
        if sign is not None:
            _sign(sign, row, path, member, model, report)
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
        override = find_override_file(path, member)
        _license(row, lambda: read_model_license(model, path, member, root=root, override_file=override))
    row["seconds"] = f"{time.perf_counter() - start:.3f}"
    return row


def _license(row: dict[str, Any], read: Callable[[], LicenseRecord]) -> None:
    """The license columns (and the compact record the summary counts); a license that cannot
    be read is a warning of its row, never a failure."""
    try:
        record = read()
    except Exception as exc:  # noqa: BLE001 - a bad override's license section only warns here
        row["warnings"] = " | ".join(
            filter(None, [row.get("warnings", ""), f"license: {failure_reason(exc)}"])
        )
        return
    row.update(license_cells(record))
    row[LICENSE_KEY] = record.to_json(texts=False)


def license_cells(record: LicenseRecord) -> dict[str, str]:
    """The license columns of one record ("" for a text field nothing said)."""
    cells = {name: getattr(record, name) or "" for name in ("license_name", "credit_line", "author")}
    for name in ("redistribution", "modification", "commercial", "credit"):
        cells[name] = getattr(record, name).value
    return cells


def _sign(
    sign: SignRow, row: dict[str, Any], path: Path, member: str | None, model: Model, report: RigReport
) -> None:
    """The caller's extra columns (identity signals); never fails the row."""
    try:
        sign(row, path, member, model, report)
    except Exception as exc:  # noqa: BLE001 - a model that cannot be signed is still surveyed
        row["group_evidence"] = f"not signed: {failure_reason(exc)}"


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
    records = [LicenseRecord.from_json(r[LICENSE_KEY]) for r in rows if r.get(LICENSE_KEY)]
    if records:
        lines.append(LicenseTally.of(records).text())
    return "\n".join(lines)
