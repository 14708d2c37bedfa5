"""Mesh building blocks for the built-in character: the Part every piece of geometry is built as,
and the grids, fans, shells and discs the parts are made of, kept apart from what the parts are
so the head, hair and body modules share one set of winding and tessellation rules.

Winding: in the stored (left-handed) coordinates, the right-handed cross product
(b - a) x (c - a) of an MMD face points out of the surface, along the vertex normals
(Gene: 47,029 of 47,106 faces agree). Parts are built that way.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Part:
    """One piece of geometry with its own material and weights, before merging."""

    material: str
    positions: np.ndarray  # (n, 3) float64
    uvs: np.ndarray  # (n, 2)
    faces: np.ndarray  # (m, 3) local indices, consistently wound
    bones: np.ndarray  # (n, 2) bone indices (second may be -1)
    weights: np.ndarray  # (n,) weight of the first bone
    tags: dict[str, np.ndarray] = field(default_factory=dict)  # named local vertex sets / data


def _grid_faces(rows: int, cols: int, offset: int = 0) -> np.ndarray:
    """Triangles of a rows x cols vertex grid (index r * cols + c), winding dRow x dCol."""
    r, c = np.meshgrid(np.arange(rows - 1), np.arange(cols - 1), indexing="ij")
    a = (r * cols + c).ravel()
    b = a + cols
    d = a + 1
    e = b + 1
    tris = np.concatenate([np.stack([a, b, d], 1), np.stack([d, b, e], 1)])
    return tris.astype(np.int64) + offset


def _fan_top(center: int, ring: np.ndarray) -> np.ndarray:
    """Fan from a pole vertex placed before the first grid row (same winding as _grid_faces)."""
    return np.stack([np.full(len(ring) - 1, center), ring[:-1], ring[1:]], 1)


def _fan_bottom(center: int, ring: np.ndarray) -> np.ndarray:
    """Fan to a pole vertex placed after the last grid row."""
    return np.stack([ring[:-1], np.full(len(ring) - 1, center), ring[1:]], 1)


def _orient(part: Part, outward: Callable[[np.ndarray], np.ndarray]) -> Part:
    """Flip the whole part if its faces point against `outward` (judged by area-weighted vote)."""
    p = part.positions[part.faces]
    cross = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
    if np.sum(cross * outward(p.mean(axis=1))) < 0:
        part.faces = part.faces[:, ::-1].copy()
    return part


def _smoothstep(e0: float, e1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def _n(base: int, k: float) -> int:
    return max(3, int(round(base * k)))


def _ellipsoid_grid(
    n_lon: int, theta_end: np.ndarray, n_rows: int, radii: np.ndarray, center: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Lat-long shell from the top pole down to theta_end(phi): positions, faces, u, v.

    Columns repeat the seam so UVs stay continuous. The bottom is open unless theta_end == pi
    (then a bottom pole vertex closes it).
    """
    phi = np.linspace(-math.pi, math.pi, n_lon + 1)
    frac = np.arange(1, n_rows + 1) / n_rows
    closed = bool(np.all(theta_end >= math.pi - 1e-9))
    if closed:
        frac = frac[:-1]
    theta = frac[:, None] * theta_end[None, :]
    st, ct = np.sin(theta), np.cos(theta)
    sp, cp = np.sin(phi)[None, :], np.cos(phi)[None, :]
    # phi = 0 faces the front (-Z); phi = +pi/2 is +X (the character's left)
    d = np.stack([st * sp, ct, -st * cp], -1).reshape(-1, 3)
    grid = center + d * radii
    rows = len(frac)
    cols = n_lon + 1
    top = len(grid)
    positions = [grid, (center + [0, radii[1], 0])[None]]
    faces = [_grid_faces(rows, cols), _fan_top(top, np.arange(cols))]
    u = np.concatenate([np.tile((phi + math.pi) / (2 * math.pi), rows), [0.5]])
    v = np.concatenate([np.repeat(frac, cols), [0.0]])
    if closed:
        bottom = top + 1
        positions.append((center - [0, radii[1], 0])[None])
        faces.append(_fan_bottom(bottom, np.arange((rows - 1) * cols, rows * cols)))
        u = np.concatenate([u, [0.5]])
        v = np.concatenate([v, [1.0]])
    return np.concatenate(positions), np.concatenate(faces), u, v


def _disc(n_rings: int, n_seg: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Polar unit disc: (radius, angle) per vertex (centre first) and faces wound dRing x dAngle."""
    r = np.arange(1, n_rings + 1) / n_rings
    a = np.linspace(0, 2 * math.pi, n_seg + 1)
    rr = np.concatenate([[0.0], np.repeat(r, n_seg + 1)])
    aa = np.concatenate([[0.0], np.tile(a, n_rings)])
    faces = np.concatenate([_fan_top(0, np.arange(1, n_seg + 2)), _grid_faces(n_rings, n_seg + 1, offset=1)])
    return rr, aa, faces


def _vertex_normals(positions: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted vertex normals, shared across seam duplicates (welded by position)."""
    p = positions[faces]
    fn = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
    key = np.round(positions / 1e-6).astype(np.int64)
    _, weld = np.unique(key, axis=0, return_inverse=True)
    weld = weld.ravel()
    acc = np.zeros((weld.max() + 1, 3))
    for corner in range(3):
        np.add.at(acc, weld[faces[:, corner]], fn)
    n = acc[weld]
    length = np.linalg.norm(n, axis=1, keepdims=True)
    return n / np.where(length > 0, length, 1.0)
