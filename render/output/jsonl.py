"""JSON-lines files (journals, failure lists) that survive a kill -9 in the middle of a write.

A line is written with one append + fsync, so after `append_jsonl` returns it is durable; a
torn last line (a kill during the write) is dropped by `read_jsonl`, which can also cut the
file back to its last complete line so later appends start clean.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from thagen.files import atomic_write_bytes


def read_jsonl(path: Path, *, repair: bool = False) -> list[dict[str, Any]]:
    """Read a JSON-lines file; a torn last line (a kill during the write) is dropped.

    With `repair`, the file is cut back to its last complete line so later appends start clean.
    """
    if not path.exists():
        return []
    data = path.read_bytes()
    records: list[dict[str, Any]] = []
    good_end = 0
    pos = 0
    for line in data.splitlines(keepends=True):
        pos += len(line)
        if not line.endswith(b"\n"):
            break
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            break
        if isinstance(rec, dict):
            records.append(rec)
        good_end = pos
    if repair and good_end != len(data):
        with open(path, "r+b") as f:
            f.truncate(good_end)
            f.flush()
            os.fsync(f.fileno())
    return records


def append_jsonl(path: Path, record: dict[str, Any]) -> None:
    """Append one line and fsync it: after this returns, the line survives a crash."""
    line = json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> None:
    """Replace a JSON-lines file atomically (temp name, fsync, rename)."""
    text = "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in records)
    atomic_write_bytes(path, text.encode())
