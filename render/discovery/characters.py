"""Characters: stable ids, discovery of model files, and the split each one belongs to.

An id comes from the model file itself, never from its place in a list, so adding, removing or
reordering characters changes no other character's id, split or poses:

    <ascii slug of the model's file stem>-<first 8 hex of a sha256>

The sha256 is of the model file's bytes; for a model inside a zip, of the member's
(decompressed) bytes. So the same model loose and zipped, or in two zips, is one character.
Ids hold only [a-z0-9-], so never '.' or '/' (shard keys rely on that).
"""

from __future__ import annotations

import glob as globlib
import hashlib
import logging
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from thagen.model_files import ARCHIVE_SUFFIXES, MODEL_SUFFIXES
from thagen.render.discovery import hash_cache

log = logging.getLogger(__name__)

ID_HEX = 8
SLUG_MAX = 40
BUILTIN_STEM = "builtin"
_NON_SLUG = re.compile(r"[^a-z0-9]+")
_ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")

_sha_cache: dict[tuple[str, int, int], str] = {}


def slugify(text: str, fallback: str = "model") -> str:
    """ASCII slug: accents folded, everything else to '-', at most SLUG_MAX characters."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    slug = _NON_SLUG.sub("-", folded).strip("-")[:SLUG_MAX].strip("-")
    return slug or fallback


def is_valid_id(character_id: str) -> bool:
    return bool(_ID_RE.match(character_id))


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes, cached per process by (path, size, mtime)."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _sha_cache:
        stored = hash_cache.lookup(*key)
        if stored is None:
            h = hashlib.sha256()
            with open(path, "rb") as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
            stored = h.hexdigest()
            hash_cache.store(*key, stored)
        _sha_cache[key] = stored
    return _sha_cache[key]


def member_sha256(zip_path: Path, member: str) -> str:
    """sha256 of one zip member's bytes (streamed, size-capped), cached by (zip, size, mtime, member).

    `member` is the decoded name `thagen.rigs.formats.archive.list_models` gives.
    """
    import zipfile

    from thagen.errors import ArchiveError
    from thagen.rigs.formats.archive import DEFAULT_MAX_FILE_BYTES, decode_entry_name

    st = zip_path.stat()
    key = (f"{zip_path.resolve()}\0{member}", st.st_size, st.st_mtime_ns)
    if key in _sha_cache:
        return _sha_cache[key]
    stored = hash_cache.lookup(*key)
    if stored is not None:
        _sha_cache[key] = stored
        return stored
    try:
        with zipfile.ZipFile(zip_path) as zf:
            infos = [
                i
                for i in zf.infolist()
                if decode_entry_name(i).replace("\\", "/").removeprefix("./") == member
            ]
            if not infos:
                raise ArchiveError(f"{zip_path}: no member {member!r}")
            h = hashlib.sha256()
            size = 0
            with zf.open(infos[-1]) as f:  # a repeated name: the last copy, as zipfile.getinfo
                while chunk := f.read(1 << 20):
                    size += len(chunk)
                    if size > DEFAULT_MAX_FILE_BYTES:
                        raise ArchiveError(
                            f"{zip_path}: {member!r} decompresses past {DEFAULT_MAX_FILE_BYTES} bytes"
                        )
                    h.update(chunk)
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as exc:
        raise ArchiveError(f"{zip_path}: cannot read {member!r} ({exc})") from exc
    _sha_cache[key] = h.hexdigest()
    hash_cache.store(*key, _sha_cache[key])
    return _sha_cache[key]


def make_id(stem: str, sha: str, hex_digits: int = ID_HEX) -> str:
    return f"{slugify(stem)}-{sha[:hex_digits]}"


@dataclass(frozen=True)
class ModelRef:
    """One discovered model: where it is, its content hash and its id."""

    id: str
    sha256: str
    path: Path | None  # the .pmx/.pmd, or the .zip holding it; None for the built-in character
    member: str | None = None  # name inside the zip
    builtin: bool = False
    entry: int = -1  # index of the manifest's characters entry that found it

    def describe(self) -> str:
        if self.builtin:
            return "the built-in character"
        return f"{self.path}:{self.member}" if self.member else str(self.path)

    def with_id(self, new_id: str) -> ModelRef:
        return ModelRef(new_id, self.sha256, self.path, self.member, self.builtin, self.entry)


def ref_for_file(path: Path, entry: int = -1) -> ModelRef:
    sha = file_sha256(path)
    return ModelRef(make_id(path.stem, sha), sha, path, entry=entry)


def refs_for_zip(zip_path: Path, member: str | None = None, entry: int = -1) -> list[ModelRef]:
    """Every model in a zip (archive order), or the one named `member`."""
    from thagen.rigs.formats.archive import list_models

    names = list_models(zip_path)
    if member is not None:
        wanted = member.replace("\\", "/").strip("/")
        hits = [n for n in names if n == wanted] or [n for n in names if Path(n).name == wanted]
        if len(hits) != 1:
            from thagen.errors import ArchiveError

            problem = "is ambiguous" if hits else "is not a model inside"
            raise ArchiveError(
                f"{zip_path}: member {member!r} {problem}; models: {', '.join(map(repr, names))}"
            )
        names = hits
    refs = []
    for name in names:
        sha = member_sha256(zip_path, name)
        stem = Path(name).stem
        slug = slugify(stem, fallback="")
        refs.append(ModelRef(make_id(slug or zip_path.stem, sha), sha, zip_path, name, entry=entry))
    return refs


_builtin_cache: list[ModelRef] = []
_builtin_file: list[Path] = []


def builtin_model_file() -> Path:
    """The built-in character's PMX (and textures), written once per process.

    Both the id (its hash) and the render (Blender needs texture files) use this one copy; the
    folder is removed when the process exits.
    """
    if not _builtin_file:
        import atexit
        import shutil

        from thagen.rigs.builtin import write_builtin_character

        folder = Path(tempfile.mkdtemp(prefix="thagen-builtin-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        _builtin_file.append(write_builtin_character(folder))
    return _builtin_file[0]


def builtin_ref(entry: int = -1) -> ModelRef:
    """The built-in character; its id hashes the PMX file `builtin_model_file` holds."""
    if not _builtin_cache:
        sha = hashlib.sha256(builtin_model_file().read_bytes()).hexdigest()
        _builtin_cache.append(ModelRef(make_id(BUILTIN_STEM, sha), sha, None, builtin=True))
    ref = _builtin_cache[0]
    return ModelRef(ref.id, ref.sha256, None, builtin=True, entry=entry)


def glob_models(pattern: str, base_dir: Path) -> list[Path]:
    """Model files and zips matching a glob (`**` recurses), relative patterns from base_dir; sorted."""
    if os.path.isabs(pattern):
        hits = globlib.glob(pattern, recursive=True)
    else:
        hits = [os.path.join(base_dir, h) for h in globlib.glob(pattern, root_dir=base_dir, recursive=True)]
    wanted = MODEL_SUFFIXES + ARCHIVE_SUFFIXES
    return sorted(Path(h) for h in hits if h.lower().endswith(wanted) and os.path.isfile(h))


def refs_for_path(path: Path, entry: int = -1, member: str | None = None) -> list[ModelRef]:
    if path.suffix.lower() in ARCHIVE_SUFFIXES:
        return refs_for_zip(path, member, entry)
    return [ref_for_file(path, entry)]


def dedupe(refs: Iterable[ModelRef]) -> list[ModelRef]:
    """One ref per content hash (the first wins, with a warning); distinct files sharing an id
    (same slug, same first 8 hex) get 16 hex digits instead."""
    seen: dict[str, ModelRef] = {}
    for ref in refs:
        first = seen.get(ref.sha256)
        if first is not None:
            log.warning(
                "%s is the same model as %s (id %s); using it once",
                ref.describe(),
                first.describe(),
                first.id,
            )
            continue
        seen[ref.sha256] = ref
    unique = list(seen.values())
    by_id: dict[str, list[ModelRef]] = {}
    for ref in unique:
        by_id.setdefault(ref.id, []).append(ref)
    out = []
    for ref in unique:
        if len(by_id[ref.id]) > 1:
            stem = ref.id.rsplit("-", 1)[0]
            longer = f"{stem}-{ref.sha256[: 2 * ID_HEX]}"
            log.warning("id %s is shared by different models; %s gets id %s", ref.id, ref.describe(), longer)
            ref = ref.with_id(longer)
        out.append(ref)
    return out


def split_fraction(seed: int, character_id: str) -> float:
    """A character's place in [0, 1): sha256 of (seed, id). Independent of every other character."""
    digest = hashlib.sha256(f"thagen-split\0{seed}\0{character_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def split_by_ratio(seed: int, character_id: str, ratios: Mapping[str, float]) -> str:
    """The split whose slice of [0, 1) holds the character.

    Ratios are normalized; the slices follow the split names in sorted order, so writing the
    splits in another order (or a YAML dump sorting keys) assigns nobody differently.
    """
    total = float(sum(ratios.values()))
    if total <= 0:
        raise ValueError("split ratios must add up to more than 0")
    u = split_fraction(seed, character_id)
    acc = 0.0
    last = None
    for name, ratio in sorted(ratios.items()):
        if ratio <= 0:
            continue
        last = name
        acc += ratio / total
        if u < acc:
            return name
    assert last is not None
    return last  # u just below 1 with rounding in acc


def distribute_exactly(total: int, ids: Sequence[str]) -> dict[str, int]:
    """Spread `total` poses over characters: total // n each, and one more for the first
    total % n ids in sorted order. The counts add up to `total` exactly."""
    if not ids:
        return {}
    base, extra = divmod(total, len(ids))
    return {cid: base + (1 if i < extra else 0) for i, cid in enumerate(sorted(ids))}
