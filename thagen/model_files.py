"""Which files are character models: the one list of suffixes every command uses.

Defined once, below every layer, because four copies drifted apart before (the annotation
tool's lacked `.vrm`, so `thagen annotate serve DIR` skipped every VRM in a folder).
"""

from __future__ import annotations

from pathlib import Path

MODEL_SUFFIXES = (".pmx", ".pmd", ".vrm", ".glb", ".gltf")
"""Model files read directly: PMX 2.0/2.1, PMD, VRM 0.x/1.0 and plain glTF 2.0."""

ARCHIVE_SUFFIXES = (".zip",)
"""Archives that may hold models (listed and extracted by rigs/formats/archive.py)."""


def is_model_file(path: Path) -> bool:
    """A model thagen reads directly (by suffix, case-insensitive)."""
    return path.suffix.lower() in MODEL_SUFFIXES


def is_archive_file(path: Path) -> bool:
    """An archive that may hold models (by suffix, case-insensitive)."""
    return path.suffix.lower() in ARCHIVE_SUFFIXES
