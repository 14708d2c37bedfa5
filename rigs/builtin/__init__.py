"""The built-in character: a small MMD-style model generated in code, so demos and tests need no
downloaded model and know the truth (head centre, radii, mouth shapes) of what they render.

Its variants (variants.py: chibi, low poly, a bow, animal ears, a hat, a tall ahoge) are built by
the same code (`builtin_character(variant=...)`; accessories.py, proportions.py, lowpoly.py) and
know their own head top and chin (truth.py), so framing is tested on the heads that break it.
"""

from __future__ import annotations

from thagen.rigs.builtin.character import builtin_character
from thagen.rigs.builtin.files import write_builtin_character
from thagen.rigs.builtin.head import HEAD_CENTER, HEAD_RADII, MOUTH_SHAPES, MOUTH_Y
from thagen.rigs.builtin.textures import ATLAS_NAME, REGION, TOON_NAME, builtin_textures
from thagen.rigs.builtin.truth import HeadTruth, builtin_truth
from thagen.rigs.builtin.variants import VARIANTS, BuiltinVariant, variant_named

__all__ = [
    "ATLAS_NAME",
    "HEAD_CENTER",
    "VARIANTS",
    "BuiltinVariant",
    "HeadTruth",
    "HEAD_RADII",
    "MOUTH_SHAPES",
    "MOUTH_Y",
    "REGION",
    "TOON_NAME",
    "builtin_character",
    "builtin_textures",
    "builtin_truth",
    "variant_named",
    "write_builtin_character",
]
