"""The characters still to give out, and one reserved next character per worker.

A worker that knows its next character plans it (read, rig, framing: render/character/plan.py)
while Blender renders the current one, which takes that work off the character's critical path
(render/character/prefetch.py). So when a backend gives a worker a character, it also reserves
the following one for that worker and sends it along as a hint. A reservation is only a hint:
a worker that would otherwise sit idle takes another worker's reserved character (that worker's
early plan is then dropped), a lost or retired worker's reservation goes back to the front of the
queue, and which worker renders a character never changes its outputs.

Used by both backends (render/run/pool.py, render/run/ray_backend.py); workers are keyed by any
hashable the backend picks.
"""

from __future__ import annotations

import collections
from collections.abc import Hashable, Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from thagen.render.manifest import CharacterJob


class Lookahead:
    """A queue of characters with at most one reserved for each worker."""

    def __init__(self, jobs: Iterable[CharacterJob]) -> None:
        self.pending: collections.deque[CharacterJob] = collections.deque(jobs)
        self.reserved: dict[Hashable, CharacterJob] = {}

    def __len__(self) -> int:
        """Characters not yet given to a worker (reserved ones included)."""
        return len(self.pending) + len(self.reserved)

    def __bool__(self) -> bool:
        return len(self) > 0

    def take(self, worker: Hashable) -> CharacterJob | None:
        """What `worker` renders now: its reservation, else the next in the queue, else a
        character reserved for a busy worker (better rendered now than after that one's)."""
        if worker in self.reserved:
            return self.reserved.pop(worker)
        if self.pending:
            return self.pending.popleft()
        if self.reserved:
            return self.reserved.pop(next(iter(self.reserved)))
        return None

    def reserve(self, worker: Hashable) -> CharacterJob | None:
        """Reserve the next queued character for `worker` (None when the queue is empty)."""
        if worker in self.reserved:
            return self.reserved[worker]
        if not self.pending:
            return None
        job = self.pending.popleft()
        self.reserved[worker] = job
        return job

    def release(self, worker: Hashable) -> None:
        """`worker` is gone: its reserved character goes back to the front of the queue."""
        job = self.reserved.pop(worker, None)
        if job is not None:
            self.pending.appendleft(job)

    def retry(self, job: CharacterJob) -> None:
        """A character to render again (after a crash or timeout), before anything else."""
        self.pending.appendleft(job)
