"""pid_alive (render/output/layout.py) decides which scratch folders a crash left behind: a
running process is alive, a finished one is not, and neither is a zombie (killed, not yet reaped
by its parent), which would otherwise keep its folder until the parent got round to it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from thagen.render.output.layout import pid_alive


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]


def test_pid_alive_running_zombie_and_gone() -> None:
    assert pid_alive(os.getpid())
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = time.monotonic() + 30
        while _state(child.pid) != "Z":  # exited, not yet waited for
            assert time.monotonic() < deadline, "the child never exited"
            time.sleep(0.01)
        assert not pid_alive(child.pid)
    finally:
        child.wait()
    assert not pid_alive(child.pid)  # reaped: gone
