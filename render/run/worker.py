"""The local pool's worker process: one Blender renderer, characters in, records out.

Started with multiprocessing's spawn (never fork: bpy holds threads and GL state that do not
survive a fork), one per pool slot. It talks to the parent over a Pipe:

    parent -> worker   ("job", CharacterJob, next CharacterJob | None) | ("stop",)
    worker -> parent   ("ready", {"blender": version, "pid": pid}) | ("fatal", message, traceback)
                       ("images", n) while rendering, then ("done", record) | ("failed", record)

The parent journals; the worker only writes the character's shards and files (atomically).
The next character, when the parent has reserved one for this worker (render/run/lookahead.py),
is planned on a helper thread while this one renders (render/character/prefetch.py).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import traceback
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING

from thagen.render.settings import RunSettings

if TYPE_CHECKING:
    from thagen.render.character.prefetch import Prefetcher
    from thagen.render.scene.renderer import Renderer


def die_with_parent() -> None:
    """Linux: the worker gets SIGKILL when the parent dies, so a killed run leaves no writer behind."""
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def drop_blender_script_paths() -> None:
    """spawn copies the parent's sys.path; if the parent had imported bpy, that holds Blender's
    script folders, whose `bpy` package would shadow the real module here. bpy re-adds them."""
    blender = f"{os.sep}blender{os.sep}"
    bpy_dir = f"{os.sep}bpy{os.sep}"
    sys.path[:] = [p for p in sys.path if bpy_dir not in p and not (blender in p and "scripts" in p)]


def release_freed_memory() -> None:
    """glibc keeps freed heap pages; after a character (an imported model, its textures, the
    render buffers) hand them back, which roughly halves a worker's RSS growth per character
    (bench/farm.py). Recycling (--recycle-after) bounds what is left."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)


def worker_main(conn: Connection, out_dir: str, settings: RunSettings, parent_pid: int) -> None:
    """The worker: one renderer for its whole life; jobs in, results out over `conn`."""
    die_with_parent()
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)
    drop_blender_script_paths()
    try:
        from thagen.render.scene.renderer import make_renderer

        renderer = make_renderer(settings)
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which stops the run
        conn.send(("fatal", f"{type(exc).__name__}: {exc}", traceback.format_exc()))
        return
    conn.send(("ready", {"blender": getattr(renderer, "blender_version", ""), "pid": os.getpid()}))
    from thagen.render.character.prefetch import Prefetcher

    prefetcher = Prefetcher(settings)  # plans the next character while this one renders
    try:
        _serve(conn, Path(out_dir), renderer, settings, parent_pid, prefetcher)
    finally:
        prefetcher.close()
        with contextlib.suppress(Exception):
            renderer.close()  # its private temp folder


def _serve(
    conn: Connection,
    out: Path,
    renderer: Renderer,
    settings: RunSettings,
    parent_pid: int,
    prefetcher: Prefetcher,
) -> None:
    """Jobs in, results out, until told to stop or the parent goes away."""
    from thagen.render.character import render_character
    from thagen.render.character.records import failure_record
    from thagen.render.run.faults import maybe_fault

    while True:
        try:
            msg = conn.recv()
        except EOFError:
            return
        if msg[0] == "stop":
            return
        job = msg[1]
        prefetcher.expect(msg[2] if len(msg) > 2 else None)
        count = [0]

        def on_images(n: int, job_id: str = job.id, count: list[int] = count) -> None:
            if os.getppid() != parent_pid:
                os._exit(1)
            count[0] += n
            conn.send(("images", n))
            maybe_fault(job_id, count[0])

        try:
            result = render_character(
                job, out, renderer, settings, on_images=on_images, prefetcher=prefetcher
            )
            conn.send(("done", result.to_dict()))
        except BaseException as exc:  # noqa: BLE001 - one character's failure is a record, not a stop
            conn.send(("failed", failure_record(job, exc, out)))
            if isinstance(exc, KeyboardInterrupt):
                return
        release_freed_memory()
