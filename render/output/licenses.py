"""OUT/licenses.json and OUT/license-excluded.jsonl: the license of every character a render
was planned with, and the models a manifest's `licenses:` filter left out.

The records are collected when the manifest is planned (render/manifest/licenses.py), but
dataset.yaml and the dataset card are written later, by whichever process finishes or merges
the output, maybe on another machine. So the plan writes them into OUT, beside run.json: every
part plans the whole manifest and writes the same content, atomically, so a merge of parts
finds exactly what a serial run finds. A model that was filtered out is listed with its reasons
in license-excluded.jsonl (like failures.jsonl) and in dataset.yaml, never silently dropped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from thagen.files import atomic_write_bytes
from thagen.render.output.jsonl import write_jsonl
from thagen.rigs.licenses import LicenseRecord, LicenseTally

LICENSES_JSON = "licenses.json"
LICENSE_EXCLUDED = "license-excluded.jsonl"
BUILTIN_SOURCE = "built-in character"
FORMAT = 1


def source_name(path: Path | None, member: str | None, builtin: bool) -> str:
    """The model file as a dataset card shows it: its name (`pack.zip:folder/model.pmx` for a
    zip member), never the folder it lay in on the machine that rendered it."""
    if builtin or path is None:
        return BUILTIN_SOURCE
    return f"{Path(path).name}:{member}" if member else Path(path).name


class LicensedJob(Protocol):
    """What the plan file reads of a `CharacterJob` (render/manifest/types.py)."""

    @property
    def id(self) -> str: ...

    @property
    def license(self) -> Mapping[str, Any] | None: ...

    @property
    def model_path(self) -> Path | None: ...

    @property
    def zip_member(self) -> str | None: ...

    @property
    def builtin(self) -> bool: ...


class Exclusion(Protocol):
    """A filtered-out model (render/manifest/licenses.py's `LicenseExclusion`)."""

    def to_json(self) -> dict[str, Any]: ...


def write_license_plan(out: Path, jobs: Sequence[LicensedJob], excluded: Sequence[Exclusion]) -> None:
    """Write OUT/licenses.json (rewritten only when it changes) and OUT/license-excluded.jsonl
    (removed when nothing was excluded, so an old list never outlives its reason)."""
    out = Path(out)
    dropped = sorted((item.to_json() for item in excluded), key=lambda e: str(e.get("id")))
    data = {
        "format": FORMAT,
        "characters": {
            job.id: {
                "model_file": source_name(job.model_path, job.zip_member, job.builtin),
                "license": None if job.license is None else dict(job.license),
            }
            for job in sorted(jobs, key=lambda j: j.id)
        },
        "excluded": dropped,
    }
    text = (json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode()
    path = out / LICENSES_JSON
    if not (path.is_file() and path.read_bytes() == text):
        atomic_write_bytes(path, text)
    if dropped:
        write_jsonl(out / LICENSE_EXCLUDED, dropped)
    else:
        (out / LICENSE_EXCLUDED).unlink(missing_ok=True)


def read_license_plan(out: Path) -> dict[str, Any] | None:
    """OUT/licenses.json, or None when OUT has none (rendered without a plan, or by an older thagen)."""
    try:
        data = json.loads((Path(out) / LICENSES_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("format") == FORMAT else None


def add_license_sections(out: Path, data: dict[str, Any]) -> None:
    """dataset.yaml's license parts, added to its `data` in place: each character's `model_file`
    and `license` record, and a top-level `licenses` section (the counts, and the models the
    manifest's filter excluded with their reasons). Nothing is added when OUT has no plan."""
    plan = read_license_plan(out)
    if plan is None:
        return
    planned = plan.get("characters") or {}
    records: list[LicenseRecord] = []
    for cid, entry in (data.get("characters") or {}).items():
        info = planned.get(cid)
        if not isinstance(info, dict):
            continue
        entry["model_file"] = info.get("model_file")
        entry["license"] = info.get("license")
        if isinstance(info.get("license"), dict):
            records.append(LicenseRecord.from_json(info["license"]))
    tally = LicenseTally.of(records)
    data["licenses"] = {
        "summary": tally.text(),
        "counts": tally.to_json(),
        "excluded": [
            {
                "id": item.get("id"),
                "model": item.get("model"),
                "model_file": item.get("model_file"),
                "reasons": item.get("reasons", []),
                "license_name": (item.get("license") or {}).get("license_name"),
            }
            for item in plan.get("excluded") or []
        ],
    }
