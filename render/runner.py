"""Render a whole manifest into OUT: resumable, crash-safe, one broken character never stops a run.

The rules that make a kill -9 at any moment harmless:
- a character is done if and only if its line is in OUT/journal.jsonl, and that line is
  written (append + fsync) after everything else of the character is in place;
- before a character that is not journalled is rendered, whatever an earlier run left of it
  (its shards, its `*.tmp-*` files, its characters/<id>/ folder) is removed;
- shards are written under a temporary name and renamed (render/shards.py).

Rendering happens in ONE long-lived worker process holding one Blender renderer, reused for
every character. The parent only schedules, journals and reports, so a Blender crash
(segfault, abort) costs one character, recorded in failures.jsonl, and a fresh worker carries on.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import fcntl
import json
import multiprocessing
import os
import re
import shutil
import signal
import sys
import tarfile
import time
import traceback
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import yaml

from thagen import __version__
from thagen.errors import ConfigError, RenderError, ThagenError
from thagen.render.shards import atomic_write_bytes, fsync_dir

JOURNAL = "journal.jsonl"
FAILURES = "failures.jsonl"
DATASET_YAML = "dataset.yaml"
CHARACTERS = "characters"
EXCLUDED = "excluded"
LOCK = ".thagen.lock"
DEFAULT_SPLITS = ("train", "val", "test")
# failure stages after which the worker's Blender is replaced (read/rig/framing never touch it)
WORKER_MAX_CHARACTERS = 200
RESTART_AFTER = ("import", "render", "qa", "write", "crash", "unknown")
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


# --------------------------------------------------------------------------- journal files


def read_jsonl(path: Path, *, repair: bool = False) -> list[dict[str, Any]]:
    """Read a JSON-lines file; a torn last line (a kill during the write) is dropped.

    With `repair`, the file is cut back to its last complete line so later appends start clean.
    """
    if not path.exists():
        return []
    data = path.read_bytes()
    records: list[dict[str, Any]] = []
    good_end = 0
    pos = 0
    for line in data.splitlines(keepends=True):
        pos += len(line)
        if not line.endswith(b"\n"):
            break
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            break
        if isinstance(rec, dict):
            records.append(rec)
        good_end = pos
    if repair and good_end != len(data):
        with open(path, "r+b") as f:
            f.truncate(good_end)
            f.flush()
            os.fsync(f.fileno())
    return records


def append_jsonl(path: Path, record: dict[str, Any]) -> None:
    """Append one line and fsync it: after this returns, the line survives a crash."""
    line = json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> None:
    text = "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in records)
    atomic_write_bytes(path, text.encode())


# --------------------------------------------------------------------------- output layout


def shard_pattern(character_id: str) -> re.Pattern[str]:
    """Matches exactly this character's shards and their temp files (`gene` never matches `gene-2`)."""
    return re.compile(rf"^{re.escape(character_id)}-\d{{4}}\.tar(\.tmp-\d+)?$")


def split_dirs(out: Path, splits: Iterable[str]) -> list[Path]:
    names = list(dict.fromkeys([*DEFAULT_SPLITS, *splits]))
    dirs = [out / s for s in names] + [out / EXCLUDED / s for s in names]
    return [d for d in dirs if d.is_dir()]


_SHARD_NAME = re.compile(r"^(?P<id>.+)-\d{4}\.tar(\.tmp-\d+)?$")


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


def remove_stray_temps(out: Path, splits: Iterable[str]) -> list[Path]:
    """Temp files of dead runs (the output lock guarantees no live writer)."""
    removed = []
    dirs = [out, *split_dirs(out, splits)]
    chars = out / CHARACTERS
    if chars.is_dir():
        dirs += [d for d in chars.iterdir() if d.is_dir()]
    for d in dirs:
        for p in d.iterdir():
            if ".tmp-" in p.name and p.is_file():
                p.unlink(missing_ok=True)
                removed.append(p)
    return removed


def clear_output(out: Path, splits: Iterable[str]) -> None:
    """--restart: remove thagen's own outputs only (shards, journal, per-character files).

    Anything else in OUT (a user's notes, other folders) is left alone, and folders are
    removed only when they end up empty.
    """
    splits = list(splits)
    for d in split_dirs(out, splits):
        for p in d.iterdir():
            if re.match(r"^.+-\d{4}\.tar(\.tmp-\d+)?$", p.name):
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
    for name in (JOURNAL, FAILURES, DATASET_YAML):
        (out / name).unlink(missing_ok=True)
    if out.is_dir():
        remove_stray_temps(out, splits)


