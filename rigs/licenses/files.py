"""Finding the readme / license files that speak for a model, without leaving the collection.

Authors put their terms in `ReadMe.txt`, `readme_読んでね.txt`, `利用規約.txt`, `LICENSE`, ...
beside the model or one folder up (a pack with several models shares one readme). So the model's
folder and its parents are searched, up to the collection root and never above it. Collections
are downloaded from strangers: a symlink whose target lies outside the root is skipped (with a
note), FIFOs and devices are never opened, and the number of folder entries looked at and files
returned is bounded. In the model's own folder every `.txt` and `.md` is read too: MMD readmes are often
named after the model (`初音ミク.txt`, `【必読】.txt`).
"""

from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

NAME_WORDS: tuple[str, ...] = (
    "readme",
    "license",
    "licence",
    "copyright",
    "copying",
    "credit",
    "terms",
    "kiyaku",
    "規約",
    "読んで",
    "よんで",
    "お読み",
    "ライセンス",
    "クレジット",
    "注意事項",
)
"""A file is license-like when its folded name (NFKC, lower case, no spaces, `_` or `-`) contains one."""

SKIPPED_SUFFIXES: frozenset[str] = frozenset(
    (
        ".png .jpg .jpeg .gif .bmp .tga .dds .webp .tif .tiff .psd .spa .sph .ico .svg "
        ".pdf .doc .docx .xls .xlsx .odt .rtfd .pptx "
        ".zip .7z .rar .lzh .gz .tar .exe .dll "
        ".pmx .pmd .vrm .glb .gltf .fbx .obj .blend .vmd .vpd .x .mqo .wav .mp3 .mp4 .avi"
    ).split()
)
"""Suffixes never read even with a license-like name (images of terms, PDFs, models)."""

OWN_FOLDER_SUFFIXES: frozenset[str] = frozenset((".txt", ".md"))
"""In the model's own folder, files with these suffixes are read whatever their name."""

MAX_FILES = 24
"""At most this many license-like files are returned for one model."""

MAX_ENTRIES_PER_FOLDER = 5000
"""At most this many entries of one folder are looked at (a folder of 10^6 files costs the same)."""


def fold_name(name: str) -> str:
    """The form of a file name that `NAME_WORDS` are looked for in."""
    folded = unicodedata.normalize("NFKC", name).lower()
    return folded.replace(" ", "").replace("_", "").replace("-", "")


def is_license_name(name: str) -> bool:
    """Whether a file (or zip member) name looks like a readme or license."""
    base = PurePosixPath(name.replace("\\", "/")).name
    folded = fold_name(base)
    return any(word in folded for word in NAME_WORDS)


def is_model_folder_text(name: str) -> bool:
    """Whether a file in the model's own folder (or zip folder) is read: license-like or `.txt`."""
    return (
        is_license_name(name) or PurePosixPath(name.replace("\\", "/")).suffix.lower() in OWN_FOLDER_SUFFIXES
    )


def is_readable_suffix(name: str) -> bool:
    """False for suffixes that are never text (`SKIPPED_SUFFIXES`)."""
    return PurePosixPath(name.replace("\\", "/")).suffix.lower() not in SKIPPED_SUFFIXES


@dataclass(frozen=True)
class FoundFile:
    """A license-like file: the real path to open and the name to show in evidence."""

    path: Path
    shown: str


@dataclass(frozen=True)
class FileSearch:
    """The files found (model folder first, then parents) and notes on what was skipped and why."""

    files: tuple[FoundFile, ...]
    notes: tuple[str, ...]


def search_folders(model_path: Path, root: Path | None) -> tuple[list[Path], Path | None, str | None]:
    """The real folders to search, nearest first, the real boundary, or a note why none are.

    Without a root only the model's own folder is searched.
    """
    folder = model_path if model_path.is_dir() else model_path.parent
    folder_real = Path(os.path.realpath(folder))
    if root is None:
        return [folder_real], folder_real, None
    root_real = Path(os.path.realpath(root))
    if not folder_real.is_relative_to(root_real):
        return (
            [],
            None,
            f"{model_path}: the model's folder is outside the collection root {root}; no files read",
        )
    folders = [folder_real]
    current = folder_real
    while current != root_real and current.parent != current:
        current = current.parent
        folders.append(current)
    return folders, root_real, None


def _shown(path: Path, boundary: Path, root: Path | None) -> str:
    if root is not None:
        return path.relative_to(boundary).as_posix()
    return path.name


def find_license_files(model_path: Path, root: Path | None = None) -> FileSearch:
    """License-like files beside `model_path` and in its parents up to `root` (inclusive).

    Evidence names them relative to the root (just the file name when there is no root).
    """
    folders, boundary, note = search_folders(Path(model_path), Path(root) if root is not None else None)
    notes: list[str] = [note] if note else []
    found: list[FoundFile] = []
    if boundary is None:
        return FileSearch((), tuple(notes))
    for depth, folder in enumerate(folders):
        for name in _license_names(folder, notes, own_folder=depth == 0):
            if len(found) >= MAX_FILES:
                notes.append(f"more than {MAX_FILES} license-like files; the rest were not read")
                return FileSearch(tuple(found), tuple(notes))
            path = folder / name
            shown = _shown(path, boundary, root)
            if not is_readable_suffix(name):
                notes.append(f"{shown}: not a text file, not read")
                continue
            real = _inside(path, boundary)
            if real is None:
                notes.append(f"{shown}: a symlink to outside the collection root, not followed")
                continue
            if not real.is_file():
                continue
            found.append(FoundFile(real, shown))
    return FileSearch(tuple(found), tuple(notes))


def _license_names(folder: Path, notes: list[str], *, own_folder: bool) -> list[str]:
    """Sorted license-like names in one folder (bounded scan; unreadable folders noted)."""
    wanted = is_model_folder_text if own_folder else is_license_name
    names: list[str] = []
    try:
        with os.scandir(folder) as entries:
            for count, entry in enumerate(entries):
                if count >= MAX_ENTRIES_PER_FOLDER:
                    notes.append(
                        f"{folder}: more than {MAX_ENTRIES_PER_FOLDER} entries; the rest not looked at"
                    )
                    break
                if wanted(entry.name):
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            continue
                    except OSError:
                        continue
                    names.append(entry.name)
    except OSError as exc:
        notes.append(f"{folder}: cannot list ({exc.strerror or exc})")
    return sorted(names)


def _inside(path: Path, boundary: Path) -> Path | None:
    """The real path of `path` when it (after symlinks) lies inside `boundary`, else None."""
    real = Path(os.path.realpath(path))
    return real if real.is_relative_to(boundary) else None
