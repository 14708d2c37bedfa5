"""Pieces a variant puts on the built-in character's head: animal ears, a bow, a hat and a tall
ahoge (rigs/builtin/variants.py says which).

All stand above the skull, so none is the head top (docs/annotation.md): framing must see past
them. They are weighted to 頭 like the hair cap, as most real models weight their accessories,
and drawn with the hair, a ribbon or a hat material; materials.py's ACCESSORY_MATERIALS adds
the last two only to variants that have them.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from thagen.rigs.builtin.hair import CAP_CENTER, CAP_RADII
from thagen.rigs.builtin.mesh import Part, _disc, _ellipsoid_grid, _fan_top, _grid_faces, _n, _orient
from thagen.rigs.builtin.skeleton import _single
from thagen.rigs.builtin.textures import _uv_region


def _on_cap(theta: float, phi: float, inset: float = 0.0) -> np.ndarray:
    """A point on the hair cap: theta from the top, phi = 0 facing the front, +pi/2 the left."""
    d = np.array([math.sin(theta) * math.sin(phi), math.cos(theta), -math.sin(theta) * math.cos(phi)])
    return CAP_CENTER + d * (CAP_RADII - inset)


def _away_from(origin: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """The outward direction of a closed piece around `origin`, for _orient."""

    def outward(c: np.ndarray) -> np.ndarray:
        return c - origin

    return outward


def _frame(axis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors across `axis`: the first in the front view's plane, the second toward the back."""
    across = np.cross(axis, [0.0, 0.0, 1.0])
    across /= np.linalg.norm(across)
    return across, np.cross(across, axis)


def _cone(
    k: float, base: np.ndarray, axis: np.ndarray, length: float, radii: tuple[float, float], region: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A closed elliptic cone from `base` along `axis`: positions, faces, uvs (tip first)."""
    axis = axis / np.linalg.norm(axis)
    across, back = _frame(axis)
    n = _n(12, k)
    a = np.linspace(0, 2 * math.pi, n + 1)
    ring = base + radii[0] * np.cos(a)[:, None] * across + radii[1] * np.sin(a)[:, None] * back
    tip, bottom = base + length * axis, base - 0.05 * axis
    pos = np.concatenate([tip[None], ring, bottom[None]])
    ring_idx = np.arange(1, n + 2)
    faces = np.concatenate(
        [_fan_top(0, ring_idx), np.stack([ring_idx[1:], ring_idx[:-1], np.full(n, n + 2)], 1)]
    )
    uv = _uv_region(
        region, np.concatenate([[0.5], a / (2 * math.pi), [0.5]]), np.r_[0.0, np.ones(n + 1), 1.0]
    )
    return pos, faces, uv


def ears(k: float) -> list[Part]:
    """Two cat ears on the top sides of the hair, leaning outward."""
    parts = []
    for side in (1.0, -1.0):
        base = _on_cap(math.radians(36), side * math.radians(62), inset=0.12)
        pos, faces, uv = _cone(k, base, np.array([side * 0.5, 1.0, 0.05]), 1.2, (0.5, 0.17), "hair")
        bones, weights = _single(len(pos), "頭")
        part = Part("hair", pos, uv, faces, bones, weights)
        centre = base + 0.3 * np.array([side * 0.5, 1.0, 0.05])
        parts.append(_orient(part, _away_from(centre)))
    return parts


def _lobe(k: float, centre: np.ndarray, radii: tuple[float, float, float], tilt: float) -> Part:
    """A flattened ellipsoid tilted by `tilt` radians about the view axis (a bow's loop or knot)."""
    n_lon = _n(16, k)
    pos, faces, u, v = _ellipsoid_grid(
        n_lon, np.full(n_lon + 1, math.pi), _n(8, k), np.asarray(radii), np.zeros(3)
    )
    c, s = math.cos(tilt), math.sin(tilt)
    pos = pos @ np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]]) + centre
    bones, weights = _single(len(pos), "頭")
    part = Part("ribbon", pos, _uv_region("mouth", u, 0.5 * v), faces, bones, weights)
    return _orient(part, _away_from(centre))


def bow(k: float) -> list[Part]:
    """A big bow on the back of the crown: two loops rising above the head and a knot."""
    knot = _on_cap(math.radians(38), math.pi, inset=0.05)
    parts = [_lobe(k, knot, (0.28, 0.24, 0.2), 0.0)]
    for side in (1.0, -1.0):
        parts.append(_lobe(k, knot + [side * 0.78, 0.38, 0.08], (0.78, 0.42, 0.2), side * math.radians(28)))
    return parts


def hat(k: float) -> list[Part]:
    """A hat over the hair: a brim drooping a little at its edge and a closed cylindrical crown."""
    brim_y, top_y = 17.3, 18.85
    rx, rz = 1.32, 1.38  # the crown just clears the hair cap above the brim
    n = _n(40, k)
    a = np.linspace(-math.pi, math.pi, n + 1)
    sa, ca = np.sin(a), -np.cos(a)  # a = 0 faces the front (-Z)
    # brim: rings from the crown outward
    r = np.linspace(1.0, 1.8, _n(5, k))
    bx = (rx * r[:, None] * sa[None, :]).ravel()
    bz = CAP_CENTER[2] + (rz * r[:, None] * ca[None, :]).ravel()
    by = brim_y - 0.12 * np.repeat((r - 1.0) / 0.8, n + 1) ** 2
    brim_pos = np.stack([bx, by, bz], 1)
    brim_uv = _uv_region(
        "cloth", np.tile((a + math.pi) / (2 * math.pi), len(r)), np.repeat(0.1 + 0.2 * (r - 1), n + 1)
    )
    bones, weights = _single(len(brim_pos), "頭")
    brim = Part("hat", brim_pos, brim_uv, _grid_faces(len(r), n + 1), bones, weights)
    brim = _orient(brim, lambda c: np.tile([0.0, 1.0, 0.0], (len(c), 1)))
    # crown: a wall from the brim up, closed by a disc on top
    ys = np.linspace(brim_y - 0.02, top_y, _n(6, k))
    wall = np.stack(
        [np.tile(rx * sa, len(ys)), np.repeat(ys, n + 1), CAP_CENTER[2] + np.tile(rz * ca, len(ys))], 1
    )
    rr, aa, disc_faces = _disc(_n(3, k), n)
    lid = np.stack([rx * rr * np.sin(aa), np.full(len(rr), top_y), CAP_CENTER[2] - rz * rr * np.cos(aa)], 1)
    pos = np.concatenate([wall, lid])
    faces = np.concatenate([_grid_faces(len(ys), n + 1), disc_faces + len(wall)])
    uv = _uv_region(
        "cloth",
        np.concatenate([np.tile((a + math.pi) / (2 * math.pi), len(ys)), 0.5 + 0.5 * rr * np.cos(aa)]),
        np.concatenate(
            [np.repeat(0.5 + 0.4 * (ys - brim_y) / (top_y - brim_y), n + 1), 0.5 + 0.5 * rr * np.sin(aa)]
        ),
    )
    bones, weights = _single(len(pos), "頭")
    centre = np.array([0.0, 0.5 * (brim_y + top_y), CAP_CENTER[2]])
    crown = _orient(Part("hat", pos, uv, faces, bones, weights), _away_from(centre))
    return [brim, crown]
