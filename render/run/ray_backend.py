"""`--backend ray`: the same per-character work on long-lived Ray actors, one machine or a cluster.

One actor per CPU slot (`num_cpus` = render threads, so a node runs as many as its cores
allow), each holding one Blender renderer made once in its constructor: the bpy import and
the scene set-up happen once per worker process, not once per character, and start as soon
as the actor is created. The driver hands each idle actor the next character and keeps the
journal. An actor is replaced by a fresh one (a new process) after `recycle_after`
characters or a failure in a stage that touched Blender, exactly as the local pool recycles
its workers. An actor that dies (a Blender crash, kill -9, the node lost) fails its call with
`RayActorError`; the driver starts another and retries the character up to `retries` times.
A character past `character_timeout` gets its actor killed and is retried the same way, then
recorded as failed.

No shared filesystem is assumed: an actor renders into a private temp folder on its node and
returns the character's files (shards, characters/<id>/) through Ray's object store; the
driver writes them into OUT atomically and then journals the character, so the driver's
journal is the one truth, as with the local pool. Per-image work is the same function the
serial run calls, so pixels equal a serial run's.

With a shared filesystem and very large characters, writing straight to OUT from the workers
would save the copy through the object store (see docs/rendering.md); the driver-writes design
is what works everywhere, and at THA1 sizes (about 13 MB per character) it costs little.
"""

from __future__ import annotations

import collections
import contextlib
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from types import ModuleType
from typing import TYPE_CHECKING, Any

from thagen.errors import RenderError
from thagen.files import atomic_write_bytes
from thagen.render.character.records import crash_record, timeout_record
from thagen.render.output.layout import pid_alive
from thagen.render.run.backends import RESTART_AFTER, FarmOptions, Outcome, RunEvents
from thagen.render.run.lookahead import Lookahead
from thagen.render.settings import RunSettings, default_character_timeout

if TYPE_CHECKING:
    from thagen.render.manifest import CharacterJob

INSTALL_HINT = "--backend ray needs Ray: pip install 'thagen[farm]'"
CHARACTER_TMP = "thagen-ray-char-"  # + "<pid>-": a character's private OUT on its node


def _sweep_dead_character_dirs(base: Path) -> None:
    """Remove what actors killed mid-character (a crash, a timeout, kill -9) left in `base`: a
    dead process cannot clean up, and a node would otherwise keep one partial character each."""
    for entry in base.glob(f"{CHARACTER_TMP}*-*"):
        pid = entry.name[len(CHARACTER_TMP) :].split("-", 1)[0]
        if pid.isdigit() and not pid_alive(int(pid)):
            shutil.rmtree(entry, ignore_errors=True)


def _collect(tmp: Path) -> dict[str, bytes]:
    """Every file a character wrote into its private OUT, by path relative to it."""
    return {p.relative_to(tmp).as_posix(): p.read_bytes() for p in sorted(tmp.rglob("*")) if p.is_file()}


