"""Identity signals kept in the model hash cache's sqlite file, so a re-run reads no model.

One row per model location (file path, or zip + member) holding the model's sha256, the signal
version, the stat of every file the signals depend on (the model file or zip and its textures)
and the signals as JSON. A row counts only when the sha256, the version and every stat still
match: a recoloured texture beside an unchanged model is signed again. Like the hash cache,
any problem with the file only means computing again (render/discovery/hash_cache.py).

A second table holds how many THA2 / THA3 parameters a duplicate can show (render/identity/
shown.py): finding them normalizes the model again, so a resumed render of a collection with
many duplicates reads none of them twice. Its key names the location, the vector and the rig
override used; its deps are the model file and that override.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any, TypeVar

from thagen.render.discovery import hash_cache
from thagen.render.identity.signals import SIGNALS_VERSION, ModelSignals

T = TypeVar("T")

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS identity_signals "
    "(key TEXT PRIMARY KEY, sha256 TEXT, version INTEGER, deps TEXT, signals TEXT)"
)

_SHOWN_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS identity_shown "
    "(key TEXT PRIMARY KEY, sha256 TEXT, version TEXT, deps TEXT, shown INTEGER)"
)

Dep = tuple[str, int, int]  # path, size, mtime_ns


def location_key(path: Path, member: str | None) -> str:
    """The cache's key of a model file or zip member."""
    return f"{path.resolve()}\0{member}" if member else str(path.resolve())


def file_deps(paths: Iterable[Path]) -> tuple[Dep, ...]:
    """(path, size, mtime_ns) of each existing file, sorted."""
    out = []
    for p in sorted({str(Path(p).resolve()) for p in paths}):
        try:
            st = Path(p).stat()
        except OSError:
            continue
        out.append((p, st.st_size, st.st_mtime_ns))
    return tuple(out)


def _connect() -> sqlite3.Connection | None:
    return hash_cache.connect(_SCHEMA)


def _deps_unchanged(deps: Sequence[Sequence]) -> bool:
    for path, size, mtime in deps:
        try:
            st = Path(path).stat()
        except OSError:
            return False
        if st.st_size != size or st.st_mtime_ns != mtime:
            return False
    return True


def _lookup_valid(
    conn: sqlite3.Connection | None,
    table: str,
    column: str,
    items: Sequence[tuple[str, str]],
    version: object,
    decode: Callable[[Any], T],
) -> dict[str, T]:
    """Rows of `table` for (key, sha256) pairs whose sha256, version and dependency files are
    unchanged, decoded from `column`; anything unreadable is skipped (recomputed by the caller)."""
    if conn is None:
        return {}
    out: dict[str, T] = {}
    with closing(conn):
        for key, sha in items:
            try:
                row = conn.execute(
                    f"SELECT sha256, version, deps, {column} FROM {table} WHERE key = ?", (key,)
                ).fetchone()
            except sqlite3.Error:
                return out
            if row is None or row[0] != sha or row[1] != version:
                continue
            try:
                if _deps_unchanged(json.loads(row[2])):
                    out[key] = decode(row[3])
            except (ValueError, KeyError, TypeError):
                continue
    return out


def lookup_many(items: Sequence[tuple[str, str]]) -> dict[str, ModelSignals]:
    """Stored, still valid signals for (key, sha256) pairs, by key (one connection for all)."""
    return _lookup_valid(
        _connect(),
        "identity_signals",
        "signals",
        items,
        SIGNALS_VERSION,
        lambda text: ModelSignals.from_dict(json.loads(text)),
    )


def store_many(rows: Sequence[tuple[str, str, ModelSignals, tuple[Dep, ...]]]) -> None:
    """Store (key, sha256, signals, deps) rows; signals with a problem are not stored (retried)."""
    rows = [r for r in rows if not r[2].problem]
    if not rows:
        return
    conn = _connect()
    if conn is None:
        return
    with closing(conn):
        try:
            with conn:
                conn.executemany(
                    "INSERT OR REPLACE INTO identity_signals (key, sha256, version, deps, signals) "
                    "VALUES (?, ?, ?, ?, ?)",
                    [
                        (key, sha, SIGNALS_VERSION, json.dumps(deps), json.dumps(sig.to_dict()))
                        for key, sha, sig, deps in rows
                    ],
                )
        except sqlite3.Error:
            pass


def lookup_shown(items: Sequence[tuple[str, str]], version: str) -> dict[str, int]:
    """Stored parameter counts for (key, sha256) pairs whose version and files are unchanged."""
    return _lookup_valid(hash_cache.connect(_SHOWN_SCHEMA), "identity_shown", "shown", items, version, int)


def store_shown(rows: Sequence[tuple[str, str, int, tuple[Dep, ...]]], version: str) -> None:
    """Store (key, sha256, count, deps) rows of parameter counts."""
    if not rows:
        return
    conn = hash_cache.connect(_SHOWN_SCHEMA)
    if conn is None:
        return
    with closing(conn):
        try:
            with conn:
                conn.executemany(
                    "INSERT OR REPLACE INTO identity_shown (key, sha256, version, deps, shown) "
                    "VALUES (?, ?, ?, ?, ?)",
                    [(key, sha, version, json.dumps(deps), count) for key, sha, count, deps in rows],
                )
        except sqlite3.Error:
            pass
