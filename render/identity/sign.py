"""Sign the models the signal cache does not have: in parallel, with a progress line.

The first render of a large collection reads every model once (about 40 ms for a small model,
0.2-0.4 s for a 30k-vertex one with ten textures), which for 10,000 models is minutes of
silence if done one by one. So more than a handful of models are signed in worker processes
(spawned, not forked: the caller may hold Blender or threads) and a line on stderr every few
seconds says how far it is. The result does not depend on the worker count or the order the
models finish in (each model's signals are its own), and signals are stored in the cache as
they arrive, so an interrupted first run keeps what it signed.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from thagen.progress import fmt_duration
from thagen.render.identity import cache as identity_cache
from thagen.render.identity.signals import ModelSignals, signals_for_file

if TYPE_CHECKING:
    from thagen.render.discovery import characters as chars

PARALLEL_MIN = 8  # fewer models are signed in this process (starting workers costs about 1 s)
PROGRESS_MIN = 8  # fewer models sign quietly
PROGRESS_INTERVAL = 5.0  # seconds between progress lines
STORE_EVERY = 64  # signals stored in the cache in batches of this many


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _sign(path: str, member: str | None, cache_dir: str | None) -> tuple[ModelSignals, tuple]:
    """One model's signals and the stat of the files they depend on (runs in a worker)."""
    sig, deps = signals_for_file(Path(path), member, Path(cache_dir) if cache_dir else None)
    return sig, identity_cache.file_deps(deps)


def _weights(todo: Sequence[tuple[str, chars.ModelRef]]) -> list[float]:
    """Each model's share of the work for the ETA: its file's bytes (a zip's shared by its
    members), since a 30k-vertex model takes ten times a small one."""
    per_path: dict[str, int] = {}
    for _, ref in todo:
        per_path[str(ref.path)] = per_path.get(str(ref.path), 0) + 1
    out = []
    for _, ref in todo:
        try:
            size = float(Path(str(ref.path)).stat().st_size)
        except OSError:
            size = 1.0
        out.append(max(size, 1.0) / per_path[str(ref.path)])
    return out


class _Progress:
    """`identity: signed n/N models (x models/s, ETA ...)` on stderr every PROGRESS_INTERVAL s;
    the ETA weighs the models by their file size."""

    def __init__(
        self, total: int, weight: float, workers: int, stream: TextIO | None, interval: float
    ) -> None:
        self.total, self.done, self.workers = total, 0, workers
        self.weight, self.weight_done = weight, 0.0
        self.stream = stream if stream is not None else sys.stderr
        self.interval = interval
        self.quiet = total < PROGRESS_MIN
        self.t0 = self.last = time.monotonic()
        if not self.quiet:
            self._line(f"identity: signing {total} models not in the signal cache ({workers} processes)")

    def _line(self, text: str) -> None:
        print(f"[thagen] {text}", file=self.stream, flush=True)

    def step(self, weight: float, force: bool = False) -> None:
        self.done += 1
        self.weight_done += weight
        now = time.monotonic()
        if self.quiet or not (force or now - self.last >= self.interval):
            return
        self.last = now
        rate = self.done / max(now - self.t0, 1e-9)
        share = self.weight_done / self.weight if self.weight > 0 else self.done / self.total
        eta = (now - self.t0) * (1 - share) / max(share, 1e-9)
        self._line(
            f"identity: signed {self.done}/{self.total} models ({rate:.1f} models/s, "
            f"{'ETA ' + fmt_duration(eta) if self.done < self.total else 'took ' + fmt_duration(now - self.t0)})"
        )


def sign_models(
    todo: Sequence[tuple[str, chars.ModelRef]],
    cache_dir: Path | None = None,
    jobs: int = 0,
    *,
    stream: TextIO | None = None,
    interval: float = PROGRESS_INTERVAL,
) -> dict[str, ModelSignals]:
    """Signals by id of (cache key, ref) pairs, read now and stored in the cache; `jobs`
    processes (0: all cores; 1: this process)."""
    workers = min(jobs or default_jobs(), len(todo)) if len(todo) >= PARALLEL_MIN else 1
    weights = dict(zip((key for key, _ in todo), _weights(todo)))
    progress = _Progress(len(todo), sum(weights.values()), workers, stream, interval)
    out: dict[str, ModelSignals] = {}
    batch: list[tuple[str, str, ModelSignals, tuple]] = []

    def finished(key: str, ref: chars.ModelRef, sig: ModelSignals, deps: tuple) -> None:
        out[ref.id] = sig
        batch.append((key, ref.sha256, sig, deps))
        if len(batch) >= STORE_EVERY:
            identity_cache.store_many(batch)
            batch.clear()
        progress.step(weights[key], force=len(out) == len(todo))

    cache = str(cache_dir) if cache_dir else None
    try:
        if workers == 1:
            for key, ref in todo:
                assert ref.path is not None
                finished(key, ref, *_sign(str(ref.path), ref.member, cache))
        else:
            context = multiprocessing.get_context("spawn")
            lost: list[tuple[str, chars.ModelRef]] = []  # a worker died: signed here afterwards
            with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
                futures = {
                    pool.submit(_sign, str(ref.path), ref.member, cache): (key, ref) for key, ref in todo
                }
                try:
                    for future in concurrent.futures.as_completed(futures):
                        try:
                            result = future.result()
                        except concurrent.futures.process.BrokenProcessPool:
                            lost.append(futures[future])
                            continue
                        finished(*futures[future], *result)
                except BaseException:
                    pool.shutdown(wait=False, cancel_futures=True)
                    raise
            for key, ref in sorted(lost, key=lambda kr: kr[1].id):
                finished(key, ref, *_sign(str(ref.path), ref.member, cache))
    finally:
        identity_cache.store_many(batch)
    return out
