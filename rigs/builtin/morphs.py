"""The built-in character's morphs: THA1's blink, winks and vowels, then THA2's expressions.

Eye morphs: まばたき closes both eyes; ウィンク / ウィンク右 are smile winks (closed in an arc);
ウィンク２ / ｳｨﾝｸ２右 are normal closes, offset-for-offset one half of まばたき, like the real
models THA1 meets. Mouth morphs あいうえお change the mouth interior; あ and お also drop the jaw.
After them come THA2's expression morphs (rigs/builtin/expressions.py), one per THA2 parameter
but one, so THA2 / THA3 rig normalization has a known answer. The shapes come from the parts'
tags (rigs/builtin/face.py); this module turns them into vertex morphs over the merged mesh.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from thagen.rigs.builtin.expressions import expression_morphs
from thagen.rigs.builtin.head import EYE_CENTER_X, EYE_CENTER_Y, EYE_RX, EYE_RY, MOUTH_SHAPES
from thagen.rigs.builtin.mesh import Part
from thagen.rigs.model import Morph, MorphKind


def _vertex_morph(
    name: str, name_en: str, panel: int, n: int, offsets: list[tuple[int, np.ndarray]]
) -> Morph:
    full = np.zeros((n, 3))
    for start, off in offsets:
        full[start : start + len(off)] += off
    moved = np.flatnonzero(np.any(np.abs(full) > 1e-7, axis=1))
    return Morph(
        name=name,
        name_en=name_en,
        panel=panel,
        kind=int(MorphKind.VERTEX),
        indices=moved.astype(np.int32),
        values=full[moved].astype(np.float32),
    )


def _morphs(parts: list[Part], start_of: Callable[[Part], int], n: int) -> list[Morph]:
    """Every morph of the merged mesh of `parts` (n vertices; `start_of` gives a part's first)."""
    eye_parts = [p for p in parts if "close" in p.tags]
    mouth = next(p for p in parts if p.material == "mouth")
    head = next(p for p in parts if p.material == "face")

    def eye_offsets(tag: str, sides: tuple[float, ...]) -> list[tuple[int, np.ndarray]]:
        return [(start_of(p), p.tags[tag]) for p in eye_parts if p.tags["side"][0] in sides]

    morphs = [
        _vertex_morph("まばたき", "blink", 2, n, eye_offsets("close", (1.0, -1.0))),
        _vertex_morph("ウィンク", "wink", 2, n, eye_offsets("smile", (1.0,))),
        _vertex_morph("ウィンク右", "wink_R", 2, n, eye_offsets("smile", (-1.0,))),
        _vertex_morph("ウィンク２", "wink2", 2, n, eye_offsets("close", (1.0,))),
        _vertex_morph("ｳｨﾝｸ２右", "wink2_R", 2, n, eye_offsets("close", (-1.0,))),
    ]
    for name, (name_en, shape) in MOUTH_SHAPES.items():
        offsets = [(start_of(mouth), mouth.tags[name])]
        drop = shape[3]
        if drop > 0:
            jaw = np.zeros((len(head.positions), 3))
            jaw[:, 1] = -drop * head.tags["jaw"]
            offsets.append((start_of(head), jaw))
        morphs.append(_vertex_morph(name, name_en, 3, n, offsets))
    # THA2's expressions, appended after THA1's morphs (rigs/builtin/expressions.py)
    eye = (EYE_CENTER_X, EYE_CENTER_Y, EYE_RX, EYE_RY)
    morphs += expression_morphs(parts, start_of, _vertex_morph, n, eye)
    return morphs
