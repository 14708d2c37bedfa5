"""PMD materials -> PMX-style `Material`s, and the texture list their names make.

A job of its own because PMD stores what PMX spells out as flags and texture indices in a
few overloaded fields, and the toon names are only known once the optional toon table (after
the English names) has been read, so materials are read early and finished late:

- Materials get the names `材質N` / `MaterialN` (PMD has none). "tex.bmp*sph.spa" splits
  into texture and sphere (.sph multiply, .spa add); a lone .sph/.spa name is a sphere.
- Alpha < 1 means double-sided, alpha 0.98 turns self shadow off, the edge byte turns on
  edge and ground shadow.
- Toon index 255 = none; a toon table entry named toon01.bmp .. toon10.bmp is MMD's shared
  toon, any other name becomes a texture.
"""

from __future__ import annotations

import re

import numpy as np

from thagen.rigs.formats.binary import U32, Cursor
from thagen.rigs.formats.pmd.layout import MATERIAL, fixed_name
from thagen.rigs.model import Material, MaterialFlag, Model

_SHARED_TOON = re.compile(r"toon(0[1-9]|10)\.bmp", re.IGNORECASE)


def read_materials(cur: Cursor, model: Model) -> tuple[np.ndarray, int]:
    """The material records, checked, and where they start (for `finish_materials`)."""
    n = cur.count(U32, MATERIAL.itemsize, "material count")
    start = cur.pos
    mats = cur.array(MATERIAL, n, "materials")
    counts = mats["count"].astype(np.int64)
    if n and np.any(counts % 3):
        i = int(np.flatnonzero(counts % 3)[0])
        raise cur.error(
            f"index count {int(counts[i])} is not a multiple of 3",
            f"material[{i}].index_count",
            start + 70 * i + 46,
        )
    if n and counts.sum() != 3 * model.face_count:
        raise cur.error(
            f"materials cover {int(counts.sum()) // 3} of {model.face_count} triangles",
            "material index counts",
            start,
        )
    toon = mats["toon"]
    bad = np.flatnonzero((toon > 9) & (toon != 255))
    if bad.size:
        i = int(bad[0])
        raise cur.error(f"toon index {int(toon[i])} (0-9 or 255)", f"material[{i}].toon", start + 70 * i + 44)
    if n and mats["edge"].max() > 1:
        i = int(np.flatnonzero(mats["edge"] > 1)[0])
        raise cur.error(
            f"unknown edge flag {int(mats['edge'][i])}", f"material[{i}].edge", start + 70 * i + 45
        )
    return mats, start


def finish_materials(
    cur: Cursor, model: Model, mats_at: tuple[np.ndarray, int], toon_names: list[str]
) -> None:
    """Fill `model.materials` and `model.textures` once the toon table is known."""
    mats, start = mats_at
    textures: dict[str, int] = {}

    def texture(name: str) -> int:
        if name not in textures:
            textures[name] = len(textures)
        return textures[name]

    face_start = 0
    for i, m in enumerate(mats):
        at = start + 70 * i
        raw = bytes(m["tex"])
        tex_name = fixed_name(cur, raw, f"material[{i}].texture", at + 50)
        mat = Material(name=f"材質{i + 1}", name_en=f"Material{i + 1}")
        alpha = np.float32(m["alpha"])
        mat.diffuse = np.array([*m["diffuse"], alpha], np.float32)
        mat.specular = m["specular"].astype(np.float32)
        mat.specular_power = float(m["power"])
        mat.ambient = m["ambient"].astype(np.float32)
        edge = bool(m["edge"])
        flags = 0
        if alpha < 1.0:
            flags |= MaterialFlag.DOUBLE_SIDED
        if abs(float(alpha) - 0.98) > 1e-6:
            flags |= MaterialFlag.SELF_SHADOW_MAP | MaterialFlag.SELF_SHADOW
        if edge:
            flags |= MaterialFlag.EDGE | MaterialFlag.GROUND_SHADOW
        mat.flags = int(flags)
        parts = [p for p in tex_name.split("*")] if tex_name else []
        if len(parts) > 2:
            raise cur.error(
                f"texture name {tex_name!r} has more than one '*'", f"material[{i}].texture", at + 50
            )
        for part in parts:
            if not part:
                continue
            low = part.lower()
            if low.endswith((".sph", ".spa")) and (len(parts) == 2 or mat.texture < 0):
                mat.sphere_texture = texture(part)
                mat.sphere_mode = 2 if low.endswith(".spa") else 1
            else:
                mat.texture = texture(part)
        toon = int(m["toon"])
        if toon != 255:
            name = toon_names[toon]
            match = _SHARED_TOON.fullmatch(name)
            if match:
                mat.toon_shared, mat.toon_index = True, int(match.group(1)) - 1
            elif name:
                mat.toon_index = texture(name)
        count = int(m["count"]) // 3
        mat.face_start, mat.face_count = face_start, count
        face_start += count
        model.materials.append(mat)
    model.textures = list(textures)
