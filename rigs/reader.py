"""Read any supported model file (PMX, PMD, VRM / glTF, or a .zip holding one) into a `Model`.

The format is chosen by the file's magic bytes, never by its extension (except `.zip`).
Every problem with the file becomes a `ModelFormatError` naming it, including a missing or
unreadable file (the OSError is chained), so callers and the CLI need to catch one class.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

from thagen.errors import ModelFormatError
from thagen.rigs.model import Model

# exceptions a corrupt file might still raise from deep inside numpy / struct; every one of
# them becomes a ModelFormatError (these are a safety net: the parsers check explicitly first)
_CONVERTED = (struct.error, ValueError, IndexError, OverflowError, UnicodeError)
SAFETY_NET_PREFIX = "unexpected parse failure"


def read_model_bytes(data: bytes, *, name: str = "<bytes>", base_dir: Path | None = None) -> Model:
    """Parse PMX, PMD or VRM / glTF bytes; `name` is used in error messages.

    `base_dir` (the model's folder) lets a .gltf read its external buffers and images.
    """
    from functools import partial

    from thagen.rigs.formats.gltf.container import looks_like_gltf
    from thagen.rigs.formats.pmd import MAGIC as PMD_MAGIC
    from thagen.rigs.formats.pmd import read_pmd
    from thagen.rigs.formats.pmx.reader import MAGIC as PMX_MAGIC
    from thagen.rigs.formats.pmx.reader import read_pmx

    data = bytes(data)
    parse: Callable[[bytes, str], Model]
    if data[:4] == PMX_MAGIC:
        parse = read_pmx
    elif data[:3] == PMD_MAGIC:
        parse = read_pmd
    elif looks_like_gltf(data):
        from thagen.rigs.formats.vrm.reader import read_vrm

        parse = partial(read_vrm, base_dir=base_dir)
    else:
        raise ModelFormatError(
            f"not a PMX or PMD file, nor VRM / glTF (starts with {data[:4]!r})",
            path=name,
            offset=0,
            field="magic",
        )
    try:
        return parse(data, name)
    except ModelFormatError:
        raise
    except _CONVERTED as exc:
        raise ModelFormatError(f"{SAFETY_NET_PREFIX}: {type(exc).__name__}: {exc}", path=name) from exc
    except RecursionError as exc:
        raise ModelFormatError(f"{SAFETY_NET_PREFIX}: nesting too deep", path=name) from exc
    except MemoryError as exc:
        raise ModelFormatError(f"{SAFETY_NET_PREFIX}: out of memory", path=name) from exc


def read_model(path: str | Path, *, member: str | None = None, cache_dir: Path | None = None) -> Model:
    """Read a .pmx/.pmd/.vrm/.glb/.gltf file, or the model inside a .zip (extracted with its textures to a cache).

    Raises ModelFormatError for anything wrong with the file, including a missing file;
    a .zip's own problems raise ArchiveError (from thagen.rigs.formats.archive).
    """
    path = Path(path)
    if path.suffix.lower() == ".zip":
        from thagen.rigs.formats.archive import extract_model

        path = extract_model(path, member=member, cache_dir=cache_dir)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelFormatError(f"cannot read the model file ({exc.strerror or exc})", path=path) from exc
    model = read_model_bytes(data, name=str(path), base_dir=path.parent)
    model.source_path = path
    return model


def count_fields(data: bytes) -> list[tuple[int, int, str]]:
    """(offset, size, field) of every count and text length a parse of `data` reads.

    For fuzzers: these are the fields that size allocations. A file that fails to parse
    gives the fields read before the failure.
    """
    from thagen.rigs.formats.pmd import MAGIC as PMD_MAGIC
    from thagen.rigs.formats.pmd import read_pmd
    from thagen.rigs.formats.pmx.reader import read_pmx

    trace: list[tuple[int, int, str]] = []
    parse = read_pmd if bytes(data[:3]) == PMD_MAGIC else read_pmx
    try:
        parse(bytes(data), "<trace>", trace=trace)
    except (ModelFormatError, *_CONVERTED):
        pass
    return trace
