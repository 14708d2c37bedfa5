"""The built-in character's face parts: the head's skin, the eyes with their upper lids, and the
mouth interior, each with the closed or open shapes its morphs move it to (kept in Part.tags).

The shapes follow the face surface of rigs/builtin/head.py; rigs/builtin/morphs.py turns the
stored shapes into the blink, wink and vowel morphs.
"""

from __future__ import annotations

import math

import numpy as np

from thagen.rigs.builtin.head import (
    EYE_CENTER_X,
    EYE_CENTER_Y,
    EYE_RX,
    EYE_RY,
    HEAD_CENTER,
    HEAD_RADII,
    MOUTH_REST,
    MOUTH_SHAPES,
    MOUTH_Y,
    _face_z,
    _face_z_jaw,
    _head_deform,
    _jaw_weight,
)
from thagen.rigs.builtin.mesh import Part, _disc, _ellipsoid_grid, _grid_faces, _n, _orient
from thagen.rigs.builtin.skeleton import _single
from thagen.rigs.builtin.textures import _uv_region


def _head(k: float) -> Part:
    n_lon = _n(48, k)
    n_rows = _n(34, k)
    pos, faces, u, v = _ellipsoid_grid(n_lon, np.full(n_lon + 1, math.pi), n_rows, HEAD_RADII, HEAD_CENTER)
    pos = _head_deform(pos)
    bones, weights = _single(len(pos), "頭")
    part = Part("face", pos, _uv_region("skin", u, v), faces, bones, weights)
    part.tags["jaw"] = _jaw_weight(pos[:, 1])
    return _orient(part, lambda c: c - HEAD_CENTER)


def _close_line(x: np.ndarray, cx: float, smile: bool) -> np.ndarray:
    """Where a closed eye's lash line lies: a slight U for a normal close, an arch for a smile."""
    u = np.clip((x - cx) / EYE_RX, -1.2, 1.2)
    base = EYE_CENTER_Y - 0.35 * EYE_RY
    bump = 0.24 * EYE_RY if smile else -0.05
    return base + bump * (1 - u**2)


def _eye(k: float, side: float) -> tuple[Part, Part]:
    """Eye disc (iris texture) and its upper lid; closed shapes are stored in tags."""
    cx = side * EYE_CENTER_X
    rr, aa, faces = _disc(_n(6, k), _n(28, k))
    x = cx + EYE_RX * rr * np.cos(aa)
    y = EYE_CENTER_Y + EYE_RY * rr * np.sin(aa)
    pos = np.stack([x, y, _face_z(x, y) - 0.012], 1)
    uv = _uv_region("eye", 0.5 + 0.5 * rr * np.cos(aa), 0.5 - 0.5 * rr * np.sin(aa))
    bones, weights = _single(len(pos), "左目" if side > 0 else "右目")
    disc = _orient(Part("eye", pos, uv, faces, bones, weights), lambda c: np.array([0.0, 0.0, -1.0]))
    for smile in (False, True):
        yc = _close_line(x, cx, smile) + (y - EYE_CENTER_Y) * 0.04
        disc.tags["smile" if smile else "close"] = np.stack([x, yc, _face_z(x, yc) - 0.012], 1) - pos

    # lid: a band over the top arc, thicker in the middle, a little past both corners
    n_arc = _n(22, k)
    ang = np.linspace(-0.12, math.pi + 0.12, n_arc)
    thick = np.array([0.93, 1.0, 1.13])
    lx = cx + EYE_RX * 1.04 * np.cos(ang)[None, :] * np.ones((3, 1))
    base = EYE_CENTER_Y + EYE_RY * np.sin(ang)[None, :]
    lift = (thick[:, None] - 1.0) * EYE_RY * (0.4 + 0.6 * np.sin(np.clip(ang, 0, math.pi)))[None, :]
    ly = base + lift
    lx, ly = lx.ravel(), ly.ravel()
    lpos = np.stack([lx, ly, _face_z(lx, ly) - 0.03], 1)
    luv = _uv_region("lash", np.tile(np.linspace(0, 1, n_arc), 3), np.repeat([0.1, 0.5, 0.9], n_arc))
    bones, weights = _single(len(lpos), "頭")
    lid = _orient(
        Part("lash", lpos, luv, _grid_faces(3, n_arc), bones, weights), lambda c: np.array([0.0, 0.0, -1.0])
    )
    row_off = np.repeat([-0.035, 0.0, 0.05], n_arc)
    for smile in (False, True):
        yc = _close_line(lx, cx, smile) + row_off
        lid.tags["smile" if smile else "close"] = np.stack([lx, yc, _face_z(lx, yc) - 0.03], 1) - lpos
    return disc, lid


def _mouth_positions(rr: np.ndarray, aa: np.ndarray, shape: tuple[float, float, float, float]) -> np.ndarray:
    dy, w, h, drop = shape
    x = w * rr * np.cos(aa)
    y = MOUTH_Y + dy + h * rr * np.sin(aa)
    return np.stack([x, y, _face_z_jaw(x, y, drop) - 0.015], 1)


def _mouth(k: float) -> Part:
    rr, aa, faces = _disc(_n(5, k), _n(28, k))
    pos = _mouth_positions(rr, aa, MOUTH_REST)
    uv = _uv_region("mouth", 0.5 + 0.5 * rr * np.cos(aa), 0.5 - 0.5 * rr * np.sin(aa))
    bones, weights = _single(len(pos), "頭")
    part = _orient(Part("mouth", pos, uv, faces, bones, weights), lambda c: np.array([0.0, 0.0, -1.0]))
    for name, (_, shape) in MOUTH_SHAPES.items():
        part.tags[name] = _mouth_positions(rr, aa, shape) - pos
    return part