class RenderActor:
    """One Ray worker process with one Blender renderer for its whole life (see module docstring)."""

    def __init__(self, settings: RunSettings) -> None:
        from thagen.render.run.worker import drop_blender_script_paths
        from thagen.render.scene.renderer import make_renderer

        t0 = time.perf_counter()
        drop_blender_script_paths()
        self.settings = settings
        _sweep_dead_character_dirs(Path(tempfile.gettempdir()))
        self.renderer = make_renderer(settings)
        from thagen.render.character.prefetch import Prefetcher

        self.prefetcher = Prefetcher(settings)  # plans the next character while this one renders
        self.startup_s = time.perf_counter() - t0  # bpy import + scene set-up, once per process

    def ready(self) -> int:
        return os.getpid()

    def render(self, job: CharacterJob, next_job: CharacterJob | None = None) -> dict[str, Any]:
        """One character: {"done", "record", "files", "pid"} back to the driver; `next_job` is
        the character the driver reserved for this actor next (render/run/lookahead.py)."""
        from thagen.render.character import render_character
        from thagen.render.character.records import failure_record
        from thagen.render.run.faults import maybe_fault
        from thagen.render.run.worker import release_freed_memory

        count = [0]

        def on_images(n: int) -> None:
            count[0] += n
            maybe_fault(job.id, count[0])

        # an actor killed mid-character on this node may have died after this one started
        _sweep_dead_character_dirs(Path(tempfile.gettempdir()))
        with tempfile.TemporaryDirectory(prefix=f"{CHARACTER_TMP}{os.getpid()}-") as name:
            tmp = Path(name)
            try:
                self.prefetcher.expect(next_job)
                result = render_character(
                    job, tmp, self.renderer, self.settings, on_images=on_images, prefetcher=self.prefetcher
                )
                reply = {"done": True, "record": result.to_dict(), "files": _collect(tmp)}
            except Exception as exc:  # noqa: BLE001 - a record for the driver, like the local pool's
                logs = {k: v for k, v in _collect(tmp).items() if k.startswith("characters/")}
                reply = {"done": False, "record": failure_record(job, exc, tmp), "files": logs}
            finally:
                release_freed_memory()
        return {**reply, "pid": os.getpid(), "actor_startup_s": self.startup_s}

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.prefetcher.close()
        with contextlib.suppress(Exception):
            self.renderer.close()  # its scratch folder


def _safe_rel(rel: str) -> str:
    p = PurePosixPath(rel)
    if p.is_absolute() or ".." in p.parts or not p.parts:
        raise RenderError(f"a Ray task returned an unsafe path {rel!r}")
    return p.as_posix()


@dataclass
class _Slot:
    """One actor and what it is doing."""

    actor: Any
    characters: int = 0
    job: CharacterJob | None = None
    ref: Any = None
    started: float = 0.0


class RayBackend:
    """See the module docstring."""

    def __init__(self, options: FarmOptions) -> None:
        self.options = options

    def run(self, jobs: list[CharacterJob], out: Path, settings: RunSettings, events: RunEvents) -> str:
        try:
            import ray
        except ImportError as exc:
            raise RenderError(INSTALL_HINT) from exc
        threads = settings.threads or 1
        actor_settings = RunSettings(**{**settings.__dict__, "threads": threads, "cache_dir": None})
        temp_dir = None
        t0 = time.monotonic()
        if self.options.address:
            ray.init(address=self.options.address, log_to_driver=False)
        else:
            temp_dir = tempfile.mkdtemp(prefix="thagen-ray-")
            cpus = (self.options.workers * threads) if self.options.workers else None
            ray.init(num_cpus=cpus, _temp_dir=temp_dir, include_dashboard=False, log_to_driver=False)
        total_cpus = ray.cluster_resources().get("CPU", 0)
        events.message(f"[thagen] Ray: {total_cpus:g} CPUs, ready in {time.monotonic() - t0:.1f} s")
        try:
            return _Driver(ray, self.options, jobs, out, actor_settings, events, threads).run()
        finally:
            ray.shutdown()
            if temp_dir:
                shutil.rmtree(temp_dir, ignore_errors=True)


