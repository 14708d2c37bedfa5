"""The built-in character: a small MMD-style model generated in code, so demos and tests need no
downloaded model and know the truth (head centre, radii, mouth shapes) of what they render.
"""

from __future__ import annotations

from thagen.rigs.builtin.character import builtin_character
from thagen.rigs.builtin.files import write_builtin_character
from thagen.rigs.builtin.head import HEAD_CENTER, HEAD_RADII, MOUTH_SHAPES, MOUTH_Y
from thagen.rigs.builtin.textures import ATLAS_NAME, REGION, TOON_NAME, builtin_textures

__all__ = [
    "ATLAS_NAME",
    "HEAD_CENTER",
    "HEAD_RADII",
    "MOUTH_SHAPES",
    "MOUTH_Y",
    "REGION",
    "TOON_NAME",
    "builtin_character",
    "builtin_textures",
    "write_builtin_character",
]
