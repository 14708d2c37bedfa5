"""`thagen rig check`'s engine: read a model, normalize its rig, and say what was found, as text.

Also the model discovery of `rig check` / `rig survey` (folders, zips and their members, each
failure a row of its own), so one bad download never stops a night's survey. The check ends
with the model's license (rigs/licenses/): a model whose rig works but whose author forbids
redistribution is not usable for a published dataset either.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from thagen.errors import ThagenError
from thagen.model_files import is_archive_file, is_model_file
from thagen.rigs.licenses import LicenseRecord, read_model_license
from thagen.rigs.normalize import RigReport, normalize
from thagen.rigs.normalize.overrides import find_override_file
from thagen.rigs.normalize.roles import default_role_table


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
                    yield path, None, failure_reason(exc)
                    continue
                except Exception as exc:  # noqa: BLE001 - one bad archive must not stop a survey
                    yield path, None, failure_reason(exc)
                    continue
                if not members:
                    yield path, None, "error: archive holds no .pmx/.pmd/.vrm model"
                for member in members:
                    yield path, member, None
            else:
                yield path, None, None


def failure_reason(exc: BaseException) -> str:
    text = str(exc).replace("\n", " ").strip()
    if isinstance(exc, ThagenError):
        return f"error: {type(exc).__name__}: {text}"
    return f"error: unexpected {type(exc).__name__}: {text}"


def model_label(path: Path, member: str | None) -> str:
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
    return read_and_check(path, member, override, cache_dir, pose_vector)[1]


def check_with_license(
    path: Path,
    member: str | None,
    *,
    override: Path | None = None,
    cache_dir: Path | None = None,
    pose_vector: str | None = None,
) -> tuple[RigReport, LicenseRecord]:
    """`check_one` and the model's license: read from the model, its own folder (the collection
    root is the model's folder) and the override file in use (an explicit one wins)."""
    model, report = read_and_check(path, member, override, cache_dir, pose_vector)
    chosen = override if override is not None else find_override_file(path, member)
    return report, read_model_license(model, path, member, override_file=chosen)


def read_and_check(
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


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - _width(text))


def format_report(label: str, report: RigReport, license: LicenseRecord | None = None) -> str:
    """One human-readable table for a model (and its license's lines, when given)."""
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
    if license is not None:
        lines += ["  " + line for line in license.describe()]
    return "\n".join(lines)
