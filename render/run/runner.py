"""Render a whole manifest (or one part of it) into OUT: resumable, crash-safe, one broken
character never stops a run.

The rules that make a kill -9 at any moment harmless:
- a character is done if and only if its line is in one of OUT's journals, and that line is
  written (append + fsync) after everything else of the character is in place;
- before a character that is not journalled is rendered, whatever an earlier run left of it
  (its shards, its `*.tmp-*` files, its characters/<id>/ folder) is removed;
- shards are written under a temporary name and renamed (render/output/shards.py).

Rendering happens in worker processes (render/run/pool.py) or Ray tasks (render/run/ray_backend.py),
each holding one long-lived Blender renderer. This module only schedules, journals and
reports, so a Blender crash costs at most the character in flight. A `--part K/N` run keeps
its own journal and failures file and a per-part lock (render/output/layout.py), so parts render
side by side into one OUT; `thagen merge` (render/run/merge.py) then checks and indexes it.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import os
import socket
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from thagen.errors import ConfigError
from thagen.files import fsync_dir
from thagen.progress import Progress
from thagen.render.identity.plan import identity_section
from thagen.render.output.jsonl import append_jsonl, read_jsonl, write_jsonl
from thagen.render.output.layout import (
    DATASET_YAML,
    FAILURES,
    JOURNAL,
    RUN_JSON,
    STAGING,
    PartFiles,
    clear_output,
    journal_files,
    output_lock,
    remove_character_outputs,
    remove_stray_temps,
    shard_pattern,
)
from thagen.render.run.backends import Backend, FarmOptions, Outcome
from thagen.render.run.dataset_yaml import RESUME_KEYS, check_same_settings, read_journals, write_dataset_yaml
from thagen.render.run.partition import Part, jobs_of_part, part_cost
from thagen.render.run.recheck import qa_character, qa_output
from thagen.render.run.redo import RedoEvents, check_redo, clean_staging, parse_redo, refile, select_redo
from thagen.render.run.review import flagged_characters
from thagen.render.run.summary import RunSummary
from thagen.render.settings import RunSettings, expected_images

if TYPE_CHECKING:
    from thagen.render.manifest import CharacterJob

__all__ = [
    "DATASET_YAML",
    "FAILURES",
    "JOURNAL",
    "RESUME_KEYS",
    "RunSummary",
    "check_same_settings",
    "expected_images",
    "qa_character",
    "qa_output",
    "read_jsonl",
    "remove_character_outputs",
    "run_jobs",
    "shard_pattern",
    "write_dataset_yaml",
]


class _Journaler:
    """The run's side of RunEvents: journal lines, failure lines, the progress line."""

    def __init__(
        self, out: Path, files: PartFiles, splits: list[str], summary: RunSummary, progress: Progress
    ):
        self.out, self.files, self.splits = out, files, splits
        self.summary, self.progress = summary, progress

    def started(self, job: CharacterJob, attempt: int) -> None:
        self.progress.update(0, current=job.id + (f" (attempt {attempt})" if attempt > 1 else ""), force=True)

    def images(self, n: int) -> None:
        self.summary.images += n
        self.progress.update(n)

    def workers(self, busy: int, total: int) -> None:
        self.progress.busy, self.progress.workers = busy, total

    def message(self, text: str) -> None:
        self.progress.message(text)

    def finished(self, outcome: Outcome) -> None:
        rec = outcome.record
        if outcome.done:
            rec = {**rec, "finished_at": round(time.time(), 3), "part": self.files.label}
            append_jsonl(self.files.journal, rec)
            self.summary.done += 1
            self.summary.excluded += int(bool(rec.get("excluded")))
            self.progress.characters_done += 1
        else:
            # no shard of a failed character may stay where the trainer reads
            remove_character_outputs(self.out, outcome.job.id, self.splits, keep_files=True)
            append_jsonl(self.files.failures, rec)
            self.summary.failed += 1
            self.summary.failures.append(rec)
            self.progress.characters_failed += 1
            self.progress.message(
                f"[thagen] FAILED {outcome.job.id} [{rec.get('stage')}] {rec.get('error_type')}: {rec.get('message')}"
            )
        self.progress.update(0, force=True)


