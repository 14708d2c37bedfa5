"""Plan the next character while Blender renders this one: one helper thread per worker.

A backend that knows which character a worker renders next (render/run/lookahead.py) passes it
along with the current one. The worker hands it to `Prefetcher.expect`; `render_character` calls
`Prefetcher.start` when its pose-sample loop begins (not before: the import and the first render
hold Python's lock, while Cycles' sample renders let it go), and the next `take` returns the plan,
waiting for it if needed. A plan is a pure function of the job (render/character/plan.py), so a
prefetched character is byte-identical to one planned in line; a hint that turns out wrong (the
scheduler gave that character to another worker) is dropped.
"""

from __future__ import annotations

import contextlib
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from thagen.render.character.plan import CharacterPlan, plan_character
from thagen.render.settings import RunSettings

if TYPE_CHECKING:
    from thagen.render.manifest import CharacterJob


@dataclass
class PlannedJob:
    """A plan being made (or made) on the helper thread, and the stage it reached."""

    job: CharacterJob
    future: Future[CharacterPlan]
    stage: list[str] = field(default_factory=lambda: ["read"])

    def result(self, stage: list[str]) -> CharacterPlan:
        """The plan; on failure `stage[0]` becomes the stage the plan failed in, and it raises."""
        try:
            return self.future.result()
        except BaseException:
            stage[0] = self.stage[0]
            raise


class Prefetcher:
    """At most one character planned ahead; `close` waits for it and stops the thread."""

    def __init__(self, settings: RunSettings) -> None:
        self.settings = settings
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="thagen-plan")
        self._expected: CharacterJob | None = None
        self._planned: PlannedJob | None = None
        self.hits = 0  # characters whose plan was ready-made (for tests and the benchmark)

    def expect(self, job: CharacterJob | None) -> None:
        """The character this worker will probably render next (None: nothing known)."""
        self._expected = job

    def start(self) -> None:
        """Begin planning the expected character, if any and not begun already."""
        job, self._expected = self._expected, None
        if job is None or (self._planned is not None and self._planned.job == job):
            return
        self._discard()
        stage = ["read"]
        future = self._pool.submit(plan_character, job, self.settings, stage)
        self._planned = PlannedJob(job, future, stage)

    def take(self, job: CharacterJob) -> PlannedJob | None:
        """The plan begun for `job`, or None (another one's plan is dropped)."""
        planned, self._planned = self._planned, None
        if planned is not None and planned.job == job:
            self.hits += 1
            return planned
        if planned is not None:
            _wait_quietly(planned.future)
        return None

    def _discard(self) -> None:
        if self._planned is not None:
            _wait_quietly(self._planned.future)
            self._planned = None

    def close(self) -> None:
        self._expected = None
        self._discard()
        self._pool.shutdown(wait=True)


def _wait_quietly(future: Future[CharacterPlan]) -> None:
    """A dropped plan still finishes (a thread cannot be stopped); its error is not ours."""
    with contextlib.suppress(BaseException):
        future.result()
