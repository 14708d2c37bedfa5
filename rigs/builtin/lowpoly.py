"""Low-poly heads for the built-in character's variants: the skin hidden under the hair is not
modelled, as low-poly models save those vertices.

Then the head's front-view outline above the forehead is the hair alone, a few big triangles,
while the face below keeps the vertices its morphs need: the shape that broke the head-top
estimate's spike rule on a low-poly chibi VRM (render/framing/).
"""

from __future__ import annotations

import numpy as np

from thagen.rigs.builtin.head import HEAD_CENTER
from thagen.rigs.builtin.mesh import Part

HAIRLINE_MARGIN = 0.3  # skin this far above the hair's lower edge is kept, so no gap shows


def hairline_y(x: np.ndarray, z: np.ndarray) -> np.ndarray:
    """The hair cap's lower edge above (x, z), without the bangs' zigzag (rigs/builtin/hair.py)."""
    phi = np.arctan2(x - HEAD_CENTER[0], -(z - HEAD_CENTER[2]))
    return 16.78 + (15.1 - 16.78) * (1 - np.cos(phi)) / 2


def without_scalp(head: Part) -> Part:
    """`head` (the face skin) without the vertices the hair cap hides, faces and tags to match."""
    p = head.positions
    keep = p[:, 1] < hairline_y(p[:, 0], p[:, 2]) + HAIRLINE_MARGIN
    new_index = np.cumsum(keep) - 1
    faces = head.faces[np.all(keep[head.faces], axis=1)]
    return Part(
        head.material,
        p[keep],
        head.uvs[keep],
        new_index[faces],
        head.bones[keep],
        head.weights[keep],
        {name: value[keep] for name, value in head.tags.items()},
    )