def _rmdir_if_empty(d: Path) -> None:
    with contextlib.suppress(OSError):
        d.rmdir()


@contextlib.contextmanager
def output_lock(out: Path) -> Iterator[None]:
    """One run per OUT at a time. flock dies with its process, so a kill -9 never leaves it stuck."""
    out.mkdir(parents=True, exist_ok=True)
    fd = os.open(out / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise ThagenError(f"{out}: another thagen render is writing here (lock {out / LOCK})") from exc
        yield
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- progress


class Progress:
    """images/s, ETA and the current character on stderr.

    On a terminal it is one line rewritten in place; otherwise (logs, CI) a line every
    `interval` seconds, so a log file does not fill up with carriage returns.
    """

    def __init__(self, total_images: int, *, stream: TextIO | None = None, interval: float = 10.0) -> None:
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.total = max(0, total_images)
        self.done = 0
        self.t0 = time.monotonic()
        self.interval = interval if not self.tty else 0.25
        self._last = 0.0
        self.current = ""

    def rate(self) -> float:
        dt = time.monotonic() - self.t0
        return self.done / dt if dt > 0 else 0.0

    def line(self) -> str:
        rate = self.rate()
        left = max(0, self.total - self.done)
        eta = _fmt_duration(left / rate) if rate > 0 else "?"
        return f"[thagen] {self.done}/{self.total} images  {rate:.2f} img/s  ETA {eta}  {self.current}"

    def update(self, images: int = 0, current: str | None = None, *, force: bool = False) -> None:
        self.done += images
        if current is not None:
            self.current = current
        now = time.monotonic()
        if not force and now - self._last < self.interval:
            return
        self._last = now
        if self.tty:
            self.stream.write("\r\x1b[2K" + self.line())
        else:
            self.stream.write(self.line() + "\n")
        self.stream.flush()

    def message(self, text: str) -> None:
        """A line that must not be overwritten (a failure, a skip)."""
        if self.tty:
            self.stream.write("\r\x1b[2K")
        self.stream.write(text + "\n")
        self.stream.flush()

    def finish(self) -> None:
        if self.tty:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()


def _fmt_duration(seconds: float) -> str:
    seconds = int(seconds)
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"


# --------------------------------------------------------------------------- the worker process


def _die_with_parent() -> None:
    """Linux: the worker gets SIGKILL when the parent dies, so a killed run leaves no writer behind."""
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _drop_blender_script_paths() -> None:
    """spawn copies the parent's sys.path; if the parent had imported bpy, that holds Blender's
    script folders, whose `bpy` package would shadow the real module here. bpy re-adds them."""
    blender = f"{os.sep}blender{os.sep}"
    bpy_dir = f"{os.sep}bpy{os.sep}"
    sys.path[:] = [p for p in sys.path if bpy_dir not in p and not (blender in p and "scripts" in p)]


def _worker_main(conn: Any, out_dir: str, settings: Any, parent_pid: int) -> None:
    """The worker: one renderer for the whole run; jobs in, results out over `conn`."""
    _die_with_parent()
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)
    _drop_blender_script_paths()
    try:
        from thagen.render.character import make_renderer

        renderer = make_renderer(settings)
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which stops the run
        conn.send(("fatal", f"{type(exc).__name__}: {exc}", traceback.format_exc()))
        return
    conn.send(("ready", {"blender": getattr(renderer, "blender_version", "")}))
    out = Path(out_dir)
    try:
        _serve(conn, out, renderer, settings, parent_pid)
    finally:
        with contextlib.suppress(Exception):
            renderer.close()  # its private temp folder


def _serve(conn: Any, out: Path, renderer: Any, settings: Any, parent_pid: int) -> None:
    """Jobs in, results out, until told to stop or the parent goes away."""
    from thagen.render.character import failure_record, render_character

    while True:
        try:
            msg = conn.recv()
        except EOFError:
            return
        if msg[0] == "stop":
            return
        job = msg[1]

        def on_images(n: int) -> None:
            if os.getppid() != parent_pid:
                os._exit(1)
            conn.send(("images", n))

        try:
            result = render_character(job, out, renderer, settings, on_images=on_images)
            conn.send(("done", result.to_dict()))
        except BaseException as exc:  # noqa: BLE001 - one character's failure is a record, not a stop
            conn.send(("failed", failure_record(job, exc, out)))
            if isinstance(exc, KeyboardInterrupt):
                return


