"""Check (and create) an output folder before any work starts, with an error a person can act on.

`os.makedirs` on a bad path raises `FileNotFoundError: [Errno 2] ...` or `NotADirectoryError`,
which names neither the manifest field nor what is wrong. This turns those into one line naming
the field (`output` in the manifest, or `--out`) and the reason: a missing parent that cannot be
created, a parent that is a file, a folder that is not writable, or a path that is a file.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from thagen.errors import ConfigError


def _first_existing(path: Path) -> Path:
    p = path
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def _reason(path: Path, exc: OSError) -> str:
    existing = _first_existing(path.parent)
    if exc.errno == errno.ENOTDIR or (existing.exists() and not existing.is_dir()):
        return f"{existing} is a file, not a folder"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"{existing} is not writable ({os.strerror(exc.errno)})"
    if exc.errno == errno.ENOENT and existing == path.parent:
        return f"{existing} does not allow new folders (a virtual or special file system?)"
    if exc.errno == errno.ENOENT:
        return f"its parent {path.parent} does not exist and cannot be created under {existing}"
    if exc.errno == errno.ENOSPC:
        return "no space left on the device"
    return exc.strerror or str(exc)


def prepare_output_dir(path: Path, *, field: str, source: Path | str | None = None) -> Path:
    """Create `path` (parents too) and prove it is writable; a ConfigError naming `field` if not.

    `source` is the manifest the field came from (None for a command-line option).
    """
    where = f"{source}: " if source is not None else ""
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{where}{field}: {path} is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        # os.access says yes to root everywhere; only a real file proves the folder takes writes
        fd, probe = tempfile.mkstemp(prefix=".thagen-write-check-", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ConfigError(f"{where}{field}: cannot write to {path}: {_reason(path, exc)}") from None
    return path
