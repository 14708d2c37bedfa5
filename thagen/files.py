"""Crash-safe file writes every layer shares: a file is whole or absent, never half-written.

A file is written under `<name>.tmp-<pid>`, fsynced and renamed into place, and the rename is
made durable by fsyncing its folder, so a kill -9 or a power cut at any moment leaves either
the old file or the new one (the `.tmp-*` names are swept by whoever owns the folder).
"""

from __future__ import annotations

import os
from pathlib import Path


def fsync_dir(path: Path) -> None:
    """Make a rename durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write a whole file under a temporary name, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)