@dataclass
class _Worker:
    process: Any
    conn: Any
    info: dict[str, Any] = field(default_factory=dict)
    jobs: int = 0


def _start_worker(out: Path, settings: Any) -> _Worker:
    ctx = multiprocessing.get_context("spawn")
    parent_conn, child_conn = ctx.Pipe()
    proc = ctx.Process(
        target=_worker_main,
        args=(child_conn, str(out), settings, os.getpid()),
        name="thagen-render",
        daemon=True,
    )
    proc.start()
    child_conn.close()
    while True:
        if parent_conn.poll(1.0):
            try:
                msg = parent_conn.recv()
            except EOFError:
                msg = ("fatal", f"render worker exited with status {proc.exitcode} while starting", "")
            if msg[0] == "ready":
                return _Worker(proc, parent_conn, msg[1])
            proc.join(5)
            raise RenderError(
                f"could not start the Blender renderer: {msg[1]}\n{msg[2] if len(msg) > 2 else ''}"
            )
        if not proc.is_alive():
            raise RenderError(f"render worker exited with status {proc.exitcode} while starting")


def _stop_worker(worker: _Worker | None) -> None:
    if worker is None:
        return
    with contextlib.suppress(Exception):
        worker.conn.send(("stop",))
    worker.process.join(10)
    if worker.process.is_alive():
        worker.process.kill()
        worker.process.join(5)


# --------------------------------------------------------------------------- the run


@dataclass
class RunSummary:
    out: Path
    done: int = 0
    failed: int = 0
    skipped: int = 0
    excluded: int = 0
    images: int = 0
    seconds: float = 0.0
    failures: list[dict[str, Any]] = field(default_factory=list)

    @property
    def images_per_second(self) -> float:
        return self.images / self.seconds if self.seconds > 0 else 0.0

    def text(self) -> str:
        lines = [
            f"thagen render: {self.done} characters done, {self.failed} failed, {self.skipped} skipped"
            + (f" (already done), {self.excluded} excluded by QA" if self.excluded else " (already done)"),
            f"  {self.images} images in {_fmt_duration(self.seconds)} ({self.images_per_second:.2f} images/s)",
            f"  output: {self.out}",
        ]
        sheets = sorted((self.out / "characters").glob("*/contact_sheet.png"))
        if len(sheets) == 1:
            lines.append(f"  contact sheet: {sheets[0]}")
        elif sheets:
            lines.append(
                f"  contact sheets: {self.out / 'characters'}/<id>/contact_sheet.png ({len(sheets)})"
            )
        for f in self.failures:
            lines.append(
                f"  FAILED {f.get('id')}: [{f.get('stage')}] {f.get('error_type')}: {f.get('message')}"
            )
        if self.failures:
            lines.append(f"  details: {self.out / FAILURES}")
        return "\n".join(lines)


# manifest fields whose change makes already rendered characters inconsistent with new ones
RESUME_KEYS = ("seed", "image_size", "render", "lighting", "rest_pose", "pose_sampling", "shard_size")
# written only when not THA1's default, so compared even when absent on one side
VECTOR_RESUME_KEYS = ("pose_vector", "images", "framing_preset", "vector_motion")


def check_same_settings(out: Path, manifest_dict: dict[str, Any]) -> None:
    """Refuse to resume into an OUT rendered with other settings (a mixed dataset is silent damage)."""
    path = out / DATASET_YAML
    if not path.exists():
        return
    try:
        old = (yaml.safe_load(path.read_text()) or {}).get("manifest") or {}
    except yaml.YAMLError:
        return
    changed = [k for k in RESUME_KEYS if k in old and old.get(k) != manifest_dict.get(k)]
    changed += [k for k in VECTOR_RESUME_KEYS if old.get(k) != manifest_dict.get(k)]
    if changed:
        raise ConfigError(
            f"{out}: was rendered with different {', '.join(changed)} (see {path}); "
            "resuming would mix two datasets: use --restart, or another output folder"
        )


def expected_images(job: Any, settings: Any) -> int:
    """Images one character costs: the reset, 2 per pose, and the QA renders."""
    from thagen.render.character import QA_RENDERS

    poses = int(getattr(job, "pose_count", 0) or 0)
    qa = QA_RENDERS if getattr(settings, "qa", True) else 0
    return 1 + 2 * poses + qa


