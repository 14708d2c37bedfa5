"""Which bones the renderer rotates: what the importer's static split must keep deforming.

The neck and head roles always; with a THA2/THA3 rig, also every bone its extended parameters
drive (eyes, upper body, shoulders). The importer adds the bones the built bone morphs move and
every bone below these (rigs/blender/static_split.py). Plain numpy, no Blender.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from thagen.rigs.model import Model

if TYPE_CHECKING:
    from thagen.rigs.normalize import RigReport


def posed_bones(model: Model, rig: RigReport | None) -> np.ndarray:
    """(B,) bool: the bones a pose may rotate directly."""
    count = len(model.bones)
    posed = np.zeros(count, bool)
    if rig is None:
        return posed
    for role in ("neck", "head"):
        match = rig.matches.get(role)
        index = match.index if match is not None else None
        if index is None:
            name = rig.bone_for(role)
            index = model.bone_index(name) if name else None
        if index is not None and 0 <= int(index) < count:
            posed[int(index)] = True
    if rig.extended is not None:  # THA2 / THA3: eye, upper-body, shoulder bones
        for name in sorted(rig.extended.bone_names()):
            if model.bone_index(name) >= 0:
                posed[model.bone_index(name)] = True
    return posed