class _Driver:
    """The scheduling loop: actors in slots, characters in, files and journal lines out."""

    def __init__(
        self,
        ray: ModuleType,
        options: FarmOptions,
        jobs: list[CharacterJob],
        out: Path,
        settings: RunSettings,
        events: RunEvents,
        threads: int,
    ) -> None:
        self.ray, self.opts, self.out, self.settings, self.events = ray, options, out, settings, events
        self.queue = Lookahead(jobs)  # with one reserved next character per actor
        self.attempts: collections.Counter[str] = collections.Counter()
        self.actor_class = ray.remote(num_cpus=threads, max_restarts=0, max_task_retries=0)(RenderActor)
        capacity = max(1, int(ray.cluster_resources().get("CPU", 1) // threads))
        self.slots = [self._new_slot() for _ in range(min(capacity, len(jobs)))]
        self.blender = ""
        self.t0 = time.monotonic()
        self.first_reply = True

    def _new_slot(self) -> _Slot:
        return _Slot(self.actor_class.remote(self.settings))

    def _retire(self, slot: _Slot, *, replace: bool) -> None:
        with contextlib.suppress(Exception):
            self.ray.kill(slot.actor, no_restart=True)
        index = self.slots.index(slot)
        self.queue.release(id(slot))
        if replace and self.queue:  # a fresh process only where there is work for it
            self.slots[index] = self._new_slot()
        else:
            del self.slots[index]

    def _limit(self, job: CharacterJob) -> float:
        return self.opts.character_timeout or default_character_timeout(job, self.settings)

    def run(self) -> str:
        ray, events = self.ray, self.events
        try:
            while self.queue or any(s.job is not None for s in self.slots):
                for slot in self.slots:
                    if slot.job is None and (job := self.queue.take(id(slot))) is not None:
                        self.attempts[job.id] += 1
                        slot.job, slot.started = job, time.monotonic()
                        last = slot.characters + 1 >= self.opts.recycle_after  # then a fresh actor
                        hint = None if last else self.queue.reserve(id(slot))
                        slot.ref = slot.actor.render.remote(job, hint)
                        events.started(job, self.attempts[job.id])
                busy = [s for s in self.slots if s.job is not None]
                events.workers(len(busy), len(self.slots))
                if not busy:
                    if not self.slots:  # every actor retired while work is left: start one
                        self.slots.append(self._new_slot())
                    continue
                ready, _ = ray.wait([s.ref for s in busy], num_returns=1, timeout=1.0)
                for slot in [s for s in busy if s.ref in ready]:
                    self._finish(slot)
                now = time.monotonic()
                for slot, job in [(s, s.job) for s in self.slots if s.job is not None]:
                    if now - slot.started > self._limit(job):
                        self._lost(slot, f"timeout after {self._limit(job):.0f} s")
        finally:
            for slot in self.slots:
                with contextlib.suppress(Exception):
                    self.ray.kill(slot.actor, no_restart=True)
        return self.blender

    def _finish(self, slot: _Slot) -> None:
        job = slot.job
        assert job is not None
        try:
            reply = self.ray.get(slot.ref)
        except self.ray.exceptions.RayError as exc:  # the actor died: a crash, a kill, a lost node
            self._lost(slot, f"Ray worker lost ({type(exc).__name__})")
            return
        slot.job, slot.ref = None, None
        slot.characters += 1
        if self.first_reply:
            self.first_reply = False
            self.events.message(
                f"[thagen] Ray: first character back after {time.monotonic() - self.t0:.1f} s "
                f"(its actor made its Blender in {reply.get('actor_startup_s', 0.0):.1f} s)"
            )
        for rel, data in reply["files"].items():
            atomic_write_bytes(self.out / _safe_rel(rel), data)
        record = {**reply["record"], "worker_pid": reply["pid"]}
        self.blender = record.get("blender_version") or self.blender
        done = bool(reply["done"])
        self.events.images(int(record.get("images", 0)) + (2 if self.settings.qa and done else 0))
        self.events.finished(Outcome(job, done, record, self.attempts[job.id]))
        stage = "" if done else str(record.get("stage", ""))
        if stage in RESTART_AFTER or slot.characters >= self.opts.recycle_after:
            self._retire(slot, replace=True)  # Blender may be in a bad state, or has rendered enough

    def _lost(self, slot: _Slot, why: str) -> None:
        """The actor died or hung while rendering `slot.job`: replace it, retry or record the job."""
        job = slot.job
        assert job is not None
        slot.job = None
        n = self.attempts[job.id]
        retry = n <= self.opts.retries
        self.queue.release(id(slot))  # its reservation back to the queue, behind the retry
        if retry:
            self.events.message(f"[thagen] {job.id}: {why}; retrying ({n}/{self.opts.retries})")
            self.queue.retry(job)
        self._retire(slot, replace=True)
        if retry:
            return
        if why.startswith("timeout"):
            rec = timeout_record(job, self.out, self._limit(job), attempts=n)
        else:
            rec = crash_record(job, self.out, None, attempts=n)
        self.events.finished(Outcome(job, False, rec, n))