def run_jobs(
    jobs: list[Any],
    out: Path,
    settings: Any,
    *,
    manifest_dict: dict[str, Any] | None = None,
    resume: bool = True,
    progress_stream: TextIO | None = None,
    progress_interval: float = 10.0,
) -> RunSummary:
    """Render `jobs` (CharacterJobs) into `out`; see the module docstring for the guarantees."""
    out = Path(out)
    ids = [j.id for j in jobs]
    dup = sorted(i for i, n in collections.Counter(ids).items() if n > 1)
    if dup:
        raise ConfigError(f"character ids are not unique: {', '.join(dup)}")
    splits = sorted({str(j.split) for j in jobs})
    t0 = time.monotonic()
    summary = RunSummary(out=out)
    with output_lock(out):
        if not resume:
            clear_output(out, splits)
        elif manifest_dict:
            check_same_settings(out, manifest_dict)
        journal_path = out / JOURNAL
        journal = read_jsonl(journal_path, repair=True)
        done_ids = {r["id"] for r in journal if "id" in r}
        todo = [j for j in jobs if j.id not in done_ids]
        summary.skipped = len(jobs) - len(todo)
        # Failures of characters tried again now are dropped; they are re-recorded if they fail again.
        todo_ids = {j.id for j in todo}
        old_failures = [f for f in read_jsonl(out / FAILURES, repair=True) if f.get("id") not in todo_ids]
        if (out / FAILURES).exists() or old_failures:
            write_jsonl(out / FAILURES, old_failures)
        remove_stray_temps(out, splits)
        remove_character_outputs(out, todo_ids, splits)
        fsync_dir(out)

        progress = Progress(
            sum(expected_images(j, settings) for j in todo),
            stream=progress_stream,
            interval=progress_interval,
        )
        if summary.skipped:
            progress.message(
                f"[thagen] resuming: {summary.skipped} characters already done, {len(todo)} to render"
            )
        worker: _Worker | None = None
        blender_version = ""
        try:
            for job in todo:
                if worker is not None and worker.jobs >= WORKER_MAX_CHARACTERS:
                    _stop_worker(worker)  # a fresh Blender now and then bounds any slow leak
                    worker = None
                if worker is None or not worker.process.is_alive():
                    worker = _start_worker(out, settings)
                    blender_version = worker.info.get("blender", "") or blender_version
                worker.jobs += 1
                progress.update(0, current=job.id, force=True)
                result, failure, images = _run_one(worker, job, out, progress)
                summary.images += images
                if result is not None:
                    append_jsonl(journal_path, result)
                    summary.done += 1
                    summary.excluded += int(bool(result.get("excluded")))
                else:
                    assert failure is not None
                    # no shard of a failed character may stay where the trainer reads
                    remove_character_outputs(out, job.id, splits, keep_files=True)
                    append_jsonl(out / FAILURES, failure)
                    summary.failed += 1
                    summary.failures.append(failure)
                    progress.message(
                        f"[thagen] FAILED {job.id} [{failure['stage']}] {failure['error_type']}: {failure['message']}"
                    )
                    if failure["stage"] in RESTART_AFTER or not worker.process.is_alive():
                        # Blender may be left in a bad state: the next character gets a fresh one.
                        _stop_worker(worker)
                        worker = None
        finally:
            _stop_worker(worker)
            progress.finish()
        summary.seconds = time.monotonic() - t0
        # Earlier runs' failures still pending count too (they were not retried only if journalled).
        write_dataset_yaml(out, jobs, manifest_dict or {}, settings, blender_version=blender_version)
    return summary


def _run_one(
    worker: _Worker, job: Any, out: Path, progress: Progress
) -> tuple[dict | None, dict | None, int]:
    """Send one job, pump progress until its result; a dead worker becomes a failure record."""
    from thagen.render.character import crash_record

    images = 0
    try:
        worker.conn.send(("job", job))
    except OSError:
        worker.process.join(5)
        return None, crash_record(job, out, worker.process.exitcode), images
    while True:
        try:
            msg = worker.conn.recv() if worker.conn.poll(1.0) else ()
        except (EOFError, OSError):
            msg = None  # the worker's end is closed: it died
        if msg is None or (not msg and not worker.process.is_alive() and not _readable(worker)):
            worker.process.join(5)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(5)
            return None, crash_record(job, out, worker.process.exitcode), images
        if msg:
            kind = msg[0]
            if kind == "images":
                images += msg[1]
                progress.update(msg[1])
                continue
            if kind == "done":
                return msg[1], None, images
            if kind == "failed":
                return None, msg[1], images
        progress.update(0)


