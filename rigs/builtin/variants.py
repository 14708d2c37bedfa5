"""Variants of the built-in character: the odd head shapes real models have, with known truth.

Framing (render/framing/) is judged on models whose head top and chin are known exactly; the
default character covers one normal head with a thin ahoge. A collection also holds chibi
models (the head a third to a half of the figure), low-poly ones (a few thousand vertices),
and heads carrying a bow, animal ears, a hat or a tall ahoge. `BuiltinVariant` switches those
on, `VARIANTS` names one preset per class, and `builtin_character(variant=...)`
(rigs/builtin/character.py) builds them; `builtin_truth` (rigs/builtin/truth.py) says where
each one's head top and chin are.

The default variant builds the default character byte for byte (its PMX hash is unchanged),
so nothing rendered from it before changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

AhogeKind = Literal["strand", "none", "tall"]


@dataclass(frozen=True)
class BuiltinVariant:
    """What differs from the default built-in character.

    - `head_scale`, `body_scale`: chibi proportions. Everything weighted to the head bone and
      below it (face, hair, eyes, accessories) is scaled by `head_scale` about the neck joint
      (the head bone's position); the rest of the body by `body_scale` toward the floor, so
      the feet stay on y = 0 and the head sits on the shortened neck.
    - `detail`: tessellation factor (1 = about 5,000 vertices; 0.5 = about 1,400).
    - `hair_detail`: a further factor for the hair (cap, locks, ahoge, ears): low-poly models
      cover the skull with a few big hair triangles while the face keeps the vertices its
      morphs need, so the head's front-view outline has few points on the hair and many on
      the face.
    - `scalp`: False leaves out the skin hidden under the hair (rigs/builtin/lowpoly.py), as
      low-poly models do: above the forehead the head is the hair alone.
    - `ahoge`: the upward strand on the crown: the default thin "strand", "none", or a "tall"
      thick antenna rising more than half a head above the skull.
    - `ears`: two animal (cat) ears standing on the hair, drawn with the hair material.
    - `bow`: a big ribbon bow on the back of the crown, rising above the head (material リボン).
    - `hat`: a hat with a brim and a crown over the hair (material 帽子).
    """

    head_scale: float = 1.0
    body_scale: float = 1.0
    detail: float = 1.0
    hair_detail: float = 1.0
    scalp: bool = True
    ahoge: AhogeKind = "strand"
    ears: bool = False
    bow: bool = False
    hat: bool = False

    @property
    def is_default(self) -> bool:
        return self == BuiltinVariant()


# One preset per class of head framing has to survive (tests/render/test_odd_models.py).
# Chibi: the head 1.6 x larger, the body 0.6 x (head / total height about 1 / 2.5). Low poly:
# a hair cap of six big sectors and no scalp under the hair (about 2,000 vertices; with the
# chibi head and the default face about 3,000, like the VRM).
VARIANTS: dict[str, BuiltinVariant] = {
    "default": BuiltinVariant(),
    "chibi": BuiltinVariant(head_scale=1.6, body_scale=0.6),
    "low_poly": BuiltinVariant(detail=0.8, hair_detail=0.1, scalp=False),
    "chibi_low_poly": BuiltinVariant(head_scale=1.6, body_scale=0.6, hair_detail=0.1, scalp=False),
    "bow": BuiltinVariant(bow=True),
    "ears": BuiltinVariant(ears=True),
    "hat": BuiltinVariant(hat=True),
    "ahoge": BuiltinVariant(ahoge="tall"),
}


def variant_named(name: str) -> BuiltinVariant:
    """The preset called `name` (KeyError listing the names when there is none)."""
    try:
        return VARIANTS[name]
    except KeyError:
        raise KeyError(f"no built-in variant {name!r} (known: {', '.join(VARIANTS)})") from None
