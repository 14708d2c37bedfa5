"""The built-in character's hair: a cap with zigzag bangs, side locks, long back strands and one
upward "ahoge" strand (which framing must ignore; variants.py may make it a tall antenna or
leave it out).

The cap, side locks and ahoge are weighted to 頭; the long back hair hangs from its own bone 後髪
under 頭, as in most real models.
"""

from __future__ import annotations

import math

import numpy as np

from thagen.rigs.builtin.head import HEAD_CENTER, HEAD_RADII
from thagen.rigs.builtin.mesh import Part, _ellipsoid_grid, _grid_faces, _n, _orient
from thagen.rigs.builtin.skeleton import _blend, _single
from thagen.rigs.builtin.textures import _uv_region

# the cap: the head ellipsoid grown by these radii and moved back a little; its top pole is the
# head top framing aims at (rigs/builtin/truth.py)
CAP_RADII = HEAD_RADII + [0.14, 0.12, 0.14]
CAP_CENTER = HEAD_CENTER + [0.0, 0.0, 0.04]


def _hair_cap(k: float) -> Part:
    n_lon = _n(56, k)
    radii = CAP_RADII
    center = CAP_CENTER
    phi = np.linspace(-math.pi, math.pi, n_lon + 1)
    front = np.clip(np.cos(phi), 0, 1)
    # bottom edge: bangs above the eyes in front, lower over the ears, down to the nape at the back
    y_end = 16.78 + (15.1 - 16.78) * (1 - np.cos(phi)) / 2
    saw = np.abs(((phi * 9 / math.pi) % 2) - 1)  # zigzag tips of the bangs
    y_end -= 0.22 * saw * front**2
    theta_end = np.arccos(np.clip((y_end - center[1]) / radii[1], -1, 1))
    pos, faces, u, v = _ellipsoid_grid(n_lon, theta_end, _n(18, k), radii, center)
    bones, weights = _single(len(pos), "頭")
    part = Part("hair", pos, _uv_region("hair", u, v), faces, bones, weights)
    return _orient(part, lambda c: c - HEAD_CENTER)


def _bezier(ctrl: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Point on a Bezier curve (de Casteljau), for every t."""
    pts = np.broadcast_to(ctrl, (len(t),) + ctrl.shape).copy()
    for _ in range(len(ctrl) - 1):
        pts = pts[:, :-1] * (1 - t)[:, None, None] + pts[:, 1:] * t[:, None, None]
    return pts[:, 0]


def _strand(
    k: float,
    ctrl: list[tuple[float, float, float]],
    width: tuple[float, float],
    side: np.ndarray,
    hair_bone: str | None = None,
) -> Part:
    """A ribbon along a Bezier centre line; `side` is the direction its width spans."""
    n_len = _n(14, k)
    n_wid = max(2, _n(3, k))
    t = np.linspace(0, 1, n_len)
    centre = _bezier(np.asarray(ctrl, float), t)
    half = (width[0] + (width[1] - width[0]) * t) / 2
    across = np.linspace(-1, 1, n_wid)
    side = side / np.linalg.norm(side)
    pos = (centre[:, None, :] + (half[:, None] * across[None, :])[..., None] * side).reshape(-1, 3)
    uv = _uv_region("hair", np.tile((across + 1) / 2, n_len), np.repeat(t, n_wid))
    if hair_bone is None:
        bones, weights = _single(len(pos), "頭")
    else:  # rooted on the head, hanging from its own bone below the root
        root_y = ctrl[0][1]
        bones, weights = _blend(pos[:, 1], "頭", hair_bone, root_y - 1.0, root_y - 0.3)
    part = Part("hair", pos, uv, _grid_faces(n_len, n_wid), bones, weights)
    return _orient(part, lambda c: c - HEAD_CENTER)


# the "tall" ahoge of rigs/builtin/variants.py: a thick antenna rising 1.9 above the skull
TALL_AHOGE = [(0.0, 17.85, -0.1), (0.05, 19.3, -0.2), (0.55, 20.3, -0.65), (1.0, 19.9, -1.05)]


def _strands(k: float, ahoge: str = "strand") -> list[Part]:
    """Side locks, back hair and the ahoge: the default "strand", a "tall" antenna or "none"."""
    parts = []
    for s in (1.0, -1.0):  # side locks framing the face
        parts.append(
            _strand(
                k,
                [(s * 1.2, 16.75, -0.6), (s * 1.42, 15.6, -0.75), (s * 1.3, 14.2, -0.62)],
                (0.42, 0.08),
                np.array([1.0, 0.0, 0.15 * s]),
            )
        )
    for x in (-0.75, 0.0, 0.75):  # long hair down the back
        parts.append(
            _strand(
                k,
                [(x, 16.6, 1.5), (x * 1.3, 14.8, 1.75), (x * 1.1, 12.3, 1.45)],
                (0.9, 0.25),
                np.array([1.0, 0.0, 0.0]),
                hair_bone="後髪",
            )
        )
    if ahoge == "none":
        return parts
    if ahoge == "tall":
        parts.append(_strand(k, TALL_AHOGE, (0.42, 0.04), np.array([1.0, 0.0, 0.0])))
        return parts
    # ahoge: one strand standing up from the crown, curling forward
    parts.append(
        _strand(
            k,
            [(0.0, 17.9, -0.15), (0.0, 18.9, -0.3), (0.25, 19.35, -0.75), (0.45, 19.1, -1.0)],
            (0.22, 0.02),
            np.array([1.0, 0.0, 0.0]),
        )
    )
    return parts
