"""Test-only fault injection: make a named character's worker really die or hang mid-render.

THAGEN_TEST_FAULT="die:<character id>[:<once file>]" kills the worker process with SIGKILL
(as a Blender segfault or the OOM killer would) after the character's third image;
"hang:<id>[:<once file>]" makes it sleep forever there instead. With a once file the fault
happens only while that file does not exist yet (it is created first), so a retry succeeds.
This is real process behaviour, not a mock: the pool and Ray see a dead or stuck process.
"""

from __future__ import annotations

import os
import signal
import time

ENV = "THAGEN_TEST_FAULT"
AFTER_IMAGES = 3


def maybe_fault(character_id: str, images_so_far: int) -> None:
    spec = os.environ.get(ENV, "")
    if not spec or images_so_far != AFTER_IMAGES:
        return
    kind, _, rest = spec.partition(":")
    target, _, once = rest.partition(":")
    if target != character_id or kind not in ("die", "hang"):
        return
    if once:
        try:
            os.close(os.open(once, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
        except FileExistsError:
            return
    if kind == "die":
        os.kill(os.getpid(), signal.SIGKILL)
    while True:
        time.sleep(3600)
