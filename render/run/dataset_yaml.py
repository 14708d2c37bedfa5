"""OUT/dataset.yaml: provenance and counts of a render output, and the resume guard.

dataset.yaml is rewritten (atomically) from the journals and failure files, so it always says
what is in OUT now; `thagen merge` writes the final one. `check_same_settings` refuses to
resume into an OUT rendered with other settings, which would silently mix two datasets.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from thagen import __version__
from thagen.errors import ConfigError
from thagen.files import atomic_write_bytes
from thagen.render.output.jsonl import read_jsonl
from thagen.render.output.layout import DATASET_YAML, EXCLUDED, RUN_JSON, failure_files, journal_files
from thagen.render.output.licenses import add_license_sections
from thagen.render.settings import RunSettings

# manifest fields whose change makes already rendered characters inconsistent with new ones.
# `qa` is deliberately not one: its settings only decide where a finished character's shards
# live (its split or excluded/), and the flags are in the journal, so a run with other QA
# settings re-files the finished characters (render/run/redo.py, `refile`) instead of refusing.
RESUME_KEYS = ("seed", "image_size", "render", "lighting", "rest_pose", "pose_sampling", "shard_size")
# `render` is compared field by field, naming the one that changed (render.engine: an output
# rendered with Cycles never resumes with EEVEE); a field an older output lacks has its default.
RENDER_DEFAULTS: dict[str, Any] = {"engine": "cycles", "device": "cpu", "adaptive": False}
# written only when not THA1's default, so compared even when absent on one side
VECTOR_RESUME_KEYS = ("pose_vector", "images", "framing_preset", "vector_motion")


def check_same_settings(out: Path, manifest_dict: dict[str, Any]) -> None:
    """Refuse to resume into an OUT rendered with other settings (a mixed dataset is silent damage)."""
    path = out / RUN_JSON if (out / RUN_JSON).exists() else out / DATASET_YAML
    if not path.exists():
        return
    try:
        old = (yaml.safe_load(path.read_text()) or {}).get("manifest") or {}
    except yaml.YAMLError:
        return
    changed = [k for k in RESUME_KEYS if k != "render" and k in old and old.get(k) != manifest_dict.get(k)]
    changed += [k for k in VECTOR_RESUME_KEYS if old.get(k) != manifest_dict.get(k)]
    if "render" in old:
        changed = _render_changes(old["render"], manifest_dict.get("render")) + changed
    if changed:
        raise ConfigError(
            f"{out}: was rendered with different {', '.join(changed)} (see {path}); "
            "resuming would mix two datasets: use --restart, or another output folder"
        )


def _render_changes(old: object, new: object) -> list[str]:
    """`render.<field> (was -> now)` for each field of the render section that differs."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return [] if old == new else ["render"]
    out = []
    for key in [*old, *(k for k in new if k not in old)]:
        was, now = old.get(key, RENDER_DEFAULTS.get(key)), new.get(key, RENDER_DEFAULTS.get(key))
        if was != now:
            out.append(f"render.{key} ({was} -> {now})")
    return out


def read_journals(out: Path) -> dict[str, dict[str, Any]]:
    """Every journalled character of OUT, from the whole-manifest journal and all parts' ones."""
    return {r["id"]: r for p in journal_files(out) for r in read_jsonl(p) if "id" in r}


def read_failures(out: Path) -> dict[str, dict[str, Any]]:
    """Failure records of characters no journal has (a later success wins over a failure)."""
    journal = read_journals(out)
    return {
        f["id"]: f for p in failure_files(out) for f in read_jsonl(p) if "id" in f and f["id"] not in journal
    }


def write_dataset_yaml(
    out: Path,
    character_ids: Iterable[str],
    manifest_dict: dict[str, Any],
    settings: RunSettings | dict[str, Any],
    *,
    blender_version: str = "",
    identity: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Provenance and counts of what is in OUT now (journals + failures), written atomically.

    `identity` is the manifest's identity groups, their evidence and the duplicates
    (render/identity/plan.py); without it, the section an earlier write recorded is kept."""
    journal = read_journals(out)
    failures = read_failures(out)
    old: dict[str, Any] = {}
    if (out / DATASET_YAML).exists():
        with contextlib.suppress(Exception):
            old = yaml.safe_load((out / DATASET_YAML).read_text()) or {}
    if not blender_version:
        blender_version = str(old.get("blender_version", "")) or _journal_blender(journal)
    counts: dict[str, dict[str, int]] = {}
    for rec in journal.values():
        key = f"{EXCLUDED}/{rec['split']}" if rec.get("excluded") else str(rec["split"])
        c = counts.setdefault(key, {"characters": 0, "samples": 0, "images": 0})
        c["characters"] += 1
        c["samples"] += int(rec.get("samples", 0))
        c["images"] += int(rec.get("images", 1 + 2 * int(rec.get("samples", 0))))  # extra images too
    settings_dict = dataclasses.asdict(settings) if dataclasses.is_dataclass(settings) else dict(settings)
    data = {
        "format": 1,
        "thagen_version": __version__,
        "blender_version": blender_version,
        "seed": settings_dict.get("seed", manifest_dict.get("seed")),
        "render_settings": settings_dict,
        "manifest": manifest_dict,
        "splits": {k: counts[k] for k in sorted(counts)},
        "characters": {
            cid: {
                "split": rec["split"],
                "samples": rec.get("samples", 0),
                "shards": rec.get("shards", []),
                "qa_flags": rec.get("qa", {}).get("flags", []),
                "excluded": bool(rec.get("excluded")),
                "framing_source": rec.get("framing_source"),
            }
            for cid, rec in sorted(journal.items())
        },
        "failures": [
            {k: f.get(k) for k in ("id", "model", "stage", "error_type", "message")}
            for _, f in sorted(failures.items())
        ],
        "pending": sorted(i for i in character_ids if i not in journal and i not in failures),
    }
    add_license_sections(out, data)  # each character's license record; the filter's exclusions
    identity = identity if identity is not None else old.get("identity")
    if identity is not None:
        data["identity"] = identity
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=120)
    atomic_write_bytes(out / DATASET_YAML, text.encode())
    return data


def _journal_blender(journal: dict[str, dict[str, Any]]) -> str:
    for rec in journal.values():
        if rec.get("blender_version"):
            return str(rec["blender_version"])
    return ""