def make_backend(options: FarmOptions) -> Backend:
    if options.backend == "ray":
        from thagen.render.run.ray_backend import RayBackend

        return RayBackend(options)
    from thagen.render.run.pool import LocalPool

    return LocalPool(options)


def write_run_json(
    out: Path,
    jobs: list[CharacterJob],
    settings: RunSettings,
    manifest_dict: dict[str, Any],
    *,
    manifest_path: Path | None,
    part_count: int | None,
    render_options: list[str],
) -> None:
    """OUT/run.json: what OUT is a rendering of, for `thagen status` and `thagen merge`.

    Every part writes the same content (nothing machine-specific), so concurrent writers agree;
    it is rewritten only when it changes. A part count other than the recorded one is refused:
    two partitions of one manifest overlap, and their parts would render characters twice.
    """
    path = out / RUN_JSON
    old: dict[str, Any] = {}
    if path.exists():
        try:
            old = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            old = {}
    old_count = old.get("part_count")
    if part_count is not None and old_count not in (None, part_count) and read_journals(out):
        raise ConfigError(
            f"{out}: is being rendered in {old_count} parts ({path}); use --part K/{old_count}, "
            "or --restart to start over"
        )
    settings_dict = {
        k: v for k, v in dataclasses.asdict(settings).items() if k not in ("threads", "cache_dir")
    }
    data = {
        "format": 1,
        "manifest_path": str(manifest_path) if manifest_path else None,
        "out": str(out),
        "manifest": manifest_dict,
        "settings": settings_dict,
        "render_options": render_options,
        "part_count": part_count or old_count,
        "characters": [
            {"id": j.id, "split": str(j.split), "images": expected_images(j, settings), "cost": part_cost(j)}
            for j in sorted(jobs, key=lambda j: j.id)
        ],
        "identity": identity_section(jobs),
    }
    text = json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    if old and json.dumps(old, indent=1, sort_keys=True, ensure_ascii=False) + "\n" == text:
        return
    tmp = path.with_name(f"{RUN_JSON}.tmp-{socket.gethostname()}-{os.getpid()}")
    tmp.write_text(text)
    tmp.replace(path)


