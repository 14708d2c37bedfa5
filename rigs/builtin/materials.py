"""The built-in character's materials: one per kind of part, in the order the faces are stored.

PMX materials own consecutive runs of faces, so the material list also fixes the order the parts
are merged in (rigs/builtin/character.py sorts the parts by it).
"""

from __future__ import annotations

import numpy as np

from thagen.rigs.builtin.mesh import Part
from thagen.rigs.model import Material, MaterialFlag

MaterialRow = tuple[str, str, str, bool, bool]  # key, name, name_en, double sided, edge

# material key -> (name, name_en, double sided, edge)
MATERIALS: list[MaterialRow] = [
    ("face", "顔", "face", False, True),
    ("eye", "目", "eyes", False, False),
    ("lash", "まつげ", "eyelashes", False, False),
    ("mouth", "口", "mouth", False, False),
    ("hair", "髪", "hair", True, True),
    ("skin", "肌", "skin", False, True),
    ("body", "服", "clothes", False, True),
]
# only in variants that have them (rigs/builtin/accessories.py), after the default ones, so the
# default character's materials stay as they are
ACCESSORY_MATERIALS: list[MaterialRow] = [
    ("ribbon", "リボン", "ribbon", True, True),
    ("hat", "帽子", "hat", True, True),
]


def material_table(parts: list[Part]) -> list[MaterialRow]:
    """MATERIALS, plus the accessory materials some of `parts` use (the default: MATERIALS)."""
    used = {p.material for p in parts}
    return MATERIALS + [m for m in ACCESSORY_MATERIALS if m[0] in used]


def _materials(parts: list[Part], table: list[MaterialRow] = MATERIALS) -> list[Material]:
    """One Material per `table` entry over `parts` (already sorted into the table's order)."""
    order = [m[0] for m in table]
    materials = []
    for key, name, name_en, double_sided, edge in table:
        mat_faces = sum(len(p.faces) for p in parts if p.material == key)
        first = sum(len(p.faces) for p in parts if order.index(p.material) < order.index(key))
        flags = MaterialFlag.GROUND_SHADOW | MaterialFlag.SELF_SHADOW_MAP | MaterialFlag.SELF_SHADOW
        if double_sided:
            flags |= MaterialFlag.DOUBLE_SIDED
        if edge:
            flags |= MaterialFlag.EDGE
        materials.append(
            Material(
                name=name,
                name_en=name_en,
                diffuse=np.array([1.0, 1.0, 1.0, 1.0], np.float32),
                specular=np.array([0.1, 0.1, 0.1], np.float32),
                specular_power=8.0,
                ambient=np.array([0.5, 0.5, 0.5], np.float32),
                flags=int(flags),
                edge_color=np.array([0.15, 0.1, 0.12, 1.0], np.float32),
                edge_size=float(np.float32(0.6)) if edge else 0.0,
                texture=0,
                toon_shared=False,
                toon_index=1,
                face_start=first,
                face_count=mat_faces,
            )
        )
    return materials
