"""Where things live in an output folder OUT, and the only code that deletes anything there.

    OUT/<split>/<id>-<k:04d>.tar              finished shards (never a partial one: temp + rename)
    OUT/excluded/<split>/...                  shards of characters QA excluded
    OUT/characters/<id>/                      per-character files (CHARACTER_FILES)
    OUT/journal.jsonl, OUT/failures.jsonl     a run over the whole manifest
    OUT/journal-part-K-of-N.jsonl, ...        a `--part K/N` run: its own files, so no two
                                              processes ever append to one file
    OUT/run.json                              what is being rendered (status and merge read it)
    OUT/dataset.yaml, OUT/index.json          written by merge (and a whole-manifest run)
    OUT/.redo/                                `--redo`: new renders staged beside the old ones,
                                              and commit-<id>.json intents (render/run/commit.py)

Locks: a whole-manifest run holds OUT/.thagen.lock exclusively; a part run holds it shared
plus its own OUT/.thagen-part-K-of-N.lock exclusively, so parts run side by side, the same
part never twice, and never a whole-manifest run beside a part. flock dies with its process,
so a kill -9 never leaves a lock stuck.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from thagen.errors import ThagenError

JOURNAL = "journal.jsonl"
FAILURES = "failures.jsonl"
DATASET_YAML = "dataset.yaml"
INDEX_JSON = "index.json"
# The dataset card (render/run/dataset_card.py): thagen rewrites (and --restart removes) only
# files that carry its marker, so a README.md a person keeps in OUT is never overwritten.
CARD_FILES = ("README.md", "CREDITS.md")
CARD_MARKER = (
    "<!-- thagen dataset card: rewritten by every merge; correct the models' licenses, not this file -->"
)


def is_thagen_card(path: Path) -> bool:
    """True for a card file thagen wrote (it carries CARD_MARKER); False for anything else."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return CARD_MARKER in fh.read(64 * 1024)
    except OSError:
        return False


RUN_JSON = "run.json"
CHARACTERS = "characters"
EXCLUDED = "excluded"
STAGING = ".redo"  # re-renders are written here first, then committed over the old outputs
LOCK = ".thagen.lock"
DEFAULT_SPLITS = ("train", "val", "test")
# files thagen writes into characters/<id>/ (the only ones --restart deletes there)
CHARACTER_FILES = (
    "rest.png",
    "rig_report.json",
    "blender.log",
    "contact_sheet.png",
    "qa.json",
    "qa_eyes_closed.png",
    "qa_mouth_closed.png",
)
_PART_FILE = re.compile(r"^(journal|failures)-part-(\d+)-of-(\d+)\.jsonl$")
_SHARD_NAME = re.compile(r"^(?P<id>.+)-\d{4}\.tar(\.tmp-\d+)?$")


@dataclass(frozen=True)
class PartFiles:
    """The journal, failures file and lock one run writes: `part` None for the whole manifest."""

    out: Path
    part: tuple[int, int] | None = None

    @property
    def suffix(self) -> str:
        return "" if self.part is None else f"-part-{self.part[0]}-of-{self.part[1]}"

    @property
    def journal(self) -> Path:
        return self.out / f"journal{self.suffix}.jsonl"

    @property
    def failures(self) -> Path:
        return self.out / f"failures{self.suffix}.jsonl"

    @property
    def lock(self) -> Path:
        return self.out / (LOCK if self.part is None else f".thagen{self.suffix}.lock")

    @property
    def label(self) -> str:
        return "all" if self.part is None else f"{self.part[0]}/{self.part[1]}"


def journal_files(out: Path) -> list[Path]:
    """Every journal in OUT: the whole-manifest one and those of all parts, in a fixed order."""
    return _files_of(out, "journal")


def failure_files(out: Path) -> list[Path]:
    return _files_of(out, "failures")


def _files_of(out: Path, kind: str) -> list[Path]:
    found = [out / f"{kind}.jsonl"] if (out / f"{kind}.jsonl").exists() else []
    if out.is_dir():
        parts = [(p, _PART_FILE.match(p.name)) for p in out.iterdir()]
        found += [
            p
            for p, m in sorted(
                ((p, m) for p, m in parts if m and m.group(1) == kind),
                key=lambda pm: (int(pm[1].group(3)), int(pm[1].group(2))),
            )
        ]
    return found


def part_of_file(path: Path) -> str:
    """'K/N' for a part's journal or failures file, 'all' for the whole-manifest one."""
    m = _PART_FILE.match(path.name)
    return f"{m.group(2)}/{m.group(3)}" if m else "all"


def shard_pattern(character_id: str) -> re.Pattern[str]:
    """Matches exactly this character's shards and their temp files (`gene` never matches `gene-2`)."""
    return re.compile(rf"^{re.escape(character_id)}-\d{{4}}\.tar(\.tmp-\d+)?$")


def split_dirs(out: Path, splits: Iterable[str]) -> list[Path]:
    names = list(dict.fromkeys([*DEFAULT_SPLITS, *splits]))
    dirs = [out / s for s in names] + [out / EXCLUDED / s for s in names]
    return [d for d in dirs if d.is_dir()]


