"""The built-in character's body below the head: neck, torso, arms and legs, as tubes.

Simple shapes are enough here: THA renders frame the head, so the body only has to be there,
clothed, and weighted to 首 / 上半身 / 下半身 the way MMD models are.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from thagen.rigs.builtin.mesh import Part, _fan_bottom, _grid_faces, _n, _orient
from thagen.rigs.builtin.skeleton import _blend, _single
from thagen.rigs.builtin.textures import _uv_region


def _lathe(
    k: float,
    profile: list[tuple[float, float, float]],
    n_around: int,
    axis_xz: tuple[float, float],
    power: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Surface of revolution-like tube through rings (y, half width, half depth), top to bottom."""
    prof = np.asarray(profile, float)
    n_rows = _n(len(prof) * 2, k)
    # resample the profile smoothly (piecewise linear in a parameter)
    s = np.linspace(0, len(prof) - 1, n_rows)
    y = np.interp(s, np.arange(len(prof)), prof[:, 0])
    w = np.interp(s, np.arange(len(prof)), prof[:, 1])
    d = np.interp(s, np.arange(len(prof)), prof[:, 2])
    n = _n(n_around, k)
    a = np.linspace(-math.pi, math.pi, n + 1)
    ca, sa = np.cos(a), np.sin(a)
    ex = 2.0 / power
    sx = np.sign(sa) * np.abs(sa) ** ex  # x
    sz = -np.sign(ca) * np.abs(ca) ** ex  # a = 0 faces the front (-Z)
    x = axis_xz[0] + w[:, None] * sx[None, :]
    z = axis_xz[1] + d[:, None] * sz[None, :]
    yy = np.repeat(y[:, None], n + 1, 1)
    pos = np.stack([x, yy, z], -1).reshape(-1, 3)
    u = np.tile((a + math.pi) / (2 * math.pi), n_rows)
    v = np.repeat(s / (len(prof) - 1), n + 1)
    return pos, _grid_faces(n_rows, n + 1), u, v


def _radial(axis_xz: tuple[float, float]) -> Callable[[np.ndarray], np.ndarray]:
    def outward(c: np.ndarray) -> np.ndarray:
        o = c.copy()
        o[:, 0] -= axis_xz[0]
        o[:, 1] = 0.0
        o[:, 2] -= axis_xz[1]
        return o

    return outward


def _neck(k: float) -> Part:
    axis = (0.0, 0.18)
    pos, faces, u, v = _lathe(k, [(15.6, 0.38, 0.36), (14.5, 0.38, 0.36), (13.2, 0.42, 0.4)], 24, axis, 2.0)
    y = pos[:, 1]
    bones_top, w_top = _blend(y, "頭", "首", 14.9, 15.35)
    bones_low, w_low = _blend(y, "首", "上半身", 13.3, 13.75)
    upper = y > 14.4
    bones = np.where(upper[:, None], bones_top, bones_low)
    weights = np.where(upper, w_top, w_low)
    part = Part("skin", pos, _uv_region("skin2", u, v), faces, bones, weights)
    return _orient(part, _radial(axis))


def _torso(k: float) -> Part:
    axis = (0.0, 0.12)
    profile = [
        (13.95, 0.43, 0.41),
        (13.75, 1.25, 0.7),
        (13.35, 1.68, 0.82),
        (12.3, 1.5, 0.95),
        (11.1, 1.12, 0.74),
        (10.3, 1.28, 0.8),
        (9.3, 1.6, 1.0),
        (8.3, 1.95, 1.25),
    ]
    pos, faces, u, v = _lathe(k, profile, 40, axis, 2.6)
    bones, weights = _blend(pos[:, 1], "上半身", "下半身", 10.35, 10.85)
    part = Part("body", pos, _uv_region("cloth", u, v), faces, bones, weights)
    return _orient(part, _radial(axis))


def _limb(
    k: float, top: tuple[float, float, float], bottom: tuple[float, float, float], radii: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A tapered tube from `top` to `bottom`, closed at the bottom."""
    n_rows = _n(12, k)
    n = _n(16, k)
    t = np.linspace(0, 1, n_rows)
    p0, p1 = np.asarray(top, float), np.asarray(bottom, float)
    centre = p0 + (p1 - p0) * t[:, None]
    r = radii[0] + (radii[1] - radii[0]) * t
    axis = (p1 - p0) / np.linalg.norm(p1 - p0)
    e1 = np.cross(axis, [0.0, 0.0, 1.0])
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(axis, e1)
    a = np.linspace(0, 2 * math.pi, n + 1)
    ring = np.cos(a)[:, None] * e1 + np.sin(a)[:, None] * e2
    pos = (centre[:, None, :] + r[:, None, None] * ring[None]).reshape(-1, 3)
    tip = len(pos)
    pos = np.concatenate([pos, (p1 + axis * radii[1] * 0.6)[None]])
    faces = np.concatenate(
        [_grid_faces(n_rows, n + 1), _fan_bottom(tip, np.arange((n_rows - 1) * (n + 1), n_rows * (n + 1)))]
    )
    u = np.concatenate([np.tile(a / (2 * math.pi), n_rows), [0.5]])
    v = np.concatenate([np.repeat(t, n + 1), [1.0]])
    return pos, faces, u, v


def _limbs(k: float) -> list[Part]:
    parts = []
    for s in (1.0, -1.0):
        top, bottom = (s * 1.45, 13.3, 0.12), (s * 2.25, 8.9, 0.2)
        pos, faces, u, v = _limb(k, top, bottom, (0.34, 0.22))
        bones, weights = _single(len(pos), "上半身")
        arm = Part("body", pos, _uv_region("cloth", u, v), faces, bones, weights)
        parts.append(_orient(arm, _limb_outward(top, bottom)))
        top, bottom = (s * 0.55, 9.2, 0.15), (s * 0.6, 0.2, 0.15)
        pos, faces, u, v = _limb(k, top, bottom, (0.5, 0.3))
        bones, weights = _single(len(pos), "下半身")
        leg = Part("skin", pos, _uv_region("skin2", u, v), faces, bones, weights)
        parts.append(_orient(leg, _limb_outward(top, bottom)))
    return parts


def _limb_outward(top: tuple[float, float, float], bottom: tuple[float, float, float]) -> Callable:
    p0, p1 = np.asarray(top, float), np.asarray(bottom, float)
    axis = (p1 - p0) / np.linalg.norm(p1 - p0)

    def outward(c: np.ndarray) -> np.ndarray:
        rel = c - p0
        along = np.clip(rel @ axis, None, np.linalg.norm(p1 - p0))
        return rel - along[:, None] * axis

    return outward
