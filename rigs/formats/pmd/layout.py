"""PMD 1.0 record layouts: the fixed-size records every PMD section is an array of.

Kept apart from the section readers because several of them share these (the bone index
meaning "none", the name fields) and the sizes are checked once here, at import.

Texts are cp932 in fixed 20/50/256-byte fields, cut at the first NUL (a name cut in the
middle of a two-byte character loses that half character).
"""

from __future__ import annotations

import struct

import numpy as np

from thagen.rigs.formats.binary import Cursor, decode_fixed

MAGIC = b"Pmd"
VERTEX = np.dtype(
    [
        ("pos", "<f4", (3,)),
        ("nrm", "<f4", (3,)),
        ("uv", "<f4", (2,)),
        ("bones", "<u2", (2,)),
        ("w", "u1"),
        ("edge", "u1"),
    ]
)
MATERIAL = np.dtype(
    [
        ("diffuse", "<f4", (3,)),
        ("alpha", "<f4"),
        ("power", "<f4"),
        ("specular", "<f4", (3,)),
        ("ambient", "<f4", (3,)),
        ("toon", "u1"),
        ("edge", "u1"),
        ("count", "<u4"),
        ("tex", "S20"),
    ]
)
BONE = np.dtype(
    [("name", "V20"), ("parent", "<u2"), ("tail", "<u2"), ("type", "u1"), ("ik", "<u2"), ("pos", "<f4", (3,))]
)
MORPH_OFFSET = np.dtype([("i", "<u4"), ("v", "<f4", (3,))])
RIGID = np.dtype(
    [
        ("name", "V20"),
        ("bone", "<u2"),
        ("group", "u1"),
        ("mask", "<u2"),
        ("shape", "u1"),
        ("size", "<f4", (3,)),
        ("pos", "<f4", (3,)),
        ("rot", "<f4", (3,)),
        ("params", "<f4", (5,)),
        ("mode", "u1"),
    ]
)
JOINT = np.dtype([("name", "V20"), ("a", "<i4"), ("b", "<i4"), ("v", "<f4", (8, 3))])
IK_HEAD = struct.Struct("<HHBHf")
NONE16 = 0xFFFF  # a 16-bit bone index meaning "none"

assert VERTEX.itemsize == 38 and MATERIAL.itemsize == 70 and BONE.itemsize == 39
assert RIGID.itemsize == 83 and JOINT.itemsize == 124


def fixed_name(cur: Cursor, raw: bytes, field: str, offset: int) -> str:
    """A name field of a record read as an array (`field` and `offset` name it in errors)."""
    try:
        return decode_fixed(bytes(raw))
    except UnicodeDecodeError as exc:
        raise cur.error(f"invalid cp932 text ({exc.reason})", field, offset + exc.start) from None
