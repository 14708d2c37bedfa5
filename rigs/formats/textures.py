"""Find the files behind a model's texture paths.

PMX/PMD texture paths were written on Windows: backslashes, any letter case, sometimes an
absolute path from the author's machine. MMD resolves them relative to the model's folder on
a case-insensitive file system; on Linux we match each path component case-insensitively.

Policy for paths that leave the model's folder:
- '..' is allowed (distributions often keep a shared texture folder next to the model's
  folder) but may climb at most `MAX_UP` levels above the model's folder; deeper climbs
  resolve to None rather than reaching into unrelated directories.
- An absolute path (C:\\..., /...) is never followed; its file name is looked up in the
  model's folder instead, which is where such textures usually are in a distribution.
- PMD joins a texture and a sphere map as "tex.bmp*sphere.spa"; the main texture (before '*')
  is resolved.
"""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path
from typing import Any

from thagen.rigs.model import Model

MAX_UP = 2
_DRIVE = re.compile(r"^[A-Za-z]:")
# directory -> (mtime_ns, {folded name: [real names]}); listings are shared by every lookup.
_LISTINGS: dict[str, tuple[int, dict[str, list[str]]]] = {}


def _fold(name: str) -> str:
    return unicodedata.normalize("NFC", name).casefold()


def _listing(directory: str) -> dict[str, list[str]]:
    try:
        mtime = os.stat(directory).st_mtime_ns
    except OSError:
        return {}
    cached = _LISTINGS.get(directory)
    if cached is not None and cached[0] == mtime:
        return cached[1]
    table: dict[str, list[str]] = {}
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        names = []
    for name in names:
        table.setdefault(_fold(name), []).append(name)
    _LISTINGS[directory] = (mtime, table)
    return table


def _match(directory: str, part: str) -> str | None:
    """The entry of `directory` named `part`: the exact spelling first, else a case-insensitive one."""
    candidates = _listing(directory).get(_fold(part))
    if not candidates:
        return None
    return part if part in candidates else candidates[0]


def split_pmd_texture(stored: str) -> tuple[str, str]:
    """PMD's "texture*sphere" field as (texture, sphere); either may be empty."""
    main, _, sphere = stored.partition("*")
    return main.strip(), sphere.strip()


def _walk(base: str, parts: list[str]) -> Path | None:
    current = base
    for i, part in enumerate(parts):
        if part == "..":
            current = os.path.dirname(current)
            continue
        found = _match(current, part)
        if found is None:
            return None
        current = os.path.join(current, found)
        if i < len(parts) - 1 and not os.path.isdir(current):
            return None
    return Path(current) if os.path.isfile(current) else None


def resolve_texture(model_path: str | Path, stored: str) -> Path | None:
    """The file `stored` names, relative to the model's folder, or None if it is not there."""
    stored = stored.replace("\x00", "").strip()
    if "*" in stored:
        stored = split_pmd_texture(stored)[0]
    if not stored:
        return None
    base = os.path.abspath(os.path.dirname(os.fspath(model_path)))
    text = stored.replace("\\", "/")
    if text.startswith("/") or _DRIVE.match(text):
        name = text.rsplit("/", 1)[-1]
        return _walk(base, [name]) if name else None
    parts = [p for p in text.split("/") if p not in ("", ".")]
    depth = 0
    for part in parts:
        depth += -1 if part == ".." else 1
        if depth < -MAX_UP:
            return None
    return _walk(base, parts) if parts else None


def texture_report(model: Model) -> list[dict[str, Any]]:
    """One row per texture slot: index, stored path, resolved path (str or None), found, users.

    `used_by` names the materials that use the slot (as texture, sphere or toon), so a
    missing file can be judged: a missing face texture matters, an unused one does not.
    """
    users: dict[int, list[str]] = {}
    for mat in model.materials:
        slots = {mat.texture, mat.sphere_texture}
        if not mat.toon_shared:
            slots.add(mat.toon_index)
        for slot in slots:
            if slot >= 0:
                users.setdefault(slot, []).append(mat.name)
    rows = []
    embedded = model.vrm.embedded_images if model.vrm is not None else {}
    for index, stored in enumerate(model.textures):
        path: Path | str | None = (
            resolve_texture(model.source_path, stored) if model.source_path is not None else None
        )
        if stored in embedded:  # inside the model file (VRM / GLB)
            path = f"(embedded, {len(embedded[stored])} bytes)"
        rows.append(
            {
                "index": index,
                "stored": stored,
                "path": str(path) if path is not None else None,
                "found": path is not None,
                "used_by": users.get(index, []),
            }
        )
    return rows
