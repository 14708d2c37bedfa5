"""`--backend ray`: the same per-character work as Ray tasks, on one machine or a cluster.

Each task runs in a Ray worker process holding one Blender renderer (kept in a module global
between tasks), declares `num_cpus` = its render threads so a node runs as many as its cores
allow, is recycled after `recycle_after` characters (`max_calls`) and retried by Ray when its
worker or node dies (`max_retries`). No shared filesystem is assumed: a task renders into a
private temp folder on its node and returns the character's files (shards, characters/<id>/)
through Ray's object store; the driver writes them into OUT atomically and then journals the
character, so the driver's journal is the one truth, as with the local pool.

With a shared filesystem and very large characters, writing straight to OUT from the workers
would save the copy through the object store (see docs/rendering.md); the driver-writes design
is what works everywhere, and at THA1 sizes (about 13 MB per character) it costs little.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import tempfile
import time
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from thagen.errors import RenderError
from thagen.render.backends import FarmOptions, Outcome, RunEvents
from thagen.render.records import crash_record, timeout_record
from thagen.render.settings import RunSettings, default_character_timeout
from thagen.render.shards import atomic_write_bytes

if TYPE_CHECKING:
    from thagen.render.manifest import CharacterJob

INSTALL_HINT = "--backend ray needs Ray: pip install 'thagen[farm]'"
_RENDERER: Any = None  # the Ray worker process's one renderer


def _worker_renderer(settings: RunSettings) -> Any:
    global _RENDERER
    if _RENDERER is None:
        from thagen.render.renderer import make_renderer

        _RENDERER = make_renderer(settings)
        atexit.register(_RENDERER.close)  # its scratch folder, when max_calls retires the process
    return _RENDERER


def _collect(tmp: Path) -> dict[str, bytes]:
    """Every file a character wrote into its private OUT, by path relative to it."""
    return {p.relative_to(tmp).as_posix(): p.read_bytes() for p in sorted(tmp.rglob("*")) if p.is_file()}


def render_task(job: CharacterJob, settings: RunSettings) -> dict[str, Any]:
    """One character in a Ray worker: {"done", "record", "files", "pid"} back to the driver."""
    from thagen.render.character import render_character
    from thagen.render.faults import maybe_fault
    from thagen.render.records import failure_record

    renderer = _worker_renderer(settings)
    count = [0]

    def on_images(n: int) -> None:
        count[0] += n
        maybe_fault(job.id, count[0])

    from thagen.render.worker import release_freed_memory

    with tempfile.TemporaryDirectory(prefix="thagen-ray-char-") as name:
        tmp = Path(name)
        try:
            result = render_character(job, tmp, renderer, settings, on_images=on_images)
            return {"done": True, "record": result.to_dict(), "files": _collect(tmp), "pid": os.getpid()}
        except Exception as exc:  # noqa: BLE001 - a record for the driver, like the local pool's
            logs = {k: v for k, v in _collect(tmp).items() if k.startswith("characters/")}
            return {"done": False, "record": failure_record(job, exc, tmp), "files": logs, "pid": os.getpid()}
        finally:
            release_freed_memory()


def _safe_rel(rel: str) -> str:
    p = PurePosixPath(rel)
    if p.is_absolute() or ".." in p.parts or not p.parts:
        raise RenderError(f"a Ray task returned an unsafe path {rel!r}")
    return p.as_posix()


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
        task_settings = RunSettings(**{**settings.__dict__, "threads": threads, "cache_dir": None})
        temp_dir = None
        if self.options.address:
            ray.init(address=self.options.address, log_to_driver=False)
        else:
            temp_dir = tempfile.mkdtemp(prefix="thagen-ray-")
            cpus = (self.options.workers * threads) if self.options.workers else None
            ray.init(num_cpus=cpus, _temp_dir=temp_dir, include_dashboard=False, log_to_driver=False)
        try:
            return self._run(ray, jobs, out, task_settings, events, threads)
        finally:
            ray.shutdown()
            if temp_dir:
                shutil.rmtree(temp_dir, ignore_errors=True)

    def _run(
        self,
        ray: Any,
        jobs: list[CharacterJob],
        out: Path,
        settings: RunSettings,
        events: RunEvents,
        threads: int,
    ) -> str:
        opts = self.options
        task = ray.remote(num_cpus=threads, max_calls=opts.recycle_after, max_retries=opts.retries)(
            render_task
        )
        capacity = max(1, int(ray.cluster_resources().get("CPU", 1) // threads))
        pending = list(jobs)
        running: dict[Any, tuple[CharacterJob, float]] = {}
        blender = ""
        while pending or running:
            while pending and len(running) < capacity:
                job = pending.pop(0)
                running[task.remote(job, settings)] = (job, time.monotonic())
                events.started(job, 1)
            events.workers(len(running), capacity)
            ready, _ = ray.wait(list(running), num_returns=1, timeout=1.0)
            for ref in ready:
                job, _t = running.pop(ref)
                try:
                    reply = ray.get(ref)
                except ray.exceptions.RayError as exc:
                    events.message(f"[thagen] {job.id}: Ray gave up after {opts.retries + 1} attempts: {exc}")
                    rec = crash_record(job, out, None, attempts=opts.retries + 1)
                    events.finished(Outcome(job, False, rec, opts.retries + 1))
                    continue
                for rel, data in reply["files"].items():
                    atomic_write_bytes(out / _safe_rel(rel), data)
                record = {**reply["record"], "worker_pid": reply["pid"]}
                blender = record.get("blender_version") or blender
                events.images(int(record.get("images", 0)) + (2 if settings.qa and reply["done"] else 0))
                events.finished(Outcome(job, bool(reply["done"]), record))
            now = time.monotonic()
            for ref, (job, started) in list(running.items()):
                limit = opts.character_timeout or default_character_timeout(job, settings)
                if now - started > limit:
                    with contextlib.suppress(Exception):
                        ray.cancel(ref, force=True)  # kills the worker process
                    del running[ref]
                    events.finished(Outcome(job, False, timeout_record(job, out, limit)))
        return blender
