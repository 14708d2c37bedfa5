"""MMD models shipped as .zip: list the models inside and extract one safely into a cache.

Archives come from strangers, so extraction trusts nothing in them: names are checked
before anything is written, sizes are counted while decompressing (header sizes can lie),
nothing is written outside the cache directory, and a half-finished extraction is never
reused (it is built in a temporary folder and renamed into place when complete).

Japanese archives usually store names in Shift_JIS (cp932) without the UTF-8 flag; Python
then decodes them as cp437, so they are re-decoded here (see `decode_entry_name`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import struct
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from thagen.errors import ArchiveError
from thagen.model_files import MODEL_SUFFIXES

# Files worth extracting from outside the model's own folder: textures reached through '..'.
TEXTURE_SUFFIXES = (".png", ".bmp", ".jpg", ".jpeg", ".tga", ".dds", ".gif", ".tif", ".tiff", ".spa", ".sph")

DEFAULT_MAX_TOTAL_BYTES = 4 * 1024**3
DEFAULT_MAX_FILE_BYTES = 1024**3
DEFAULT_MAX_ENTRIES = 50_000
_CHUNK = 1 << 20
_COMPLETE_MARKER = ".thagen-extracted.json"
_UTF8_FLAG = 0x800
_UNICODE_PATH_EXTRA = 0x7075
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class Entry:
    """One archive member: the decoded, '/'-separated name and its ZipInfo."""

    name: str
    info: zipfile.ZipInfo

    @property
    def is_dir(self) -> bool:
        return self.name.endswith("/") or self.info.is_dir()

    @property
    def is_model(self) -> bool:
        return not self.is_dir and self.name.lower().endswith(MODEL_SUFFIXES)


def _unicode_path_extra(info: zipfile.ZipInfo, raw: bytes) -> str | None:
    """The Info-ZIP Unicode Path extra field (0x7075), if present and matching the raw name."""
    extra = info.extra
    pos = 0
    while pos + 4 <= len(extra):
        tag, size = struct.unpack_from("<HH", extra, pos)
        body = extra[pos + 4 : pos + 4 + size]
        pos += 4 + size
        if tag == _UNICODE_PATH_EXTRA and len(body) >= 5 and body[0] == 1:
            (crc,) = struct.unpack_from("<I", body, 1)
            if crc == zlib.crc32(raw):
                try:
                    return body[5:].decode("utf-8")
                except UnicodeDecodeError:
                    return None
    return None


def decode_entry_name(info: zipfile.ZipInfo) -> str:
    """The member's real name.

    With the UTF-8 flag (bit 11) Python already decoded it. Without it Python used cp437, so
    the raw bytes are recovered and decoded again: the Info-ZIP Unicode Path field if present,
    else UTF-8 when the bytes are valid UTF-8 (random Shift_JIS bytes rarely are, while UTF-8
    text often happens to be valid Shift_JIS), else cp932, else the cp437 reading.
    """
    name = info.filename
    if info.flag_bits & _UTF8_FLAG:
        return name
    try:
        raw = name.encode("cp437")
    except UnicodeEncodeError:  # decoded with a metadata_encoding by the caller
        return name
    unicode_extra = _unicode_path_extra(info, raw)
    if unicode_extra is not None:
        return unicode_extra
    if raw.isascii():
        return name
    for encoding in ("utf-8", "cp932"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return name


def _unsafe_reason(name: str) -> str | None:
    if "\x00" in name:
        return "contains a NUL character"
    if name.startswith("/"):
        return "is an absolute path"
    if _DRIVE.match(name):
        return "has a drive letter"
    if any(part == ".." for part in name.split("/")):
        return "has a '..' component"
    return None


def _open(zip_path: Path) -> zipfile.ZipFile:
    if not zip_path.is_file():
        raise ArchiveError(f"{zip_path}: no such file")
    try:
        return zipfile.ZipFile(zip_path)
    except zipfile.BadZipFile as exc:
        raise ArchiveError(f"{zip_path}: not a readable zip archive ({exc})") from exc
    except OSError as exc:
        raise ArchiveError(f"{zip_path}: cannot open ({exc.strerror or exc})") from exc


def _entries(zip_path: Path, zf: zipfile.ZipFile, max_entries: int = DEFAULT_MAX_ENTRIES) -> list[Entry]:
    """Every member with its decoded name; a hostile name anywhere rejects the whole archive."""
    infos = zf.infolist()
    if len(infos) > max_entries:
        raise ArchiveError(f"{zip_path}: {len(infos)} entries, more than the limit of {max_entries}")
    entries = []
    for info in infos:
        name = decode_entry_name(info).replace("\\", "/")
        reason = _unsafe_reason(name)
        if reason:
            raise ArchiveError(f"{zip_path}: unsafe entry {name!r} {reason}")
        while name.startswith("./"):
            name = name[2:]
        entries.append(Entry(name, info))
    return entries


def list_models(zip_path: str | Path) -> list[str]:
    """Names (decoded, '/'-separated) of the .pmx/.pmd models inside, in archive order."""
    zip_path = Path(zip_path)
    with _open(zip_path) as zf:
        return [e.name for e in _entries(zip_path, zf) if e.is_model]


def _choose(zip_path: Path, models: list[Entry], member: str | None) -> Entry:
    names = [m.name for m in models]
    listing = ", ".join(repr(n) for n in names)
    if not models:
        raise ArchiveError(f"{zip_path}: no .pmx or .pmd (nor .vrm / .glb / .gltf) model inside")
    if member is None:
        if len(models) == 1:
            return models[0]
        raise ArchiveError(f"{zip_path}: holds {len(models)} models, choose one with --member: {listing}")
    wanted = member.replace("\\", "/").strip("/")
    for test in (
        lambda m: m.name == wanted,
        lambda m: m.name.casefold() == wanted.casefold(),
        lambda m: PurePosixPath(m.name).name == wanted,
        lambda m: PurePosixPath(m.name).name.casefold() == wanted.casefold(),
    ):
        hits = [m for m in models if test(m)]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise ArchiveError(
                f"{zip_path}: member {member!r} is ambiguous, give the full path: "
                + ", ".join(repr(h.name) for h in hits)
            )
    raise ArchiveError(f"{zip_path}: no model {member!r} inside; models: {listing}")


def choose_member(zip_path: str | Path, member: str | None = None) -> str:
    """The archive path of the model `extract_model` would extract (ArchiveError if none or unclear)."""
    zip_path = Path(zip_path)
    with _open(zip_path) as zf:
        return _choose(zip_path, [e for e in _entries(zip_path, zf) if e.is_model], member).name


def _wanted(entries: list[Entry], model: Entry) -> list[Entry]:
    """The model, everything in its folder tree, and textures elsewhere (reached via '..')."""
    folder = str(PurePosixPath(model.name).parent)
    prefix = "" if folder == "." else folder + "/"
    chosen: dict[str, Entry] = {}
    for e in entries:
        if e.is_dir or (e.is_model and e is not model):
            continue
        if e is model or e.name.startswith(prefix) or e.name.lower().endswith(TEXTURE_SUFFIXES):
            chosen[e.name] = e  # a repeated name: the last copy wins, as in zipfile.getinfo
    return list(chosen.values())


def default_cache_dir() -> Path:
    """Per-user archive cache: $XDG_CACHE_HOME/thagen/archives (default ~/.cache/thagen/archives)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "thagen" / "archives"


