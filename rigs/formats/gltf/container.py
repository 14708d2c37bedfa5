"""glTF 2.0 container: GLB / .gltf parsing, buffers, accessors, images and the node tree.

Hand-written rather than pygltflib (see README, Dependencies): every number in a hostile
file is checked before it sizes an allocation or indexes a buffer, and every failure is one
`ModelFormatError` naming the file, the JSON field (``accessors[3].count``) and, for GLB
framing, the byte offset. Accessors are decoded in rigs/formats/gltf/accessors.py (one numpy
view per accessor, then copied, so a result never aliases the file's bytes).

External resources: a buffer or image URI may only name a file inside the model's own
folder (no absolute paths, no scheme, no ``..``, no symlink leading out); ``data:`` URIs are
decoded up to `MAX_DATA_URI_BYTES`. Reading from bytes alone (no folder) refuses external files.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import numpy as np

from thagen.errors import ModelFormatError
from thagen.rigs.formats.gltf.accessors import (  # noqa: F401 - MAX_ELEMENTS etc. re-exported
    COMPONENT_DTYPES,
    MAX_ELEMENTS,
    TYPE_WIDTHS,
    read_accessor,
)

GLB_MAGIC = b"glTF"
CHUNK_JSON = 0x4E4F534A
CHUNK_BIN = 0x004E4942
MAX_JSON_BYTES = 64 * 1024**2
MAX_DATA_URI_BYTES = 256 * 1024**2
MAX_BUFFER_BYTES = 2 * 1024**3
MAX_NODES = 100_000
DECODE_FACTOR = 16  # arrays decoded from a model may total this many times its size ...
DECODE_SLACK = 64 * 1024**2  # ... plus this (zero-filled sparse accessors, small files)
MAX_COORDINATE = 1e9  # metres; anything larger is hostile and would overflow float32 in MMD units

# extensions a file may require that do not change how geometry is stored (or that thagen reads)
HANDLED_REQUIRED = (
    "KHR_texture_transform",
    "KHR_materials_unlit",
    "KHR_mesh_quantization",
    "KHR_materials_emissive_strength",
)


def looks_like_gltf(data: bytes) -> bool:
    """GLB magic, or text that starts (after whitespace / BOM) with a JSON object."""
    if data[:4] == GLB_MAGIC:
        return True
    head = data[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head[:1] == b"{"


@dataclass
class Gltf:
    """A parsed glTF document: its JSON and how to reach its binary data."""

    name: str  # the file, for error messages
    doc: dict[str, Any]
    bin_chunk: bytes | None = None
    base_dir: Path | None = None  # the model's folder; None refuses external files
    input_bytes: int = 0  # the file's size (plus external buffers once read): sizes the decode budget
    _buffers: dict[int, bytes] = field(default_factory=dict)
    _decoded: int = 0

    def charge(self, nbytes: int, where: str) -> None:
        """Count bytes about to be decoded; refuse files that would decode to far more than they hold.

        Many accessors, images or expressions pointing at the same data would otherwise turn a
        small file into gigabytes of arrays (amplification); a real model decodes to a small
        multiple of its own size.
        """
        self._decoded += int(nbytes)
        budget = DECODE_FACTOR * self.input_bytes + DECODE_SLACK
        if self._decoded > budget:
            raise self.error(
                f"decoding would need over {budget:,} bytes for a {self.input_bytes:,} byte model", where
            )

    def error(self, message: str, where: str, offset: int | None = None) -> ModelFormatError:
        return ModelFormatError(message, path=self.name, field=where, offset=offset)

    # ----- typed JSON access

    def array(self, key: str) -> list[Any]:
        value = self.doc.get(key, [])
        if not isinstance(value, list):
            raise self.error(f"must be an array, not {type(value).__name__}", key)
        return value

    def index(self, key: str, index: object, where: str) -> int:
        """`index` checked as an index into `doc[key]` (named by `where`)."""
        items = self.array(key)
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(items):
            raise self.error(f"{key} index {index!r} out of range ({len(items)} {key})", where)
        return index

    def item(self, key: str, index: object, where: str) -> dict[str, Any]:
        """`doc[key][index]` as an object, with `index` checked (named by `where`)."""
        index = self.index(key, index, where)
        value = self.array(key)[index]
        if not isinstance(value, dict):
            raise self.error("must be an object", f"{key}[{index}]")
        return value

    def obj(self, value: object, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.error(f"must be an object, not {type(value).__name__}", where)
        return value

    def number(self, obj: dict, key: str, where: str) -> float | None:
        if key not in obj:
            return None
        value = obj[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
            raise self.error("must be a finite number", f"{where}.{key}")
        return float(value)

    def integer(self, obj: dict, key: str, where: str, *, default: int | None = None, low: int = 0) -> int:
        value = obj.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(f"must be an integer, not {value!r}"[:120], f"{where}.{key}")
        if value < low:
            raise self.error(f"must be >= {low}, got {value}", f"{where}.{key}")
        return value

    # ----- buffers

    def buffer(self, index: int, where: str) -> bytes:
        if index in self._buffers:
            return self._buffers[index]
        buf = self.item("buffers", index, where)
        here = f"buffers[{index}]"
        length = self.integer(buf, "byteLength", here)
        if length > MAX_BUFFER_BYTES:
            raise self.error(
                f"{length} bytes is over the {MAX_BUFFER_BYTES} byte limit", f"{here}.byteLength"
            )
        uri = buf.get("uri")
        if uri is None:
            if index != 0 or self.bin_chunk is None:
                raise self.error("has no uri and there is no GLB BIN chunk for it", here)
            data = self.bin_chunk
        else:
            data = self.resource(uri, f"{here}.uri", length)
        if len(data) < length:
            raise self.error(f"holds {len(data)} bytes, byteLength says {length}", f"{here}.byteLength")
        if uri is not None:
            self.input_bytes += len(data)
        self._buffers[index] = data
        return data

    def resource(self, uri: object, where: str, limit: int) -> bytes:
        """Bytes of a data: URI or of a file inside the model's folder (at most `limit` + 1 read)."""
        if not isinstance(uri, str):
            raise self.error("must be a string", where)
        if uri.startswith("data:"):
            header, comma, payload = uri.partition(",")
            if not comma or not header.endswith(";base64"):
                raise self.error("data: URI is not base64", where)
            if len(payload) > (MAX_DATA_URI_BYTES // 3 + 1) * 4:
                raise self.error(f"data: URI over the {MAX_DATA_URI_BYTES} byte limit", where)
            try:
                return base64.b64decode(payload, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise self.error(f"bad base64 in data: URI ({exc})", where) from exc
        path = self._local_file(uri, where)
        try:
            size = path.stat().st_size
            if size > limit:
                raise self.error(f"{path.name} is {size} bytes, more than the {limit} expected", where)
            return path.read_bytes()
        except OSError as exc:
            raise self.error(f"cannot read {uri!r} ({exc.strerror or exc})", where) from exc

    def _local_file(self, uri: str, where: str) -> Path:
        if self.base_dir is None:
            raise self.error(f"external file {uri[:80]!r} cannot be read without the model's folder", where)
        text = unquote(uri)
        if "\x00" in text or len(text) > 1024:
            raise self.error("is not a usable file name", where)
        if ":" in text.split("/")[0] or text.startswith(("/", "\\")):
            raise self.error(f"absolute path or URL {text[:80]!r} is not allowed", where)
        parts = text.replace("\\", "/").split("/")
        if ".." in parts:
            raise self.error(f"path {text[:80]!r} leaves the model's folder ('..')", where)
        base = self.base_dir.resolve()
        path = (base / "/".join(p for p in parts if p not in ("", "."))).resolve()
        if base not in path.parents:
            raise self.error(f"path {text[:80]!r} resolves outside the model's folder", where)
        return path

    def view(self, index: int, where: str) -> tuple[bytes, int, int, int | None]:
        """(buffer bytes, start, length, stride or None) of bufferViews[index], bounds checked."""
        bv = self.item("bufferViews", index, where)
        here = f"bufferViews[{index}]"
        buf_index = self.integer(bv, "buffer", here)
        data = self.buffer(buf_index, f"{here}.buffer")
        start = self.integer(bv, "byteOffset", here, default=0)
        length = self.integer(bv, "byteLength", here, low=1)
        buf_len = self.integer(self.item("buffers", buf_index, here), "byteLength", f"buffers[{buf_index}]")
        if start + length > min(buf_len, len(data)):
            raise self.error(
                f"bytes {start}..{start + length} run past buffer {buf_index} ({buf_len} bytes)", here
            )
        stride = bv.get("byteStride")
        if stride is not None:
            stride = self.integer(bv, "byteStride", here, low=4)
            if stride > 252 or stride % 4:
                raise self.error(
                    f"byteStride {stride} is not a multiple of 4 in 4..252", f"{here}.byteStride"
                )
        return data, start, length, stride

    # ----- accessors (decoded in rigs/formats/gltf/accessors.py)

    def accessor(
        self, index: object, where: str, *, types: tuple[str, ...] | None = None, count: int | None = None
    ) -> np.ndarray:
        """accessors[index] as an (count, width) array (float32 for floats and normalized ints).

        `count`: the element count the caller needs (checked before anything is allocated).
        """
        return read_accessor(self, index, where, types=types, count=count)

    # ----- images

    def image_bytes(self, index: int, where: str) -> tuple[bytes, str]:
        """(encoded bytes, mime type) of images[index]."""
        img = self.item("images", index, where)
        here = f"images[{index}]"
        mime = img.get("mimeType", "")
        if not isinstance(mime, str):
            raise self.error("must be a string", f"{here}.mimeType")
        if "bufferView" in img:
            data, start, length, _ = self.view(self.integer(img, "bufferView", here), f"{here}.bufferView")
            self.charge(length, here)
            return bytes(data[start : start + length]), mime
        if "uri" in img:
            data = self.resource(img["uri"], f"{here}.uri", MAX_BUFFER_BYTES)
            self.charge(len(data), here)
            return data, mime
        raise self.error("has neither bufferView nor uri", here)

    def numbers(self, value: object, size: int, where: str) -> np.ndarray:
        if (
            not isinstance(value, list)
            or len(value) != size
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        ):
            raise self.error(f"must be an array of {size} numbers", where)
        out = np.asarray(value, np.float64)
        if not np.isfinite(out).all():
            raise self.error("holds a non-finite number", where)
        return out


def parse_gltf(data: bytes, name: str, base_dir: Path | None = None) -> Gltf:
    """GLB or .gltf bytes -> `Gltf`; GLB framing (lengths, chunk types) is checked byte by byte."""
    bin_chunk: bytes | None = None
    if data[:4] == GLB_MAGIC:
        if len(data) < 20:
            raise ModelFormatError("GLB header truncated", path=name, offset=len(data), field="header")
        _, version, total = struct.unpack_from("<4sII", data, 0)
        if version != 2:
            raise ModelFormatError(
                f"GLB version {version}, only 2 is read", path=name, offset=4, field="version"
            )
        if total != len(data):
            raise ModelFormatError(
                f"header says {total} bytes, the file has {len(data)}", path=name, offset=8, field="length"
            )
        offset = 12
        chunks: list[tuple[int, int, bytes]] = []
        while offset < total:
            if offset + 8 > total:
                raise ModelFormatError("chunk header truncated", path=name, offset=offset, field="chunk")
            length, ctype = struct.unpack_from("<II", data, offset)
            if offset + 8 + length > total:
                raise ModelFormatError(
                    f"chunk length {length} runs past the end ({total - offset - 8} bytes left)",
                    path=name,
                    offset=offset,
                    field="chunkLength",
                )
            chunks.append((offset, ctype, data[offset + 8 : offset + 8 + length]))
            offset += 8 + length
        if not chunks or chunks[0][1] != CHUNK_JSON:
            raise ModelFormatError("the first chunk is not JSON", path=name, offset=12, field="chunkType")
        text = chunks[0][2]
        for off, ctype, payload in chunks[1:]:
            if ctype == CHUNK_JSON:
                raise ModelFormatError("a second JSON chunk", path=name, offset=off, field="chunkType")
            if ctype == CHUNK_BIN:
                if bin_chunk is not None:
                    raise ModelFormatError("a second BIN chunk", path=name, offset=off, field="chunkType")
                bin_chunk = payload
    else:
        text = data
    if len(text) > MAX_JSON_BYTES:
        raise ModelFormatError(f"JSON over the {MAX_JSON_BYTES} byte limit", path=name, field="JSON")
    try:
        doc = json.loads(text.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ModelFormatError(f"JSON does not parse ({str(exc)[:100]})", path=name, field="JSON") from exc
    if not isinstance(doc, dict):
        raise ModelFormatError(f"JSON is a {type(doc).__name__}, not an object", path=name, field="JSON")
    asset = doc.get("asset")
    if not isinstance(asset, dict) or not str(asset.get("version", "")).startswith("2"):
        raise ModelFormatError("not glTF 2.x (asset.version)", path=name, field="asset.version")
    required = doc.get("extensionsRequired", [])
    if not isinstance(required, list):
        raise ModelFormatError("must be an array", path=name, field="extensionsRequired")
    unknown = [str(e)[:40] for e in required if e not in HANDLED_REQUIRED]
    if unknown:
        raise ModelFormatError(
            f"needs {', '.join(unknown)}, which thagen does not read (compressed or unusual data)",
            path=name,
            field="extensionsRequired",
        )
    return Gltf(name=name, doc=doc, bin_chunk=bin_chunk, base_dir=base_dir, input_bytes=len(data))


def folder_of(path: str | os.PathLike | None) -> Path | None:
    return Path(path).parent if path is not None else None