def _readable(worker: _Worker) -> bool:
    try:
        return bool(worker.conn.poll(0))
    except (EOFError, OSError):
        return False


# --------------------------------------------------------------------------- dataset.yaml


def write_dataset_yaml(
    out: Path, jobs: list[Any], manifest_dict: dict[str, Any], settings: Any, *, blender_version: str = ""
) -> dict[str, Any]:
    """Provenance and counts of what is in OUT now (journal + failures), written atomically."""
    journal = {r["id"]: r for r in read_jsonl(out / JOURNAL) if "id" in r}
    failures = {f["id"]: f for f in read_jsonl(out / FAILURES) if "id" in f and f["id"] not in journal}
    old = {}
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
    settings_dict = dataclasses.asdict(settings) if dataclasses.is_dataclass(settings) else {}
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
        "pending": sorted(j.id for j in jobs if j.id not in journal and j.id not in failures),
    }
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=120)
    atomic_write_bytes(out / DATASET_YAML, text.encode())
    return data


def _journal_blender(journal: dict[str, dict[str, Any]]) -> str:
    for rec in journal.values():
        if rec.get("blender_version"):
            return str(rec["blender_version"])
    return ""


# --------------------------------------------------------------------------- thagen qa


def _check_pose_record(rec: Any, cid: str, index: int) -> str | None:
    from thagen.render.sampling import DOMAINS
    from thagen.render.shards import POSE_NAMES

    if not isinstance(rec, dict) or rec.get("character") != cid or rec.get("index") != index:
        return "pose.json names another character or index"
    pose = rec.get("pose")
    if not isinstance(pose, dict) or set(pose) != set(POSE_NAMES):
        return "pose.json lacks pose values"
    for n in POSE_NAMES:
        lo, hi = DOMAINS[n]
        if not lo <= float(pose[n]) <= hi:
            return f"pose value {n}={pose[n]} out of range"
    return None


