"""The built-in character's materials: one per kind of part, in the order the faces are stored.

PMX materials own consecutive runs of faces, so the material list also fixes the order the parts
are merged in (rigs/builtin/character.py sorts the parts by it).
"""

from __future__ import annotations

import numpy as np

from thagen.rigs.builtin.mesh import Part
from thagen.rigs.model import Material, MaterialFlag

# material key -> (name, name_en, double sided, edge)
MATERIALS = [
    ("face", "顔", "face", False, True),
    ("eye", "目", "eyes", False, False),
    ("lash", "まつげ", "eyelashes", False, False),
    ("mouth", "口", "mouth", False, False),
    ("hair", "髪", "hair", True, True),
    ("skin", "肌", "skin", False, True),
    ("body", "服", "clothes", False, True),
]


def _materials(parts: list[Part]) -> list[Material]:
    """One Material per MATERIALS entry over `parts` (already sorted into material order)."""
    order = [m[0] for m in MATERIALS]
    materials = []
    for key, name, name_en, double_sided, edge in MATERIALS:
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
