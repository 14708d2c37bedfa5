"""Turning the bytes of a readme into text, within fixed bounds of size and guesswork.

MMD readmes are mostly Shift_JIS (cp932) without any marker, newer ones UTF-8 (often with a BOM),
a few UTF-16 with a BOM (Notepad's "Unicode"), and some EUC-JP. Files come from strangers, so
the read is bounded (`MAX_READ_BYTES`; a 50 MB "readme" costs the same as a small one), files
with NUL bytes are skipped as binary, and when nothing decodes cleanly the text is decoded with
replacement characters and a note says so (interpretation then just finds less).
"""

from __future__ import annotations

import codecs
import os
import stat
from dataclasses import dataclass
from pathlib import Path

MAX_READ_BYTES = 256 * 1024
"""At most this many bytes of one text are read and interpreted."""

MAX_KEPT_BYTES = 16 * 1024
"""At most this many bytes (UTF-8) of one text are kept verbatim in a `LicenseRecord`."""

_UTF32_BOMS = ((codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"))
_UTF16_BOMS = ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))


@dataclass(frozen=True)
class Decoded:
    """The decoded text (None for binary data), the encoding used, and a note when it was a guess."""

    text: str | None
    encoding: str | None
    note: str | None = None


def decode_bytes(data: bytes, *, truncated: bool = False) -> Decoded:
    """Decode a text file's bytes: BOMs first, then strict UTF-8, then Shift_JIS / EUC-JP.

    `truncated` says `data` is only the head of a longer file, so a multi-byte character cut at
    the end is dropped instead of failing a strict decode.
    """
    for bom, codec in _UTF32_BOMS:
        if data.startswith(bom):
            return Decoded(_cut(data[len(bom) :], 4).decode(codec, errors="replace"), "utf-32")
    if data.startswith(codecs.BOM_UTF8):
        return _decode_utf8(data[len(codecs.BOM_UTF8) :], truncated, "utf-8-sig")
    for bom, codec in _UTF16_BOMS:
        if data.startswith(bom):
            return Decoded(_cut(data[len(bom) :], 2).decode(codec, errors="replace"), "utf-16")
    if b"\x00" in data:
        return Decoded(None, None, "binary (NUL bytes; or UTF-16 without a BOM): not read")
    return _decode_utf8(data, truncated, "utf-8")


def _decode_utf8(data: bytes, truncated: bool, label: str) -> Decoded:
    text = _strict(data, "utf-8", truncated)
    if text is not None:
        return Decoded(text, label)
    # Not UTF-8: a Japanese legacy encoding. cp932 decodes most EUC-JP bytes too (as nonsense),
    # so when both succeed the one that yields more kana and kanji wins.
    candidates: list[tuple[str, str]] = []
    for codec in ("cp932", "euc_jp"):
        decoded = _strict(data, codec, truncated)
        if decoded is not None:
            candidates.append((decoded, codec))
    if candidates:
        best, codec = max(candidates, key=lambda item: _japanese_score(item[0]))
        return Decoded(best, codec)
    return Decoded(
        data.decode("utf-8", errors="replace"),
        "utf-8",
        "not valid UTF-8, Shift_JIS or EUC-JP: decoded with replacement characters",
    )


def _strict(data: bytes, codec: str, truncated: bool) -> str | None:
    """`data` decoded strictly, forgiving only a character cut by truncation; None when invalid."""
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        if truncated and exc.start >= len(data) - 3:
            try:
                return data[: exc.start].decode(codec)
            except UnicodeDecodeError:
                return None
        return None


def _cut(data: bytes, unit: int) -> bytes:
    return data[: len(data) - len(data) % unit]


def _japanese_score(text: str) -> int:
    """How much of `text` is hiragana, katakana or common kanji (the sign of a right guess)."""
    return sum(1 for ch in text if "\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff")


@dataclass(frozen=True)
class ReadResult:
    """The head of a file: at most `limit` bytes, its full size, and whether it was cut."""

    data: bytes
    size: int
    truncated: bool


def read_head(path: Path, limit: int = MAX_READ_BYTES) -> ReadResult:
    """Read at most `limit` bytes of a regular file, never blocking on FIFOs or devices.

    Raises OSError for anything that is not a regular file (checked on the open descriptor, so a
    file swapped for a FIFO between listing and reading is still refused).
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"{path}: not a regular file")
        chunks: list[bytes] = []
        remaining = limit
        while remaining > 0:
            chunk = os.read(fd, min(remaining, 64 * 1024))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        data = b"".join(chunks)
        return ReadResult(data, max(info.st_size, len(data)), info.st_size > len(data))
    finally:
        os.close(fd)


def clip_text(text: str, max_bytes: int = MAX_KEPT_BYTES) -> tuple[str, bool]:
    """`text` cut to at most `max_bytes` of UTF-8 (on a character boundary), and whether it was cut."""
    if len(text) * 4 <= max_bytes:
        return text, False
    encoded = text.encode("utf-8", errors="replace")
    if len(encoded) <= max_bytes:
        return text, False
    return encoded[:max_bytes].decode("utf-8", errors="ignore"), True
