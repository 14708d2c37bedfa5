"""Blender's C-level output captured per call, and the render process's private scratch folder.

Blender prints straight to file descriptors 1 and 2, past Python's `sys.stdout`, so its chatter
would mix into the caller's output (a progress line, a worker's pipe). `capture_output` swaps
the descriptors for a temp file around one import or render and hands the text back, so the
renderer can pass it to its log. Blender also writes each PNG to a file: `private_tmp` gives each
process its own RAM-backed folder for that, named by pid so folders of killed workers are found
and removed. Kept apart from the scene (render/scene/blender_scene.py) because neither needs bpy.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from thagen.render.output.layout import pid_alive

TMP_PREFIX = "thagen-render-"


@dataclass
class Captured:
    text: str = ""


def private_tmp() -> str:
    """A per-process scratch folder for Blender's PNG output (RAM-backed where /dev/shm exists).

    Its name carries the pid, so folders left by killed workers (kill -9 skips cleanup) are
    recognised and removed by the next renderer on the machine.
    """
    shm = "/dev/shm"
    base = shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else tempfile.gettempdir()
    sweep_dead(base)
    return tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{os.getpid()}-", dir=base)


def sweep_dead(base: str) -> None:
    """Remove scratch folders whose owning process no longer exists."""
    try:
        names = os.listdir(base)
    except OSError:
        return
    for name in names:
        if not name.startswith(TMP_PREFIX):
            continue
        pid_text = name[len(TMP_PREFIX) :].split("-", 1)[0]
        if not pid_text.isdigit() or pid_alive(int(pid_text)):
            continue
        shutil.rmtree(os.path.join(base, name), ignore_errors=True)


@contextmanager
def capture_output(directory: str | None = None) -> Iterator[Captured]:
    """Capture C-level writes to fd 1 and 2 (Blender's prints) into `Captured.text`."""
    libc = ctypes.CDLL(None)
    result = Captured()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    libc.fflush(None)
    saved = (os.dup(1), os.dup(2))
    with tempfile.TemporaryFile(dir=directory) as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield result
        finally:
            for stream in (sys.stdout, sys.stderr):
                stream.flush()
            libc.fflush(None)
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
            sink.seek(0)
            result.text = sink.read().decode("utf-8", "replace")
