"""PMX 2.0 / 2.1 binary layout shared by the reader (rigs/formats/pmx/reader.py) and writer (rigs/formats/pmx/writer.py).

One place for the header, the packed vertex and morph-offset record types and the per-kind
tables, so reading what was written cannot drift apart from writing it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from thagen.rigs.formats.binary import index_dtype
from thagen.rigs.model import DeformType, MorphKind

MAGIC = b"PMX "
ENCODINGS = {0: "utf-16-le", 1: "utf-8"}
VERSIONS = {np.float32(2.0): 2.0, np.float32(2.1): 2.1}

# deform-type payload size (bytes) as a function of the bone index size b
DEFORM_BONES = {0: 1, 1: 2, 2: 4, 3: 2, 4: 4}  # bone indices per deform type
DEFORM_WEIGHTS = {0: 0, 1: 1, 2: 4, 3: 1, 4: 4}  # stored weights per deform type

# morph offset records per kind: (index field, extra byte field name or None, value floats)
MORPH_LAYOUT: dict[int, tuple[str, str | None, int]] = {
    MorphKind.GROUP: ("morph", None, 1),
    MorphKind.VERTEX: ("vertex", None, 3),
    MorphKind.BONE: ("bone", None, 7),
    MorphKind.UV: ("vertex", None, 4),
    MorphKind.UV_EXT1: ("vertex", None, 4),
    MorphKind.UV_EXT2: ("vertex", None, 4),
    MorphKind.UV_EXT3: ("vertex", None, 4),
    MorphKind.UV_EXT4: ("vertex", None, 4),
    MorphKind.MATERIAL: ("material", "op", 28),
    MorphKind.FLIP: ("morph", None, 1),
    MorphKind.IMPULSE: ("rigid", "local", 6),
}
# the lowest valid value of a reference (-1 = "none" is allowed where the spec has it)
MORPH_INDEX_LOW: dict[int, int] = {MorphKind.MATERIAL: -1}


@dataclass(frozen=True)
class Header:
    """The header's globals: text encoding, extra UV count and each index kind's byte size."""

    version: float
    encoding: str
    extra_uv: int
    vertex_size: int
    texture_size: int
    material_size: int
    bone_size: int
    morph_size: int
    rigid_size: int

    def size_of(self, target: str) -> int:
        return getattr(self, f"{target}_size")


def vertex_dtype(h: Header, deform: int) -> np.dtype:
    """Packed record dtype of one vertex with this deform type."""
    b = index_dtype(h.bone_size, True)
    names = ["pos", "nrm", "uv"]
    formats: list = [("<f4", (3,)), ("<f4", (3,)), ("<f4", (2,))]
    if h.extra_uv:
        names.append("xuv")
        formats.append(("<f4", (h.extra_uv, 4)))
    names += ["type", "bones"]
    formats += ["u1", (b, (DEFORM_BONES[deform],))]
    if DEFORM_WEIGHTS[deform]:
        names.append("w")
        formats.append(("<f4", (DEFORM_WEIGHTS[deform],)))
    if deform == DeformType.SDEF:
        names.append("sdef")
        formats.append(("<f4", (3, 3)))
    names.append("edge")
    formats.append("<f4")
    return np.dtype({"names": names, "formats": formats})


def morph_dtype(h: Header, kind: int) -> np.dtype:
    target, extra, nvalues = MORPH_LAYOUT[kind]
    fields: list = [("i", index_dtype(h.size_of(target), target != "vertex"))]
    if extra:
        fields.append((extra, "u1"))
    fields.append(("v", "<f4", (nvalues,)) if nvalues > 1 else ("v", "<f4"))
    return np.dtype(fields)