def _cache_key(zip_path: Path, member: str) -> str:
    st = zip_path.stat()
    text = f"{zip_path.resolve()}\0{st.st_size}\0{st.st_mtime_ns}\0{member}"
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:24]


def _inside(root: Path, target: Path) -> bool:
    root_s = os.path.realpath(root)
    return os.path.commonpath([root_s, os.path.realpath(target)]) == root_s


def _extract_entries(
    zip_path: Path,
    zf: zipfile.ZipFile,
    entries: list[Entry],
    dest: Path,
    max_total_bytes: int,
    max_file_bytes: int,
) -> None:
    declared = sum(e.info.file_size for e in entries)
    if declared > max_total_bytes:
        raise ArchiveError(
            f"{zip_path}: {declared} bytes uncompressed, more than the limit of {max_total_bytes}"
        )
    total = 0
    for e in entries:
        mode = e.info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise ArchiveError(f"{zip_path}: entry {e.name!r} is a symbolic link")
        if e.info.file_size > max_file_bytes:
            raise ArchiveError(
                f"{zip_path}: entry {e.name!r} is {e.info.file_size} bytes, more than the limit of {max_file_bytes}"
            )
        target = dest.joinpath(*[p for p in e.name.split("/") if p not in ("", ".")])
        if not _inside(dest, target.parent) or target == dest:
            raise ArchiveError(f"{zip_path}: entry {e.name!r} would be written outside the cache directory")
        target.parent.mkdir(parents=True, exist_ok=True)
        if not _inside(dest, target.parent):
            raise ArchiveError(f"{zip_path}: entry {e.name!r} would be written outside the cache directory")
        size = 0
        with zf.open(e.info) as src, open(target, "xb") as out:
            while chunk := src.read(_CHUNK):
                size += len(chunk)
                total += len(chunk)
                if size > max_file_bytes:
                    raise ArchiveError(
                        f"{zip_path}: entry {e.name!r} decompresses past the per-file limit of {max_file_bytes} bytes"
                    )
                if total > max_total_bytes:
                    raise ArchiveError(
                        f"{zip_path}: decompressing past the total limit of {max_total_bytes} bytes (at {e.name!r})"
                    )
                out.write(chunk)