def run_jobs(
    jobs: list[CharacterJob],
    out: Path,
    settings: RunSettings,
    *,
    manifest_dict: dict[str, Any] | None = None,
    resume: bool = True,
    progress_stream: TextIO | None = None,
    progress_interval: float = 10.0,
    part: Part | None = None,
    farm: FarmOptions | None = None,
    manifest_path: Path | None = None,
    render_options: list[str] | None = None,
    redo: Sequence[str] = (),
) -> RunSummary:
    """Render `jobs` (or part `part` of them) into `out`; see the module docstring for the
    guarantees. `redo` (`flagged` and/or ids, render/run/redo.py) also renders those finished
    characters again, replacing their outputs only once the new ones are complete."""
    out = Path(out)
    farm = farm or FarmOptions()
    ids = [j.id for j in jobs]
    dup = sorted(i for i, n in collections.Counter(ids).items() if n > 1)
    if dup:
        raise ConfigError(f"character ids are not unique: {', '.join(dup)}")
    redo_words = parse_redo(redo)
    if redo_words and not resume:
        raise ConfigError("--redo renders characters of an existing output again; not with --restart")
    check_redo(redo_words, jobs, part)
    mine = jobs_of_part(jobs, part) if part else list(jobs)
    mine_ids = {j.id for j in mine}
    splits = sorted({str(j.split) for j in jobs})
    files = PartFiles(out, part)
    t0 = time.monotonic()
    summary = RunSummary(out=out, part=part, failures_file=files.failures)
    with output_lock(out, part):
        if not resume and part is None:
            clear_output(out, splits)
        elif not resume:
            others = [p for p in journal_files(out) if p != files.journal]
            elsewhere = sorted(mine_ids & {r.get("id") for p in others for r in read_jsonl(p)})
            if elsewhere:  # journalled by a whole-manifest run or another partition: not ours to drop
                raise ConfigError(
                    f"{out}: {', '.join(elsewhere[:5])} of part {files.label} are journalled outside "
                    f"{files.journal.name}; restart the whole output (--restart without --part)"
                )
            clean_staging(out, mine_ids, splits)
            remove_character_outputs(out, mine_ids, splits)
            files.journal.unlink(missing_ok=True)
            files.failures.unlink(missing_ok=True)
        elif manifest_dict:
            check_same_settings(out, manifest_dict)
        write_run_json(
            out,
            jobs,
            settings,
            manifest_dict or {},
            manifest_path=manifest_path,
            part_count=part[1] if part else None,
            render_options=render_options or [],
        )
        read_jsonl(files.journal, repair=True)
        # a commit a crash interrupted is finished, half-staged re-renders go (render/run/redo.py)
        clean_staging(out, None if part is None else mine_ids, splits)
        # finished characters follow the current QA settings (held back or not) without a re-render
        scope = journal_files(out) if part is None else [files.journal]
        summary.refiled = refile(
            out, scope, mine_ids, settings.exclude_flagged, files.label.replace("/", "-of-")
        )
        done_ids = set(read_journals(out))
        redo_jobs, redo_homes = select_redo(redo_words, mine, out, files) if redo_words else ([], {})
        todo = [j for j in mine if j.id not in done_ids]
        summary.skipped = len(mine) - len(todo) - len(redo_jobs)
        # Failures of characters tried again now are dropped; they are re-recorded if they fail again.
        todo_ids = {j.id for j in todo}
        again = todo_ids | set(redo_homes)
        old_failures = [f for f in read_jsonl(files.failures, repair=True) if f.get("id") not in again]
        if files.failures.exists() or old_failures:
            write_jsonl(files.failures, old_failures)
        remove_stray_temps(out, splits, None if part is None else list(mine_ids))
        remove_character_outputs(out, todo_ids, splits)
        fsync_dir(out)

        progress = Progress(
            sum(expected_images(j, settings) for j in [*todo, *redo_jobs]),
            stream=progress_stream,
            interval=progress_interval,
            characters=len(todo) + len(redo_jobs),
        )
        if summary.skipped or redo_jobs:
            progress.message(
                f"[thagen] resuming: {summary.skipped} characters already done, {len(todo)} to render"
                + (f", {len(redo_jobs)} to render again (--redo)" if redo_jobs else "")
            )
        if redo_words and not redo_jobs:
            progress.message(
                "[thagen] --redo: no finished character to render again (none it names is flagged)"
            )
        if summary.refiled:
            progress.message(
                f"[thagen] QA settings changed: re-filed {len(summary.refiled)} finished characters "
                "(shards moved in or out of excluded/)"
            )
        events = _Journaler(out, files, splits, summary, progress)
        blender_version = ""
        try:
            if todo:
                blender_version = make_backend(farm).run(todo, out, settings, events)
            if redo_jobs:  # rendered beside the old outputs, each committed when complete
                staged = RedoEvents(events, out, files, splits, redo_homes, summary, progress)
                blender_version = (
                    make_backend(farm).run(redo_jobs, out / STAGING, settings, staged) or blender_version
                )
        finally:
            progress.finish()
        if part is None:
            clean_staging(out, None, splits)  # empty now: every re-render was committed or dropped
        summary.seconds = time.monotonic() - t0
        if part is None:
            write_dataset_yaml(
                out,
                ids,
                manifest_dict or {},
                settings,
                blender_version=blender_version,
                identity=identity_section(jobs),
            )
        complete = not summary.failed and set(read_journals(out)) >= set(ids)
        if complete:  # this run finished the last of it: merge (a part only when all parts are done)
            from thagen.render.run.merge import merge_output

            summary.merged = merge_output(out, settings=settings if part is None else None).ok
        summary.flagged = flagged_characters(out)
        summary.run = _read_run(out)
    return summary


def _read_run(out: Path) -> dict[str, Any]:
    try:
        data = json.loads((out / RUN_JSON).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
