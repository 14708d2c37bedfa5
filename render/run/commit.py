"""Replacing what OUT holds of finished characters so that a crash at any moment leaves the
old outputs or the new ones, never neither, and the journals one line per character.

Two callers: `--redo` (render/run/redo.py) renders a character again into OUT/.redo/ and then
commits the new render over the old one; re-filing (render/run/redo.py, `refile`) moves a
finished character's shards between OUT/<split>/ and OUT/excluded/<split>/ when the QA
settings now decide otherwise.

A commit is an intent file OUT/.redo/commit-<name>.json, written atomically (fsync) before
anything else in OUT changes: per character the new journal line, the journal file that
holds its line, the file moves (from -> to, relative to OUT) and the files to delete. Then
`roll_forward` (1) moves each file still at its `from` path (os.replace: atomic per file,
same filesystem), (2) rewrites each journal once with the new lines in place of the old ones
(atomically), (3) deletes the old files the new lines do not name, (4) deletes the intent.
Every step can be repeated, so a crash anywhere is finished by the next run of the same part
(or of the whole output), which rolls every intent forward before anything else; until then
`thagen merge` reports the pending commit. Before the intent exists nothing of OUT has
changed: a half-staged re-render is just removed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from thagen.files import atomic_write_bytes, fsync_dir
from thagen.render.output.jsonl import read_jsonl, write_jsonl
from thagen.render.output.layout import STAGING

INTENT_PREFIX = "commit-"


@dataclass
class Replacement:
    """One character's part of a commit."""

    id: str
    record: dict[str, Any]  # the new journal line
    journal: str  # file name (in OUT) of the journal that holds its line
    moves: list[tuple[str, str]] = field(default_factory=list)  # (from, to), relative to OUT
    remove: list[str] = field(default_factory=list)  # old files, relative to OUT


def intent_files(out: Path) -> list[Path]:
    staging = out / STAGING
    return sorted(staging.glob(f"{INTENT_PREFIX}*.json")) if staging.is_dir() else []


def read_intent(path: Path) -> list[Replacement]:
    """The replacements of an intent file (written atomically, so whole or absent)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return [
        Replacement(r["id"], r["record"], r["journal"], [(a, b) for a, b in r["moves"]], list(r["remove"]))
        for r in data["characters"]
    ]


def pending_ids(out: Path) -> dict[str, Path]:
    """Character id -> the intent file of a commit a crash interrupted (`thagen merge` and
    `thagen status` report them; the next run of their part finishes them)."""
    found: dict[str, Path] = {}
    for path in intent_files(out):
        try:
            found.update({r.id: path for r in read_intent(path)})
        except (OSError, ValueError, KeyError, TypeError):
            found[path.stem] = path
    return found


def commit(out: Path, name: str, replacements: list[Replacement]) -> None:
    """Write the intent, then carry it out (see the module docstring)."""
    if not replacements:
        return
    path = out / STAGING / f"{INTENT_PREFIX}{name}.json"
    data = {"format": 1, "characters": [asdict(r) for r in replacements]}
    atomic_write_bytes(path, (json.dumps(data, sort_keys=True, ensure_ascii=False) + "\n").encode())
    roll_forward(out, path)


def roll_forward(out: Path, path: Path) -> list[str]:
    """Finish the commit in intent file `path` (idempotent); returns its character ids."""
    replacements = read_intent(path)
    dirs: set[Path] = set()
    for r in replacements:
        for src, dst in r.moves:
            s, d = out / src, out / dst
            if s.exists():
                d.parent.mkdir(parents=True, exist_ok=True)
                os.replace(s, d)
                dirs.update((s.parent, d.parent))
    for d in sorted(dirs):
        fsync_dir(d)
    by_journal: dict[str, dict[str, dict[str, Any]]] = {}
    for r in replacements:
        by_journal.setdefault(r.journal, {})[r.id] = r.record
    for name, records in by_journal.items():
        replace_lines(out / name, records)
    dirs.clear()
    for r in replacements:
        keep = {dst for _, dst in r.moves}
        for rel in r.remove:
            if rel not in keep and (out / rel).is_file():
                (out / rel).unlink()
                dirs.add((out / rel).parent)
    for d in sorted(dirs):
        fsync_dir(d)
    path.unlink(missing_ok=True)
    fsync_dir(path.parent)
    return [r.id for r in replacements]


def replace_lines(journal: Path, records: dict[str, dict[str, Any]]) -> None:
    """Rewrite `journal` (atomically) with each id's line replaced by `records[id]`: the first
    line of an id keeps its place, any further one goes, an id without a line is appended."""
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for rec in read_jsonl(journal):
        cid = rec.get("id")
        if isinstance(cid, str) and cid in records:
            if cid not in seen:
                out.append(records[cid])
                seen.add(cid)
            continue
        out.append(rec)
    out += [rec for cid, rec in records.items() if cid not in seen]
    write_jsonl(journal, out)


def finish_pending(out: Path, ids: Iterable[str] | None) -> list[str]:
    """Roll forward every interrupted commit that is ours to finish: all of them for a whole
    output (`ids` None), else those whose characters are all in `ids` (a part's)."""
    mine = None if ids is None else set(ids)
    done: list[str] = []
    for path in intent_files(out):
        try:
            who = {r.id for r in read_intent(path)}
        except (OSError, ValueError, KeyError, TypeError):
            continue  # unreadable: never acted on; `thagen merge` names it
        if mine is None or who <= mine:
            done += roll_forward(out, path)
    return done
