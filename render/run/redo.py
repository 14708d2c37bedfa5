"""`--redo flagged` / `--redo ID...`: render finished characters again with the current
annotations and overrides, replacing their outputs; and re-filing finished characters when
the QA settings now decide otherwise about holding them back.

A re-render goes to OUT/.redo/ (the same layout as OUT), beside the old outputs, which stay
where the trainer and merge see them. Only when the new render is complete is it committed
(render/run/commit.py): its shards and per-character files moved into place, the journal line
replaced, the old shards deleted, each step repeatable after a crash. A re-render that fails
leaves the old outputs and journal line exactly as they were.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from thagen.errors import ConfigError
from thagen.render.character.flags import hard_flags, held_back, record_flags
from thagen.render.output.jsonl import append_jsonl, read_jsonl
from thagen.render.output.layout import (
    CHARACTER_FILES,
    CHARACTERS,
    EXCLUDED,
    STAGING,
    PartFiles,
    journal_files,
    remove_character_outputs,
    remove_stray_temps,
)
from thagen.render.run.backends import Outcome, RunEvents
from thagen.render.run.commit import Replacement, commit, finish_pending
from thagen.render.run.partition import Part, jobs_of_part
from thagen.render.run.summary import RunSummary

if TYPE_CHECKING:
    from thagen.progress import Progress
    from thagen.render.manifest import CharacterJob

FLAGGED = "flagged"
Home = tuple[str, dict[str, Any]]  # (journal file name, its line) of a finished character


def parse_redo(values: Iterable[str]) -> list[str]:
    """`--redo` values: `flagged` and character ids, repeated or comma / space separated."""
    return [w for v in values for w in re.split(r"[,\s]+", v) if w]


def check_redo(words: Sequence[str], jobs: list[CharacterJob], part: Part | None) -> None:
    """One-line errors for ids the manifest does not have, or that another part renders."""
    ids = {j.id for j in jobs}
    unknown = [w for w in words if w != FLAGGED and w not in ids]
    if unknown:
        raise ConfigError(
            f"--redo: no character {', '.join(repr(u) for u in unknown)} in this manifest "
            "(`thagen status OUT` lists the held-back ones; ids are as in the journal)"
        )
    if part is not None:
        mine = {j.id for j in jobs_of_part(jobs, part)}
        other = [w for w in words if w != FLAGGED and w not in mine]
        if other:
            raise ConfigError(
                f"--redo: {', '.join(other)} not in part {part[0]}/{part[1]}; redo it with its own "
                "--part, or without --part"
            )


def homes(out: Path, files: PartFiles, ids: set[str]) -> dict[str, Home]:
    """Where each of `ids` is journalled (the last line wins, as everywhere)."""
    found: dict[str, Home] = {}
    for path in journal_files(out):
        for rec in read_jsonl(path):
            if rec.get("id") in ids:
                found[str(rec["id"])] = (path.name, rec)
    return found


def select_redo(
    words: Sequence[str], mine: list[CharacterJob], out: Path, files: PartFiles
) -> tuple[list[CharacterJob], dict[str, Home]]:
    """The finished characters to render again: `flagged` is every one with a hard QA flag
    (held back, or kept with `exclude_flagged: false`); ids name them. An id not finished yet
    is rendered by the run anyway. A part may only replace lines of its own journal."""
    found = homes(out, files, {j.id for j in mine})
    wanted = {w for w in words if w != FLAGGED}
    if FLAGGED in words:
        wanted |= {cid for cid, (_, rec) in found.items() if hard_flags(record_flags(rec))}
    chosen = {cid: found[cid] for cid in wanted if cid in found}
    if files.part is not None:
        elsewhere = sorted(cid for cid, (name, _) in chosen.items() if name != files.journal.name)
        if elsewhere:
            raise ConfigError(
                f"--redo: {', '.join(elsewhere)} journalled outside {files.journal.name}; "
                "redo it without --part (when no part is running)"
            )
    return [j for j in mine if j.id in chosen], chosen


def clean_staging(out: Path, ids: Iterable[str] | None, splits: list[str]) -> None:
    """Finish interrupted commits, then drop what half-finished re-renders left in OUT/.redo/
    (a whole output: everything there; a part: only its characters')."""
    staging = out / STAGING
    if not staging.is_dir():
        return
    finish_pending(out, ids)
    if ids is None:
        shutil.rmtree(staging, ignore_errors=True)
        return
    remove_character_outputs(staging, ids, splits)
    remove_stray_temps(staging, splits, ids)


def refile(out: Path, journals: list[Path], ids: set[str], exclude_flagged: bool, name: str) -> list[str]:
    """Move finished characters' shards in or out of excluded/ where the QA settings (the
    manifest's `qa.exclude_flagged`, the hard-flag table) now decide otherwise than when they
    were rendered: no re-render is needed, the flags are in the journal."""
    replacements: list[Replacement] = []
    for path in journals:
        for rec in read_jsonl(path):
            cid = rec.get("id")
            if cid not in ids:
                continue
            want = held_back(record_flags(rec), exclude_flagged)
            if want == bool(rec.get("excluded")):
                continue
            old = [str(s) for s in rec.get("shards", [])]
            new = [_filed(s, want) for s in old]
            moves = [(a, b) for a, b in zip(old, new, strict=True) if a != b]
            record = {**rec, "shards": new, "excluded": want, "refiled_at": round(time.time(), 3)}
            replacements.append(Replacement(str(cid), record, path.name, moves, []))
    commit(out, f"refile-{name}", replacements)
    return [r.id for r in replacements]


def _filed(rel: str, excluded: bool) -> str:
    parts = rel.split("/")
    if excluded and parts[0] != EXCLUDED:
        return "/".join([EXCLUDED, *parts])
    if not excluded and parts[0] == EXCLUDED:
        return "/".join(parts[1:])
    return rel


def replacement(out: Path, record: dict[str, Any], home: Home) -> Replacement:
    """The commit of a re-render staged in OUT/.redo/: its shards and characters/<id>/ files
    move into place; old shards it does not name and old per-character files it did not write
    again (qa_*.png after a `--no-qa` redo) go."""
    cid = str(record["id"])
    moves = [(f"{STAGING}/{rel}", rel) for rel in record.get("shards", [])]
    staged = out / STAGING / CHARACTERS / cid
    made = (
        sorted(p.name for p in staged.iterdir() if p.is_file() and ".tmp-" not in p.name)
        if staged.is_dir()
        else []
    )
    moves += [(f"{STAGING}/{CHARACTERS}/{cid}/{n}", f"{CHARACTERS}/{cid}/{n}") for n in made]
    remove = [str(s) for s in home[1].get("shards", []) if s not in record.get("shards", [])]
    remove += [f"{CHARACTERS}/{cid}/{n}" for n in CHARACTER_FILES if n not in made]
    return Replacement(cid, record, home[0], moves, remove)


class RedoEvents:
    """RunEvents for re-renders: a finished one is committed over the old outputs, a failed one
    leaves them as they were (and is recorded in the failures file, for its log)."""

    def __init__(
        self,
        base: RunEvents,
        out: Path,
        files: PartFiles,
        splits: list[str],
        found: dict[str, Home],
        summary: RunSummary,
        progress: Progress,
    ) -> None:
        self.base, self.out, self.files, self.splits = base, out, files, splits
        self.found, self.summary, self.progress = found, summary, progress

    def started(self, job: CharacterJob, attempt: int) -> None:
        self.base.started(job, attempt)

    def images(self, n: int) -> None:
        self.base.images(n)

    def workers(self, busy: int, total: int) -> None:
        self.base.workers(busy, total)

    def message(self, text: str) -> None:
        self.base.message(text)

    def finished(self, outcome: Outcome) -> None:
        cid = outcome.job.id
        staging = self.out / STAGING
        if outcome.done:
            rec = {
                **outcome.record,
                "finished_at": round(time.time(), 3),
                "part": self.files.label,
                "redo_of": self.found[cid][1].get("finished_at"),
            }
            commit(self.out, cid, [replacement(self.out, rec, self.found[cid])])
            shutil.rmtree(staging / CHARACTERS / cid, ignore_errors=True)
            self.summary.redone.append(cid)
            self.summary.excluded += int(bool(rec.get("excluded")))
            self.progress.characters_done += 1
        else:
            remove_character_outputs(staging, cid, self.splits)
            rec = {**outcome.record, "redo": True}
            append_jsonl(self.files.failures, rec)
            self.summary.redo_failed.append(cid)
            self.summary.failures.append(rec)
            self.progress.characters_failed += 1
            self.progress.message(
                f"[thagen] REDO FAILED {cid} (its earlier render is kept) [{rec.get('stage')}] "
                f"{rec.get('error_type')}: {rec.get('message')}"
            )
        self.progress.update(0, force=True)