def qa_character(out: Path, rec: dict[str, Any], *, sheet: bool = True) -> dict[str, Any]:
    """Re-check one journalled character from its shards and saved QA images (no Blender).

    From the shards: shard integrity, keys, pose.json, identical reset images, framing/alpha
    and rotation checks. From characters/<id>/qa_*.png + qa.json (written at render time):
    the eyes/mouth checks. Rewrites qa.json and, with `sheet`, contact_sheet.png.
    """
    from thagen.render import qa as qa_mod
    from thagen.render.character import contact_sheet_for, framing_rows, run_checks
    from thagen.render.shards import iter_shard

    cid = rec["id"]
    cdir = out / CHARACTERS / cid
    problems: list[str] = []
    n = 0
    rest_png: bytes | None = None
    rest_differs = False
    chosen: list[tuple[float, int, dict]] = []  # (rotation magnitude, index, pose)
    first: list[tuple[bytes, bytes, dict]] = []
    for rel in rec.get("shards", []):
        try:
            for sample in iter_shard(out / rel):
                expected = f"{cid}/{n:06d}"
                if sample["__key__"] != expected:
                    problems.append(f"{rel}: key {sample['__key__']} where {expected} was expected")
                    break
                pose_rec = json.loads(sample["pose.json"])
                bad = _check_pose_record(pose_rec, cid, n)
                if bad:
                    problems.append(f"{rel}: {expected}: {bad}")
                if rest_png is None:
                    rest_png = sample["rest.png"]  # type: ignore[assignment]
                elif sample["rest.png"] != rest_png:
                    rest_differs = True
                pose = pose_rec.get("pose", {})
                mag = max(abs(float(pose.get(k, 0.0))) for k in ("head_x", "head_y", "neck_z"))
                if len(first) < 4:
                    first.append((sample["expr.png"], sample["rot.png"], pose))  # type: ignore[arg-type]
                chosen.append((mag, n, pose))
                chosen.sort(key=lambda c: -c[0])
                if len(chosen) > 3:
                    chosen.pop()
                n += 1
        except (OSError, ValueError, KeyError, json.JSONDecodeError, tarfile.TarError) as exc:
            problems.append(f"{rel}: unreadable: {exc}")
    if n != int(rec.get("samples", 0)):
        problems.append(f"{n} samples in the shards, the journal says {rec.get('samples')}")

    # Pairs for the rotation check: decode only the few most-rotated samples.
    wanted = {c[1] for c in chosen}
    pairs_rot: list[tuple[Any, Any, dict]] = []
    if wanted:
        idx = 0
        for rel in rec.get("shards", []):
            try:
                for sample in iter_shard(out / rel):
                    if idx in wanted:
                        pose = json.loads(sample["pose.json"])["pose"]
                        pairs_rot.append(
                            (
                                qa_mod.decode_png(sample["expr.png"]),
                                qa_mod.decode_png(sample["rot.png"]),
                                pose,
                            )
                        )  # type: ignore[arg-type]
                    idx += 1
            except Exception:  # noqa: BLE001 - already reported above
                break
    saved: dict[str, Any] = {}
    if (cdir / "qa.json").exists():
        with contextlib.suppress(Exception):
            saved = json.loads((cdir / "qa.json").read_text())
    if rest_png is None and (cdir / "rest.png").exists():
        rest_png = (cdir / "rest.png").read_bytes()
    result: dict[str, Any] = {"id": cid, "samples": n, "problems": problems}
    if rest_png is None:
        result["flags"] = ["no_images"]
        return result
    rest = qa_mod.decode_png(rest_png)
    size = rest.shape[0]
    qa_imgs = {}
    for name in ("eyes_closed", "mouth_closed"):
        p = cdir / f"qa_{name}.png"
        if p.exists():
            qa_imgs[name] = qa_mod.decode_png(p.read_bytes())
    rows = saved.get("rows") or framing_rows(size)
    rest_pose = saved.get("rest_pose") or {"left_eye": 0.0, "right_eye": 0.0, "mouth": 1.0}
    res = run_checks(rest, qa_imgs, pairs_rot, saved.get("regions") or {}, rows, rest_pose)
    if rest_differs:
        res.flags.append("rest_images_differ")
    if problems:
        res.flags.append("shard_problems")
    qa_dict = {
        **res.to_dict(),
        "regions": saved.get("regions") or {},
        "rows": rows,
        "rest_pose": rest_pose,
        "rechecked": True,
        "unavailable": [f"qa_{k}.png" for k in ("eyes_closed", "mouth_closed") if k not in qa_imgs],
    }
    cdir.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(cdir / "qa.json", (json.dumps(qa_dict, indent=1, sort_keys=True) + "\n").encode())
    if sheet:
        pairs = [(qa_mod.decode_png(e), qa_mod.decode_png(r), p) for e, r, p in first]
        atomic_write_bytes(cdir / "contact_sheet.png", contact_sheet_for(cid, rest, qa_imgs, pairs, qa_dict))
    result["flags"] = list(res.flags)
    return result


def qa_output(out: Path, *, sheets: bool = True) -> dict[str, Any]:
    """`thagen qa OUT`: re-check every journalled character; update dataset.yaml's QA flags."""
    out = Path(out)
    if not (out / JOURNAL).exists():
        raise ConfigError(f"{out}: no {JOURNAL}; is this a thagen render output?")
    journal = {r["id"]: r for r in read_jsonl(out / JOURNAL) if "id" in r}
    chars: dict[str, Any] = {}
    for cid, rec in sorted(journal.items()):
        chars[cid] = qa_character(out, rec, sheet=sheets)
    # Shards no journal line claims (a killed run not yet resumed) and leftover temp files.
    claimed = {r for rec in journal.values() for r in rec.get("shards", [])}
    strays = []
    for d in split_dirs(out, []):
        for p in d.iterdir():
            rel = p.relative_to(out).as_posix()
            if (p.name.endswith(".tar") and rel not in claimed) or ".tmp-" in p.name:
                strays.append(rel)
    ds = out / DATASET_YAML
    if ds.exists():
        data = yaml.safe_load(ds.read_text()) or {}
        for cid, entry in (data.get("characters") or {}).items():
            if cid in chars:
                entry["qa_flags"] = chars[cid]["flags"]
        atomic_write_bytes(ds, yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=120).encode())
    return {
        "characters": chars,
        "checked": len(chars),
        "flagged": sum(1 for c in chars.values() if c["flags"]),
        "broken": sum(1 for c in chars.values() if c["problems"]),
        "strays": strays,
    }
