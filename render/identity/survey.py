"""Identity columns, summary and group file of `thagen rig survey` (render/rig_survey.py on rigs/survey.py).

The survey reads every model anyway, so it signs each one where it is read (in the worker),
stores the signals in the cache for later renders, and groups all rows at the end: a person
reviews the groups in the CSV, edits the group file it writes, and names that file in a manifest.
"""

from __future__ import annotations

import collections
from pathlib import Path
from typing import TYPE_CHECKING, Any

from thagen.render.discovery import characters as chars
from thagen.render.identity import cache as identity_cache
from thagen.render.identity.cache import location_key
from thagen.render.identity.group_file import write_group_file
from thagen.render.identity.grouping import ShownParameters, group_models
from thagen.render.identity.shown import SHOWN_VECTORS
from thagen.render.identity.signals import ModelSignals, compute_signals, texture_files

if TYPE_CHECKING:
    from thagen.rigs.model import Model
    from thagen.rigs.normalize import RigReport

IDENTITY_COLUMNS = ["id", "group", "group_size", "group_evidence", "duplicate_of", "duplicate_reason"]
SIGNALS_FIELD = "_signals"  # the row's ModelSignals (not a CSV column)


def sign_row(row: dict[str, Any], path: Path, member: str | None, model: Model, report: RigReport) -> None:
    """Add the model's id and signals to its survey row and store them in the cache."""
    ref = chars.refs_for_zip(path, member)[0] if member else chars.ref_for_file(path)
    signals = compute_signals(model, report)
    row["id"] = ref.id
    row[SIGNALS_FIELD] = signals
    deps = [path] + ([] if member else texture_files(model))
    identity_cache.store_many(
        [(location_key(path, member), ref.sha256, signals, identity_cache.file_deps(deps))]
    )


def _shown_from_rows(rows: list[dict[str, Any]]) -> ShownParameters | None:
    """With `--pose-vector tha2 / tha3` each row holds every parameter's availability already:
    of a set of duplicates the survey then names the one showing the most as kept, as a render
    with that vector does (render/identity/shown.py)."""
    from thagen.pose_vectors import pose_vector_def

    counts: dict[str, int] = {}
    columns: set[str] = set()
    for row in rows:
        cells = {k: v for k, v in row.items() if k.startswith("avail_") and k != "avail_missing"}
        if row.get("id") and cells:
            columns |= cells.keys()
            counts.setdefault(row["id"], sum(v in ("exact", "derived") for v in cells.values()))
    if not counts:
        return None
    vector = next(
        (v for v in SHOWN_VECTORS if {f"avail_{n}" for n in pose_vector_def(v).names} == columns),
        "pose vector",
    )
    return ShownParameters(vector, lambda ids: {cid: counts.get(cid, 0) for cid in ids})


def group_rows(rows: list[dict[str, Any]]) -> None:
    """Fill the identity columns of every signed row (same bytes twice: a duplicate)."""
    signals: dict[str, ModelSignals] = {}
    for row in rows:
        sig = row.get(SIGNALS_FIELD)
        if sig is not None and row["id"] not in signals:
            signals[row["id"]] = sig
    result = group_models(signals, shown=_shown_from_rows(rows))
    seen: set[str] = set()
    for row in rows:
        cid = row.get("id")
        if not cid or cid not in result.group_of:
            continue
        group = result.groups[result.group_of[cid]]
        row["group"] = group.id
        row["group_size"] = len(group.members)
        row["group_evidence"] = " | ".join(link.text() for link in group.links)
        if cid in seen:
            row["duplicate_of"], row["duplicate_reason"] = cid, "the same file bytes"
        elif cid in result.duplicate_of:
            row["duplicate_of"], row["duplicate_reason"] = result.duplicate_of[cid]
        seen.add(cid)


def identity_summary(rows: list[dict[str, Any]], top: int = 5) -> str:
    grouped = [r for r in rows if r.get("group")]
    if not grouped:
        return "identity: no model could be signed"
    members: dict[str, set[str]] = collections.defaultdict(set)
    evidence: dict[str, str] = {}
    for r in grouped:
        members[r["group"]].add(r["id"])
        evidence[r["group"]] = r.get("group_evidence", "")
    dups = sum(1 for r in grouped if r.get("duplicate_of"))
    several = [g for g, m in members.items() if len(m) > 1]
    lines = [
        f"identity: {len(grouped)} models, {len(members)} groups ({len(several)} with several models), "
        f"{dups} duplicates"
    ]
    largest = sorted(several, key=lambda g: (-len(members[g]), g))[:top]
    if largest:
        lines.append("largest groups:")
        for g in largest:
            signals = sorted(
                {part.split(": ")[1].split(" (")[0] for part in evidence[g].split(" | ") if ": " in part}
            )
            lines.append(f"  {len(members[g]):5d}  {g}  ({', '.join(signals)})")
    return "\n".join(lines)


def write_rows_group_file(path: Path, rows: list[dict[str, Any]]) -> None:
    """Every signed model under its group (groups of several first), with its file as a comment."""
    by_group: dict[str, dict[str, str]] = collections.defaultdict(dict)
    for r in rows:
        if r.get("group"):
            where = f"{r['source']}!{r['member']}" if r.get("member") else r["source"]
            by_group[r["group"]].setdefault(r["id"], where)
    order = sorted(by_group, key=lambda g: (-len(by_group[g]), g))
    write_group_file(path, [(g, sorted(by_group[g].items())) for g in order])
