"""The local backend: W spawn'd worker processes on this machine, each holding one Blender.

The parent only schedules: it hands each idle worker the next character (and reserves the one
after it for that worker, which plans it while rendering: render/run/lookahead.py), pumps progress
messages, and watches three things per busy worker: its result, its death (a segfault, the
OOM killer, a kill -9) and its time (`character_timeout`). A dead or timed-out worker is
replaced and its character is retried up to `retries` times, after the partial outputs the
dead worker left are removed; then it is recorded as failed. Workers are recycled after
`recycle_after` characters (a fresh Blender bounds any slow leak) and after any failure in
a stage that touched Blender.
"""

from __future__ import annotations

import collections
import contextlib
import multiprocessing
import os
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import TYPE_CHECKING, Any

from thagen.errors import RenderError
from thagen.render.character.records import crash_record, timeout_record
from thagen.render.output.layout import remove_character_outputs
from thagen.render.run.backends import RESTART_AFTER, FarmOptions, Outcome, RunEvents, default_workers
from thagen.render.run.lookahead import Lookahead
from thagen.render.settings import RunSettings, default_character_timeout

if TYPE_CHECKING:
    from thagen.render.manifest import CharacterJob


@dataclass
class _Slot:
    """One worker process and what it is doing."""

    process: BaseProcess
    conn: Connection
    ready: bool = False
    info: dict[str, Any] = field(default_factory=dict)
    characters: int = 0
    job: CharacterJob | None = None
    started: float = 0.0
    closed: bool = False  # its pipe hit EOF: the process is gone or going


def _spawn(out: Path, settings: RunSettings) -> _Slot:
    from thagen.render.run.worker import worker_main

    ctx = multiprocessing.get_context("spawn")
    parent_conn, child_conn = ctx.Pipe()
    proc = ctx.Process(
        target=worker_main,
        args=(child_conn, str(out), settings, os.getpid()),
        name="thagen-render",
        daemon=True,
    )
    proc.start()
    child_conn.close()
    return _Slot(proc, parent_conn)


def _stop(slot: _Slot, *, kill: bool = False) -> None:
    if not kill:
        with contextlib.suppress(Exception):
            slot.conn.send(("stop",))
        slot.process.join(10)
    if slot.process.is_alive():
        slot.process.kill()
        slot.process.join(5)
    with contextlib.suppress(Exception):
        slot.conn.close()


class LocalPool:
    """`--backend local` (see the module docstring)."""

    def __init__(self, options: FarmOptions) -> None:
        self.options = options

    def run(self, jobs: list[CharacterJob], out: Path, settings: RunSettings, events: RunEvents) -> str:
        opts = self.options
        n_workers = min(len(jobs), opts.workers or default_workers(settings.threads)) if jobs else 0
        queue = Lookahead(jobs)
        attempts: collections.Counter[str] = collections.Counter()
        splits = sorted({str(j.split) for j in jobs})
        slots: list[_Slot] = []
        blender = ""

        def limit(job: CharacterJob) -> float:
            return opts.character_timeout or default_character_timeout(job, settings)

        def give(slot: _Slot) -> None:
            job = queue.take(id(slot))
            if job is None:
                return
            attempts[job.id] += 1
            slot.job, slot.started = job, time.monotonic()
            slot.characters += 1
            events.started(job, attempts[job.id])
            # the next one is planned while this one renders; not past a recycle (a fresh process)
            hint = queue.reserve(id(slot)) if slot.characters < opts.recycle_after else None
            try:
                slot.conn.send(("job", job, hint))
            except OSError:
                pass  # it died: found below as a crash

        def lost(slot: _Slot, job: CharacterJob, why: str) -> None:
            """The worker died or was killed while rendering `job`: retry it or record it."""
            _stop(slot, kill=True)
            slots.remove(slot)
            queue.release(id(slot))
            remove_character_outputs(out, job.id, splits, keep_files=True)
            if attempts[job.id] <= opts.retries:
                events.message(f"[thagen] {job.id}: {why}; retrying ({attempts[job.id]}/{opts.retries})")
                queue.retry(job)
                return
            if why.startswith("timeout"):
                rec = timeout_record(job, out, limit(job), attempts=attempts[job.id])
            else:
                rec = crash_record(job, out, slot.process.exitcode, attempts=attempts[job.id])
            events.finished(Outcome(job, False, rec, attempts[job.id]))

        try:
            while queue or any(s.job is not None for s in slots):
                while len(slots) < n_workers and len(slots) < len(queue) + sum(
                    s.job is not None for s in slots
                ):
                    slots.append(_spawn(out, settings))
                for slot in slots:
                    if slot.ready and slot.job is None and queue:
                        give(slot)
                events.workers(sum(s.job is not None for s in slots), len(slots))
                waitables: list[Any] = [s.conn for s in slots if not s.closed] + [
                    s.process.sentinel for s in slots
                ]
                wait(waitables, timeout=1.0)
                for slot in list(slots):
                    blender = self._pump(slot, slots, queue, events, opts) or blender
                    job = slot.job
                    if slot not in slots:
                        continue
                    if job is None:
                        if slot.ready and (slot.closed or not slot.process.is_alive()):
                            _stop(slot, kill=True)  # died idle: a fresh one is spawned above
                            slots.remove(slot)
                            queue.release(id(slot))
                        continue
                    if slot.closed or (not slot.process.is_alive() and not _readable(slot)):
                        slot.process.join(5)
                        lost(slot, job, f"worker died (exit status {slot.process.exitcode})")
                    elif time.monotonic() - slot.started > limit(job):
                        lost(slot, job, f"timeout after {limit(job):.0f} s")
        finally:
            for slot in slots:
                _stop(slot)
        return blender

    def _pump(
        self, slot: _Slot, slots: list[_Slot], queue: Lookahead, events: RunEvents, opts: FarmOptions
    ) -> str:
        """Read every message the worker has sent; returns its Blender version once it is ready."""
        version = ""
        while _readable(slot):
            try:
                msg = slot.conn.recv()
            except (EOFError, OSError):
                slot.closed = True
                break
            kind = msg[0]
            if kind == "ready":
                slot.ready, slot.info = True, msg[1]
                version = str(msg[1].get("blender", ""))
            elif kind == "fatal":
                raise RenderError(f"could not start the Blender renderer: {msg[1]}\n{msg[2]}")
            elif kind == "images":
                events.images(int(msg[1]))
            elif kind in ("done", "failed") and slot.job is not None:
                job, slot.job = slot.job, None
                events.finished(Outcome(job, kind == "done", {**msg[1], "worker_pid": slot.info.get("pid")}))
                stage = msg[1].get("stage", "") if kind == "failed" else ""
                if stage in RESTART_AFTER or slot.characters >= opts.recycle_after:
                    # Blender may be left in a bad state, or has rendered enough: a fresh one
                    _stop(slot)
                    slots.remove(slot)
                    queue.release(id(slot))
                    return version
        if not slot.ready and not slot.process.is_alive():
            raise RenderError(f"render worker exited with status {slot.process.exitcode} while starting")
        return version


def _readable(slot: _Slot) -> bool:
    if slot.closed:
        return False
    try:
        return bool(slot.conn.poll(0))
    except (EOFError, OSError):
        return False
