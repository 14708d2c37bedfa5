"""A persistent cache of model-file hashes, so a re-run over thousands of models is quick.

Character ids hash every model's bytes (render/discovery/characters.py). At THA1 scale that is tens of
GB read on every `thagen render` before anything renders; keyed by (path, size, mtime), the
hashes only change when a file does. Stored with the standard library's sqlite3 under
$XDG_CACHE_HOME/thagen/hashes.sqlite (THAGEN_HASH_CACHE names another file, or `off`). Any
problem with the cache file (read-only home, a locked or corrupt database) only means hashing
again: it never fails a run.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS hashes (key TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, sha256 TEXT)"
)


def cache_path() -> Path | None:
    """Where the cache lives, or None when it is switched off."""
    setting = os.environ.get("THAGEN_HASH_CACHE", "")
    if setting.lower() == "off":
        return None
    if setting:
        return Path(setting)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "thagen" / "hashes.sqlite"


def connect(schema: str = _SCHEMA) -> sqlite3.Connection | None:
    """The cache database with `schema`'s table created (other caches keep their own table in the
    same file, e.g. render/identity/cache.py); None when there is no usable cache."""
    path = cache_path()
    if path is None:
        return None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, timeout=5.0)
        conn.execute(schema)
        return conn
    except (OSError, sqlite3.Error):
        return None


def lookup(key: str, size: int, mtime_ns: int) -> str | None:
    """The stored hash for `key` if the file's size and mtime are unchanged."""
    conn = connect()
    if conn is None:
        return None
    try:
        row = conn.execute("SELECT size, mtime_ns, sha256 FROM hashes WHERE key = ?", (key,)).fetchone()
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    if row is None or row[0] != size or row[1] != mtime_ns:
        return None
    return str(row[2])


def store(key: str, size: int, mtime_ns: int, sha256: str) -> None:
    conn = connect()
    if conn is None:
        return
    try:
        with conn:
            conn.execute(
                "INSERT OR REPLACE INTO hashes (key, size, mtime_ns, sha256) VALUES (?, ?, ?, ?)",
                (key, size, mtime_ns, sha256),
            )
    except sqlite3.Error:
        pass
    finally:
        conn.close()
