"""Front renders for the annotation page: one Blender worker process, a disk cache, the mapping.

The page needs a large picture of the character in the rest pose (the pose the framing is
measured in) and the exact pixel <-> model-space mapping of that picture, so a line drawn on
it becomes a model-space y. The renderer is orthographic and looks along the model's -Z, so
the mapping is affine per axis: `col = col0 + col_per_x * x`, `row = row0 + row_per_y * y`.
It is stored as JSON beside each PNG.

Renders run in ONE background process (multiprocessing spawn: bpy is never imported by the
server) and are cached on disk by (model sha256, render settings), so a second session, or a
reload, shows them at once. What a picture is, and its cache entries, are annotate/front/cache.py.
"""

from __future__ import annotations

import collections
import contextlib
import multiprocessing as mp
import os
import queue
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from thagen.annotate.front.cache import (  # the shared data and cache helpers, re-exported
    RENDER_TIMEOUT,
    FrontRequest,
    FrontResult,
    FrontSettings,
    entry_dir,
    load_mapping,
)

if TYPE_CHECKING:
    from multiprocessing.queues import Queue

# --------------------------------------------------------------------------- the worker process


class FrontRenders:
    """Queue of pictures for the one worker process; the next few are rendered ahead.

    `request(..., first=True)` puts a picture at the head of the queue (the one a person is
    looking at); prefetches go to the back; `low=True` (the queue's thumbnails) goes to a second
    queue that is served only when the first is empty. A worker that dies (a model crashing
    Blender) fails its picture and is started again for the next one.
    """

    def __init__(self, cache_dir: Path, settings: FrontSettings) -> None:
        self.cache_dir = Path(cache_dir)
        self.settings = settings
        self._ctx = mp.get_context("spawn")
        self._pending: collections.deque[FrontRequest] = collections.deque()
        self._low: collections.deque[FrontRequest] = collections.deque()
        self._queued: set[str] = set()
        self._running: str | None = None
        self.failures: dict[str, str] = {}
        self._ready: set[str] = set()
        self.seconds: dict[str, float] = {}
        self._cond = threading.Condition()
        self._closed = False
        self._proc: Any = None
        self._requests: Any = None
        self._results: Any = None
        self._thread = threading.Thread(target=self._loop, name="front-renders", daemon=True)
        self._thread.start()

    def state(self, key: str) -> str:
        if key in self._ready:
            return "ready"
        if load_mapping(entry_dir(self.cache_dir, key)) is not None:
            self._ready.add(key)  # a finished picture never changes (its key names its inputs)
            return "ready"
        with self._cond:
            if key == self._running or key in self._queued:
                return "pending"
        return "failed" if key in self.failures else "none"

    def request(self, req: FrontRequest, *, first: bool = False, low: bool = False) -> None:
        if self.state(req.key) in ("ready", "failed"):
            return
        with self._cond:
            if req.key == self._running:
                return
            if req.key in self._queued:
                if not first:
                    return
                self._pending = collections.deque(r for r in self._pending if r.key != req.key)
                self._low = collections.deque(r for r in self._low if r.key != req.key)
            self._queued.add(req.key)
            if first:
                self._pending.appendleft(req)
            elif low:
                self._low.append(req)
            else:
                self._pending.append(req)
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout=10)
        self._stop_worker()

    # ----------------------------------------------------------------- internals
    def _start_worker(self) -> None:
        self._requests, self._results = self._ctx.Queue(), self._ctx.Queue()
        self._proc = self._ctx.Process(
            target=_worker_entry,
            args=(self._requests, self._results, self.settings, os.getpid()),
            daemon=True,
        )
        self._proc.start()

    def _stop_worker(self) -> None:
        if self._proc is None:
            return
        try:
            self._requests.put(None)
            self._proc.join(timeout=10)
        finally:
            if self._proc.is_alive():
                self._proc.terminate()
                self._proc.join(timeout=5)
            self._proc = None

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not (self._pending or self._low) and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                req = (self._pending or self._low).popleft()
                self._queued.discard(req.key)
                self._running = req.key
            try:
                result = self._run(req)
            except Exception as exc:  # noqa: BLE001 - the queue must survive anything
                result = FrontResult(req.key, False, f"{type(exc).__name__}: {exc}")
            with self._cond:
                self._running = None
                if result.ok:
                    self.seconds[req.key] = result.seconds
                else:
                    self.failures[req.key] = result.error

    def _run(self, req: FrontRequest) -> FrontResult:
        if self._proc is None or not self._proc.is_alive():
            self._start_worker()
        self._requests.put(req)
        started = time.monotonic()
        while True:
            try:
                return self._results.get(timeout=0.5)
            except queue.Empty:
                if time.monotonic() - started > RENDER_TIMEOUT:
                    self._proc.kill()
                    self._proc.join(timeout=10)
                    self._proc = None
                    return FrontResult(req.key, False, f"the render took more than {RENDER_TIMEOUT:.0f} s")
                if not self._proc.is_alive():
                    code = self._proc.exitcode
                    self._proc = None
                    return FrontResult(req.key, False, f"the render worker died (exit code {code})")
                if self._closed:
                    return FrontResult(req.key, False, "the server is shutting down")


def _worker_entry(
    requests: Queue[FrontRequest | None],
    results: Queue[FrontResult],
    settings: FrontSettings,
    parent_pid: int,
) -> None:
    """The worker process's entry point, importable without bpy (spawn imports the target's
    module before anything runs): it dies with the server, then imports the Blender side."""
    import ctypes
    import signal
    import sys

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent_pid:
        os._exit(1)
    # a parent that imported bpy passes Blender's script folders in sys.path; their `bpy`
    # package would shadow the real module (bpy adds them again itself)
    sys.path[:] = [p for p in sys.path if f"{os.sep}bpy{os.sep}" not in p and "scripts" not in p]
    from thagen.annotate.front.blender_worker import worker_main

    worker_main(requests, results, settings)


def wait_ready(renders: FrontRenders, key: str, timeout: float) -> str:
    """Poll until the picture is ready or failed (for scripts and benches)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = renders.state(key)
        if state in ("ready", "failed"):
            return state
        time.sleep(0.1)
    return renders.state(key)
