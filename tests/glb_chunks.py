"""GLB chunks for tests that take a VRM apart and put it back (hostile-file and fuzz tests)."""

from __future__ import annotations

import json
import struct
from typing import Any


def split_glb(data: bytes) -> tuple[dict[str, Any], bytes]:
    """(JSON document, BIN chunk) of a GLB that thagen wrote."""
    n_json = struct.unpack_from("<I", data, 12)[0]
    doc = json.loads(data[20 : 20 + n_json])
    n_bin = struct.unpack_from("<I", data, 20 + n_json)[0]
    return doc, data[28 + n_json : 28 + n_json + n_bin]


def join_glb(doc: Any, binary: bytes) -> bytes:
    text = json.dumps(doc).encode()
    text += b" " * (-len(text) % 4)
    binary += b"\x00" * (-len(binary) % 4)
    total = 28 + len(text) + len(binary)
    return (
        struct.pack("<4sII", b"glTF", 2, total)
        + struct.pack("<II", len(text), 0x4E4F534A)
        + text
        + struct.pack("<II", len(binary), 0x004E4942)
        + binary
    )
