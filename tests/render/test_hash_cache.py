"""The persistent hash cache: used while a file is unchanged, ignored once it changes or breaks."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from thagen.render.discovery import characters, hash_cache


def fresh_process_cache() -> None:
    characters._sha_cache.clear()  # what a new `thagen render` process starts with


def test_hash_is_stored_and_reused_until_the_file_changes(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("THAGEN_HASH_CACHE", str(tmp_path / "h.sqlite"))
    model = tmp_path / "m.pmx"
    model.write_bytes(b"PMX model bytes")
    real = hashlib.sha256(b"PMX model bytes").hexdigest()
    fresh_process_cache()
    assert characters.file_sha256(model) == real
    st = model.stat()
    key = str(model.resolve())
    assert hash_cache.lookup(key, st.st_size, st.st_mtime_ns) == real

    # a later process trusts the store while size and mtime match (proved by planting a marker)
    hash_cache.store(key, st.st_size, st.st_mtime_ns, "planted")
    fresh_process_cache()
    assert characters.file_sha256(model) == "planted"

    # the file changes: hashed again
    model.write_bytes(b"PMX model bytes, edited")
    os.utime(model, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    fresh_process_cache()
    assert characters.file_sha256(model) == hashlib.sha256(b"PMX model bytes, edited").hexdigest()


def test_broken_or_disabled_cache_only_means_hashing_again(tmp_path: Path, monkeypatch) -> None:
    model = tmp_path / "m.pmd"
    model.write_bytes(b"Pmd bytes")
    real = hashlib.sha256(b"Pmd bytes").hexdigest()
    garbage = tmp_path / "corrupt.sqlite"
    garbage.write_bytes(b"this is not a database" * 100)
    for setting in (str(garbage), "off", str(tmp_path / "no-such-dir" / "x" / "h.sqlite")):
        monkeypatch.setenv("THAGEN_HASH_CACHE", setting)
        fresh_process_cache()
        assert characters.file_sha256(model) == real
    monkeypatch.setenv("THAGEN_HASH_CACHE", "off")
    assert hash_cache.cache_path() is None