def extract_model(
    zip_path: str | Path,
    *,
    member: str | None = None,
    cache_dir: str | Path | None = None,
    max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    max_entries: int = DEFAULT_MAX_ENTRIES,
) -> Path:
    """Extract one model and its textures; return the extracted model's path.

    The model's folder tree is kept as in the archive, so relative texture paths still work.
    Extraction goes to `cache_dir/<key>/` (default `default_cache_dir()`), where the key
    hashes the archive's path, size, mtime and the chosen member; a complete extraction is
    reused. `member` is an exact path inside the archive or a unique file name; it is needed
    only when the archive holds several models.
    """
    zip_path = Path(zip_path)
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    with _open(zip_path) as zf:
        entries = _entries(zip_path, zf, max_entries)
        model = _choose(zip_path, [e for e in entries if e.is_model], member)
        final = root / _cache_key(zip_path, model.name)
        model_path = final.joinpath(*model.name.split("/"))
        if (final / _COMPLETE_MARKER).is_file() and model_path.is_file():
            return model_path
        try:
            root.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=".tmp-" + final.name + "-", dir=root))
        except OSError as exc:
            raise ArchiveError(f"{zip_path}: cannot create the cache directory {root} ({exc})") from exc
        try:
            _extract_entries(zip_path, zf, _wanted(entries, model), tmp, max_total_bytes, max_file_bytes)
            marker = {"archive": str(zip_path.resolve()), "member": model.name}
            (tmp / _COMPLETE_MARKER).write_text(json.dumps(marker, ensure_ascii=False), encoding="utf-8")
            if final.exists():  # a stale incomplete folder, or another process finished first
                if (final / _COMPLETE_MARKER).is_file():
                    shutil.rmtree(tmp, ignore_errors=True)
                    return model_path
                shutil.rmtree(final)
            os.replace(tmp, final)
        except ArchiveError:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise ArchiveError(f"{zip_path}: corrupt or unsupported archive ({exc})") from exc
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            if final.is_dir() and (final / _COMPLETE_MARKER).is_file():
                return model_path  # lost a rename race to a complete extraction
            raise ArchiveError(f"{zip_path}: extraction failed ({exc})") from exc
    return model_path
