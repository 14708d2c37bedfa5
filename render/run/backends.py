"""What a render backend is: the small interface the run (render/run/runner.py) drives.

A backend renders a list of CharacterJobs somewhere (local worker processes, Ray tasks)
and reports back through `RunEvents`; it never touches the journal. The run turns each
`Outcome` into a journal line (done) or a failures line (failed), in the order they arrive,
so whatever the backend, "a character is done iff journalled" holds.

Backends: render/run/pool.py (local processes, the default) and render/run/ray_backend.py (Ray).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from thagen.errors import ConfigError

if TYPE_CHECKING:
    from thagen.render.manifest import CharacterJob
    from thagen.render.settings import RunSettings

BACKENDS = ("local", "ray")
DEFAULT_RECYCLE_AFTER = 200
# failure stages after which the worker's Blender is replaced (read/rig/framing never touch it)
RESTART_AFTER = ("import", "render", "qa", "write", "crash", "timeout", "unknown")


@dataclass(frozen=True)
class FarmOptions:
    """How many processes render, and what happens when one misbehaves."""

    backend: str = "local"
    workers: int = 0  # 0: as many as the cores allow for the render threads
    recycle_after: int = DEFAULT_RECYCLE_AFTER  # characters per worker process, then a fresh one
    character_timeout: float | None = None  # seconds; None: derived from the expected images
    retries: int = 1  # re-renders of a character whose worker died or timed out
    address: str | None = None  # Ray: None (a private local cluster), "auto" or HOST:PORT

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ConfigError(f"--backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if self.workers < 0 or self.recycle_after < 1 or self.retries < 0:
            raise ConfigError("--workers must be >= 0, --recycle-after >= 1 and --retries >= 0")
        if self.character_timeout is not None and self.character_timeout <= 0:
            raise ConfigError(f"--character-timeout must be > 0 seconds, got {self.character_timeout}")


def default_workers(threads: int, cpus: int | None = None) -> int:
    """Processes that fit the cores: all cores for one process when threads is 0 (all)."""
    if cpus is None:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return 1 if threads <= 0 else max(1, cpus // threads)


@dataclass
class Outcome:
    """How one character ended: `record` is its journal line (done) or failures line (failed)."""

    job: CharacterJob
    done: bool
    record: dict[str, Any]
    attempts: int = 1


class RunEvents(Protocol):
    """What a backend tells the run while it works."""

    def started(self, job: CharacterJob, attempt: int) -> None:
        """A character went to a worker (attempt 1, or a retry after a crash or timeout)."""

    def images(self, n: int) -> None:
        """n more images rendered (for the progress line)."""

    def workers(self, busy: int, total: int) -> None:
        """How many worker processes exist and how many are rendering."""

    def finished(self, outcome: Outcome) -> None:
        """A character is finished: its outputs are complete in OUT (done) or must go (failed)."""

    def message(self, text: str) -> None:
        """A line for the log (a retry, a recycled worker)."""


class Backend(Protocol):
    def run(self, jobs: list[CharacterJob], out: Path, settings: RunSettings, events: RunEvents) -> str:
        """Render every job, reporting through `events`; returns the Blender version used."""