def remove_character_outputs(
    out: Path, character_ids: str | Iterable[str], splits: Iterable[str], *, keep_files: bool = False
) -> list[Path]:
    """Delete what any earlier (killed or failed) run left of these characters; returns what went.

    Each split folder is listed once, so this stays linear in the number of files for a
    manifest of thousands of characters. `gene` never matches `gene-2`'s shards: the id is
    the whole name before `-<k:04d>.tar`. `keep_files` keeps characters/<id>/ (a failed
    character's blender.log is worth reading).
    """
    ids = {character_ids} if isinstance(character_ids, str) else set(character_ids)
    removed: list[Path] = []
    for d in split_dirs(out, splits):
        for p in d.iterdir():
            m = _SHARD_NAME.match(p.name)
            if m and m.group("id") in ids:
                p.unlink(missing_ok=True)
                removed.append(p)
    for cid in sorted(ids if not keep_files else ()):
        cdir = out / CHARACTERS / cid
        if cdir.is_dir():
            shutil.rmtree(cdir)
            removed.append(cdir)
    return removed


def remove_stray_temps(out: Path, splits: Iterable[str], ids: Iterable[str] | None = None) -> list[Path]:
    """Temp files of dead runs (the locks guarantee no live writer of them).

    With `ids` (a part run), only those characters' temps go: another part may be writing
    its own temp files into the same folders right now.
    """
    own = None if ids is None else set(ids)
    removed = []
    dirs = [*split_dirs(out, splits)] if own is not None else [out, *split_dirs(out, splits)]
    chars = out / CHARACTERS
    if chars.is_dir():
        dirs += [d for d in chars.iterdir() if d.is_dir() and (own is None or d.name in own)]
    for d in dirs:
        for p in d.iterdir():
            if ".tmp-" not in p.name or not p.is_file():
                continue
            m = _SHARD_NAME.match(p.name)
            if own is not None and d.parent.name != CHARACTERS and not (m and m.group("id") in own):
                continue
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed


def clear_output(out: Path, splits: Iterable[str]) -> None:
    """--restart: remove thagen's own outputs only (shards, journals, per-character files).

    Anything else in OUT (a user's notes, other folders) is left alone, and folders are
    removed only when they end up empty.
    """
    splits = list(splits)
    for d in split_dirs(out, splits):
        for p in d.iterdir():
            if _SHARD_NAME.match(p.name):
                p.unlink()
        _rmdir_if_empty(d)
    _rmdir_if_empty(out / EXCLUDED)
    chars = out / CHARACTERS
    if chars.is_dir():
        for cdir in chars.iterdir():
            if not cdir.is_dir():
                continue
            for p in cdir.iterdir():
                if p.name in CHARACTER_FILES or ".tmp-" in p.name:
                    p.unlink()
            _rmdir_if_empty(cdir)
        _rmdir_if_empty(chars)
    for p in [*journal_files(out), *failure_files(out)]:
        p.unlink(missing_ok=True)
    shutil.rmtree(out / STAGING, ignore_errors=True)
    # licenses.json / license-excluded.jsonl are not removed: render_manifest writes them for this
    # run before it starts (render/output/licenses.py rewrites both on every run).
    for name in (DATASET_YAML, INDEX_JSON, RUN_JSON):
        (out / name).unlink(missing_ok=True)
    for name in (*CARD_FILES, *(f"DATASET_{n}" for n in CARD_FILES)):
        if is_thagen_card(out / name):
            (out / name).unlink()
    if out.is_dir():
        remove_stray_temps(out, splits)


def _rmdir_if_empty(d: Path) -> None:
    with contextlib.suppress(OSError):
        d.rmdir()


def _flock(path: Path, mode: int, what: str) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        os.close(fd)
        raise ThagenError(f"{path.parent}: {what} (lock {path})") from exc
    return fd


def is_running(out: Path, part: tuple[int, int] | None) -> bool:
    """Whether a live process holds that run's lock (for `thagen status`; never blocks)."""
    path = PartFiles(out, part).lock
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops a lock we got
    return False


@contextlib.contextmanager
def output_lock(out: Path, part: tuple[int, int] | None = None) -> Iterator[None]:
    """The locks of one run (see the module docstring)."""
    out.mkdir(parents=True, exist_ok=True)
    fds: list[int] = []
    try:
        if part is None:
            fds.append(_flock(out / LOCK, fcntl.LOCK_EX, "another thagen render is writing here"))
        else:
            fds.append(_flock(out / LOCK, fcntl.LOCK_SH, "a whole-manifest thagen render is writing here"))
            files = PartFiles(out, part)
            fds.append(_flock(files.lock, fcntl.LOCK_EX, f"part {files.label} is already being rendered"))
        yield
    finally:
        for fd in fds:
            os.close(fd)


def pid_alive(pid: int) -> bool:
    """Whether process `pid` exists on this machine (scratch folders named by a dead pid are
    leftovers of a crash and may be removed). A zombie (killed, not yet reaped by its parent)
    counts as dead: it will never run again, and its parent may take a while to reap it."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc here (or it just went): alive, as kill said
    return stat.rsplit(")", 1)[-1].split()[:1] != ["Z"]
