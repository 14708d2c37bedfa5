"""Each discovered model's license record, with what the model file itself says cached.

A manifest's `licenses:` filter decides which characters render, and the dataset card credits
every one, so each model's record (rigs/licenses/) is needed when a render is planned, and every
part of a farm run plans the whole manifest. Reading a model for its VRM meta or PMX comments
costs far more than reading the readme beside it, so that part (`LicenseInputs`) is kept in the
hash cache's sqlite file (render/discovery/hash_cache.py), keyed by the model's location and
valid while its sha256 (and a zip's size and mtime) are unchanged. The readme and license files
beside the model are read every time: they are small, and a curator edits them between runs.
Nothing here raises for a model that cannot be read: its record says so in `notes`.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from thagen.render.discovery import hash_cache
from thagen.render.discovery.characters import ModelRef, builtin_model_file
from thagen.rigs.licenses import (
    LicenseFile,
    LicenseInputs,
    LicenseRecord,
    license_inputs,
    model_license,
    unreadable_inputs,
)
from thagen.rigs.licenses.model_license import INPUTS_VERSION

_SCHEMA = "CREATE TABLE IF NOT EXISTS license_inputs (key TEXT PRIMARY KEY, stamp TEXT, version INTEGER, inputs TEXT)"


def model_file(ref: ModelRef) -> Path:
    """The file a ref's license is read beside: the model, the zip holding it, or the built-in
    character's PMX (whose own comment states its license)."""
    return builtin_model_file() if ref.builtin or ref.path is None else Path(ref.path)


def _location(ref: ModelRef) -> str:
    if ref.builtin or ref.path is None:
        return f"builtin\0{ref.sha256}"
    path = str(Path(ref.path).resolve())
    return f"{path}\0{ref.member}" if ref.member else path


def _stamp(ref: ModelRef) -> str:
    """What the cached inputs depend on: the model's sha256, and for a zip member the zip's stat
    (its folder's readmes are zip members too)."""
    if ref.member and ref.path is not None:
        try:
            st = Path(ref.path).stat()
        except OSError:
            return ""
        return f"{ref.sha256}\0{st.st_size}\0{st.st_mtime_ns}"
    return ref.sha256


def _lookup(conn: sqlite3.Connection | None, key: str, stamp: str) -> LicenseInputs | None:
    if conn is None or not stamp:
        return None
    try:
        row = conn.execute(
            "SELECT stamp, version, inputs FROM license_inputs WHERE key = ?", (key,)
        ).fetchone()
    except sqlite3.Error:
        return None
    if row is None or row[0] != stamp or row[1] != INPUTS_VERSION:
        return None
    try:
        return LicenseInputs.from_json(json.loads(row[2]))
    except (ValueError, TypeError):
        return None


def _store(conn: sqlite3.Connection | None, key: str, stamp: str, inputs: LicenseInputs) -> None:
    if conn is None or not stamp or inputs.problem is not None:  # a failed read is tried again
        return
    try:
        with conn:
            conn.execute(
                "INSERT OR REPLACE INTO license_inputs (key, stamp, version, inputs) VALUES (?, ?, ?, ?)",
                (key, stamp, INPUTS_VERSION, json.dumps(inputs.to_json(), ensure_ascii=False)),
            )
    except sqlite3.Error:
        pass


def _read_inputs(ref: ModelRef) -> LicenseInputs:
    from thagen.rigs.reader import read_model

    try:
        model = read_model(model_file(ref), member=ref.member)
    except Exception as exc:  # noqa: BLE001 - an unreadable model still has readmes beside it
        return unreadable_inputs(exc)
    return license_inputs(model, ref.member)


def ref_inputs(ref: ModelRef, conn: sqlite3.Connection | None = None) -> LicenseInputs:
    """What the model file of `ref` says (cached when `conn` is the hash cache)."""
    key, stamp = _location(ref), _stamp(ref)
    cached = _lookup(conn, key, stamp)
    if cached is not None:
        return cached
    inputs = _read_inputs(ref)
    _store(conn, key, stamp, inputs)
    return inputs


def ref_license(
    ref: ModelRef,
    *,
    root: Path | None = None,
    license_file: LicenseFile | None = None,
    override_file: Path | None = None,
    conn: sqlite3.Connection | None = None,
) -> LicenseRecord:
    """One discovered model's record: the model, files beside it up to `root`, the licenses
    file's rules, then its override file's `license:` section (which wins)."""
    root = None if ref.builtin else root
    return model_license(
        model_file(ref),
        ref_inputs(ref, conn),
        root=root,
        member=ref.member,
        license_file=None if ref.builtin else license_file,
        override_file=override_file,
    )


def open_cache() -> sqlite3.Connection | None:
    """The hash cache with the license table (None when the cache is off or unusable); close it
    with `contextlib.closing`."""
    return hash_cache.connect(_SCHEMA)
