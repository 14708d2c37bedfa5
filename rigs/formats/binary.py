"""A bounds-checked little-endian cursor over a model file's bytes.

Every read names the field it is for, so a truncated or lying file fails with a
`ModelFormatError` that says which file, which byte and which field. Counts are checked
against the bytes left before anything is allocated for them, so a hostile count cannot
make the reader allocate memory the file could not back.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from thagen.errors import ModelFormatError

U8 = struct.Struct("<B")
I8 = struct.Struct("<b")
U16 = struct.Struct("<H")
I16 = struct.Struct("<h")
I32 = struct.Struct("<i")
U32 = struct.Struct("<I")
F32 = struct.Struct("<f")

# (struct code, numpy dtype) per (index size, signed)
_INDEX_FORMATS: dict[tuple[int, bool], tuple[str, str]] = {
    (1, True): ("b", "i1"),
    (2, True): ("h", "<i2"),
    (4, True): ("i", "<i4"),
    (1, False): ("B", "u1"),
    (2, False): ("H", "<u2"),
    (4, False): ("i", "<i4"),  # PMX: 4-byte vertex indices are signed too
}


def index_code(size: int, signed: bool) -> str:
    """struct code for a PMX index of this size (vertex indices are unsigned below 4 bytes)."""
    return _INDEX_FORMATS[(size, signed)][0]


def index_dtype(size: int, signed: bool) -> np.dtype:
    """numpy dtype for a PMX index of this size."""
    return np.dtype(_INDEX_FORMATS[(size, signed)][1])


class Cursor:
    """Reads little-endian values from `data`, starting at `pos`; never reads past the end."""

    __slots__ = ("data", "pos", "end", "path", "trace")

    def __init__(
        self, data: bytes, path: str | Path | None = None, pos: int = 0, trace: list | None = None
    ) -> None:
        self.data = data
        self.pos = pos
        self.end = len(data)
        self.path = str(path) if path is not None else None
        # when a list: every count and text length read is appended as (offset, size, field),
        # so fuzzers can aim at the fields that size allocations
        self.trace = trace

    # errors ---------------------------------------------------------------------------
    def error(self, message: str, field: str | None = None, offset: int | None = None) -> ModelFormatError:
        """A ModelFormatError for this file at `offset` (default: the current position)."""
        return ModelFormatError(
            message, path=self.path, offset=self.pos if offset is None else offset, field=field
        )

    @property
    def remaining(self) -> int:
        return self.end - self.pos

    def need(self, n: int, field: str) -> int:
        """Check that `n` bytes are left; return the current position (the bytes' start)."""
        if n < 0 or n > self.end - self.pos:
            raise self.error(f"truncated: needs {n} bytes, {self.end - self.pos} left", field)
        return self.pos

    def skip(self, n: int, field: str) -> None:
        self.need(n, field)
        self.pos += n

    # scalars ----------------------------------------------------------------------------
    def unpack(self, fmt: struct.Struct, field: str) -> tuple:
        """Unpack a precompiled struct at the cursor and advance past it."""
        pos = self.pos
        if fmt.size > self.end - pos:
            raise self.error(f"truncated: needs {fmt.size} bytes, {self.end - pos} left", field)
        self.pos = pos + fmt.size
        return fmt.unpack_from(self.data, pos)

    def u8(self, field: str) -> int:
        return self.unpack(U8, field)[0]

    def i8(self, field: str) -> int:
        return self.unpack(I8, field)[0]

    def u16(self, field: str) -> int:
        return self.unpack(U16, field)[0]

    def i32(self, field: str) -> int:
        return self.unpack(I32, field)[0]

    def u32(self, field: str) -> int:
        return self.unpack(U32, field)[0]

    def f32(self, field: str) -> float:
        return self.unpack(F32, field)[0]

    def raw(self, n: int, field: str) -> bytes:
        start = self.need(n, field)
        self.pos = start + n
        return bytes(self.data[start : start + n])

    def enum(self, fmt: struct.Struct, allowed: range | tuple[int, ...], field: str) -> int:
        """Read one integer that must be one of `allowed` (unknown values are errors)."""
        start = self.pos
        value = self.unpack(fmt, field)[0]
        if value not in allowed:
            raise self.error(f"unknown value {value}", field, offset=start)
        return value

    # arrays -------------------------------------------------------------------------------
    def floats(self, n: int, field: str) -> np.ndarray:
        """n float32 values as a fresh (n,) array."""
        start = self.need(4 * n, field)
        self.pos = start + 4 * n
        return np.frombuffer(self.data, "<f4", n, start).astype(np.float32)

    def array(self, dtype: np.dtype | str, count: int, field: str) -> np.ndarray:
        """`count` records of `dtype` as a read-only view; the count is checked before use."""
        dtype = np.dtype(dtype)
        if count < 0 or count * dtype.itemsize > self.end - self.pos:
            raise self.error(
                f"count {count} of {dtype.itemsize}-byte records does not fit in the {self.end - self.pos} bytes left",
                field,
            )
        start = self.pos
        self.pos = start + count * dtype.itemsize
        return np.frombuffer(self.data, dtype, count, start)

    def count(self, fmt: struct.Struct, min_record: int, field: str) -> int:
        """Read an element count and check that count * min_record bytes are left."""
        start = self.pos
        n = self.unpack(fmt, field)[0]
        if self.trace is not None:
            self.trace.append((start, fmt.size, field))
        if n < 0:
            raise self.error(f"negative count {n}", field, offset=start)
        if n * min_record > self.end - self.pos:
            raise self.error(
                f"count {n} needs at least {n * min_record} bytes, only {self.end - self.pos} left",
                field,
                offset=start,
            )
        return n

    # text -----------------------------------------------------------------------------------
    def text(self, encoding: str, field: str) -> str:
        """PMX text: int32 byte length, then the encoded bytes."""
        start = self.pos
        n = self.i32(field)
        if self.trace is not None:
            self.trace.append((start, 4, field))
        if n < 0:
            raise self.error(f"negative text length {n}", field, offset=start)
        if encoding == "utf-16-le" and n % 2:
            raise self.error(f"odd UTF-16 byte length {n}", field, offset=start)
        if n > self.end - self.pos:
            raise self.error(
                f"text length {n} does not fit in the {self.end - self.pos} bytes left", field, start
            )
        body = self.pos
        self.pos = body + n
        try:
            return str(self.data[body : body + n], encoding)
        except UnicodeDecodeError as exc:
            raise self.error(
                f"invalid {encoding} text ({exc.reason})", field, offset=body + exc.start
            ) from None

    def fixed_text(self, n: int, field: str, encoding: str = "cp932") -> str:
        """PMD text: a fixed n-byte field cut at the first NUL (the rest is often garbage)."""
        body = self.need(n, field)
        self.pos = body + n
        try:
            return decode_fixed(bytes(self.data[body : body + n]), encoding)
        except UnicodeDecodeError as exc:
            raise self.error(
                f"invalid {encoding} text ({exc.reason})", field, offset=body + exc.start
            ) from None


def decode_fixed(raw: bytes, encoding: str = "cp932") -> str:
    """Decode a NUL-cut fixed-width field.

    A last byte that is the lead byte of a two-byte character (a name cut by the field
    width, which real PMD files have) is dropped instead of failing.
    Raises UnicodeDecodeError otherwise; callers add the offset.
    """
    cut = raw.find(b"\0")
    text = raw if cut < 0 else raw[:cut]
    try:
        return text.decode(encoding)
    except UnicodeDecodeError as exc:
        if exc.start == len(text) - 1:
            return text[:-1].decode(encoding)
        raise
