"""A small MMD-style character generated in code, so demos and tests need no downloaded model.

It is built like a real MMD model, in MMD's frame (Y up, the character faces -Z, +X is the
character's LEFT, about 20 units tall, head about 3 units high at y 14.9-18.0): a head with a
pointed chin, hair (a cap with bangs, side locks, back strands and one upward "ahoge" strand,
which framing must ignore), eyes as discs in front of the face with upper lids, a dark mouth
interior that grows when the mouth opens, neck, torso, arms and legs. Bones, weights, morphs,
materials, a texture atlas and a toon ramp follow MMD conventions (Japanese names, English
names in name_en), so the whole pipeline can run on it end to end. The head, face, hair cap,
side locks and ahoge are weighted to 頭; the long back hair hangs from its own bone 後髪 under
頭, as in most real models.

Eye morphs: まばたき closes both eyes; ウィンク / ウィンク右 are smile winks (closed in an arc);
ウィンク２ / ｳｨﾝｸ２右 are normal closes, offset-for-offset one half of まばたき, like the real
models THA1 meets. Mouth morphs あいうえお change the mouth interior; あ and お also drop the jaw.
After them come THA2's expression morphs (rigs/builtin/expressions.py), one per THA2 parameter
but one, so THA2 / THA3 rig normalization has a known answer.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from thagen.rigs.builtin.expressions import expression_morphs
from thagen.rigs.model import (
    Bone,
    BoneFlag,
    DeformType,
    DisplayFrame,
    Material,
    MaterialFlag,
    Model,
    Morph,
    MorphKind,
)

ATLAS_NAME = "builtin_atlas.png"
TOON_NAME = "builtin_toon.png"
ATLAS_SIZE = 512

# Head: an ellipsoid narrowed toward the chin (see _head_deform / _face_z).
HEAD_CENTER = np.array([0.0, 16.45, 0.05])
HEAD_RADII = np.array([1.3, 1.55, 1.35])
CHIN_NARROW_X = 0.55
CHIN_NARROW_Z = 0.3
EYE_CENTER_X = 0.5
EYE_CENTER_Y = 16.15
EYE_RX, EYE_RY = 0.3, 0.34
EYE_PIVOT_X = 0.02
MOUTH_Y = 15.42
# mouth shapes: (centre dy, half width, half height, jaw drop)
MOUTH_REST = (0.0, 0.26, 0.022, 0.0)
MOUTH_SHAPES: dict[str, tuple[str, tuple[float, float, float, float]]] = {
    "あ": ("mouth_a", (-0.1, 0.24, 0.21, 0.16)),
    "い": ("mouth_i", (0.0, 0.34, 0.06, 0.0)),
    "う": ("mouth_u", (-0.02, 0.12, 0.1, 0.03)),
    "え": ("mouth_e", (-0.04, 0.28, 0.13, 0.05)),
    "お": ("mouth_o", (-0.07, 0.17, 0.18, 0.12)),
}
# Winding: in the stored (left-handed) coordinates, the right-handed cross product
# (b - a) x (c - a) of an MMD face points out of the surface, along the vertex normals
# (Gene: 47,029 of 47,106 faces agree). Parts are built that way.

# Atlas regions in pixels: (x0, y0, x1, y1) of a 512 x 512 image.
REGION = {
    "skin": (0, 0, 256, 256),
    "eye": (256, 0, 384, 128),
    "lash": (384, 0, 512, 64),
    "mouth": (384, 64, 512, 192),
    "hair": (0, 256, 256, 512),
    "cloth": (256, 256, 512, 512),
    "skin2": (256, 128, 384, 256),
}

BONES = [
    # name, name_en, position, parent, tail (bone name or offset)
    ("全ての親", "master", (0.0, 0.0, 0.0), None, "センター"),
    ("センター", "center", (0.0, 8.0, 0.0), "全ての親", (0.0, -0.8, 0.0)),
    ("上半身", "upper body", (0.0, 10.6, 0.1), "センター", "首"),
    ("首", "neck", (0.0, 13.55, 0.15), "上半身", "頭"),
    ("頭", "head", (0.0, 15.25, 0.15), "首", (0.0, 1.6, 0.0)),
    ("両目", "eyes", (0.0, EYE_CENTER_Y, -1.2), "頭", (0.0, 0.0, -0.5)),
    # the eye bones pivot at the centre of the head's curve (just off the mid-plane, on their
    # own side), so turning one slides its flat eye disc along the face instead of into it
    ("左目", "eye_L", (EYE_PIVOT_X, HEAD_CENTER[1], HEAD_CENTER[2]), "頭", (0.0, 0.0, -0.5)),
    ("右目", "eye_R", (-EYE_PIVOT_X, HEAD_CENTER[1], HEAD_CENTER[2]), "頭", (0.0, 0.0, -0.5)),
    ("後髪", "hair_back", (0.0, 16.2, 1.5), "頭", (0.0, -3.5, 0.2)),
    ("下半身", "lower body", (0.0, 10.6, 0.1), "センター", (0.0, -1.6, 0.0)),
]
BONE_INDEX = {b[0]: i for i, b in enumerate(BONES)}

# material key -> (name, name_en, double sided, edge)
MATERIALS = [
    ("face", "顔", "face", False, True),
    ("eye", "目", "eyes", False, False),
    ("lash", "まつげ", "eyelashes", False, False),
    ("mouth", "口", "mouth", False, False),
    ("hair", "髪", "hair", True, True),
    ("skin", "肌", "skin", False, True),
    ("body", "服", "clothes", False, True),
]


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


# ---------------------------------------------------------------- mesh helpers


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


def _uv_region(key: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Map (u, v) in [0, 1] into an atlas region, half a pixel inside its border."""
    x0, y0, x1, y1 = REGION[key]
    pad = 1.0
    uu = (x0 + pad + np.clip(u, 0, 1) * (x1 - x0 - 2 * pad)) / ATLAS_SIZE
    vv = (y0 + pad + np.clip(v, 0, 1) * (y1 - y0 - 2 * pad)) / ATLAS_SIZE
    return np.stack([uu, vv], 1)


def _single(n: int, bone: str) -> tuple[np.ndarray, np.ndarray]:
    bones = np.full((n, 2), -1, np.int64)
    bones[:, 0] = BONE_INDEX[bone]
    return bones, np.ones(n)


def _blend(y: np.ndarray, upper: str, lower: str, y0: float, y1: float) -> tuple[np.ndarray, np.ndarray]:
    """Weights blending from `lower` (below y0) to `upper` (above y1)."""
    w_up = _smoothstep(y0, y1, y)
    bones = np.full((len(y), 2), -1, np.int64)
    bones[:, 0] = BONE_INDEX[upper]
    bones[:, 1] = BONE_INDEX[lower]
    return bones, w_up


# ---------------------------------------------------------------- head and face


def _head_deform(p: np.ndarray) -> np.ndarray:
    """Narrow the lower half of the head ellipsoid toward a chin."""
    q = p - HEAD_CENTER
    s = q[:, 1] / HEAD_RADII[1]
    t = np.clip(-s, 0, 1) ** 2
    q[:, 0] *= 1 - CHIN_NARROW_X * t
    q[:, 2] *= 1 - CHIN_NARROW_Z * t
    return q + HEAD_CENTER


def _face_z(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """z of the front of the head surface at (x, y) (the surface _head_deform makes)."""
    s = (y - HEAD_CENTER[1]) / HEAD_RADII[1]
    t = np.clip(-s, 0, 1) ** 2
    ax = HEAD_RADII[0] * (1 - CHIN_NARROW_X * t)
    cz = HEAD_RADII[2] * (1 - CHIN_NARROW_Z * t)
    inside = np.clip(1 - (x / ax) ** 2 - s**2, 0, None)
    return HEAD_CENTER[2] - cz * np.sqrt(inside)


def _jaw_weight(y: np.ndarray) -> np.ndarray:
    return _smoothstep(MOUTH_Y + 0.02, MOUTH_Y - 0.4, y)


def _face_z_jaw(x: np.ndarray, y: np.ndarray, drop: float) -> np.ndarray:
    """Face z at (x, y) after the jaw dropped by `drop` (inverting y0 -> y0 - drop * w(y0))."""
    y0 = y.copy()
    for _ in range(6):
        y0 = y + drop * _jaw_weight(y0)
    return _face_z(x, y0)


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


def _head(k: float) -> Part:
    n_lon = _n(48, k)
    n_rows = _n(34, k)
    pos, faces, u, v = _ellipsoid_grid(n_lon, np.full(n_lon + 1, math.pi), n_rows, HEAD_RADII, HEAD_CENTER)
    pos = _head_deform(pos)
    bones, weights = _single(len(pos), "頭")
    part = Part("face", pos, _uv_region("skin", u, v), faces, bones, weights)
    part.tags["jaw"] = _jaw_weight(pos[:, 1])
    return _orient(part, lambda c: c - HEAD_CENTER)


def _disc(n_rings: int, n_seg: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Polar unit disc: (radius, angle) per vertex (centre first) and faces wound dRing x dAngle."""
    r = np.arange(1, n_rings + 1) / n_rings
    a = np.linspace(0, 2 * math.pi, n_seg + 1)
    rr = np.concatenate([[0.0], np.repeat(r, n_seg + 1)])
    aa = np.concatenate([[0.0], np.tile(a, n_rings)])
    faces = np.concatenate([_fan_top(0, np.arange(1, n_seg + 2)), _grid_faces(n_rings, n_seg + 1, offset=1)])
    return rr, aa, faces


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


# ---------------------------------------------------------------- hair


def _hair_cap(k: float) -> Part:
    n_lon = _n(56, k)
    radii = HEAD_RADII + [0.14, 0.12, 0.14]
    center = HEAD_CENTER + [0.0, 0.0, 0.04]
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


def _strands(k: float) -> list[Part]:
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


# ---------------------------------------------------------------- neck and body


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


# ---------------------------------------------------------------- assembly


def _n(base: int, k: float) -> int:
    return max(3, int(round(base * k)))


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


def _parts(k: float) -> list[Part]:
    left_eye, left_lid = _eye(k, 1.0)
    right_eye, right_lid = _eye(k, -1.0)
    parts = [_head(k), left_eye, right_eye, left_lid, right_lid, _mouth(k), _hair_cap(k)]
    parts += _strands(k)
    parts += [_neck(k), _torso(k)]
    parts += _limbs(k)
    left_eye.tags["side"] = np.array([1.0])
    right_eye.tags["side"] = np.array([-1.0])
    left_lid.tags["side"] = np.array([1.0])
    right_lid.tags["side"] = np.array([-1.0])
    return parts


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


def _build(k: float) -> Model:
    order = [m[0] for m in MATERIALS]
    parts = sorted(_parts(k), key=lambda p: order.index(p.material))  # stable: keeps part order
    starts = np.cumsum([0] + [len(p.positions) for p in parts])
    n = int(starts[-1])
    positions = np.concatenate([p.positions for p in parts])
    faces = np.concatenate([p.faces + s for p, s in zip(parts, starts)])
    uvs = np.concatenate([p.uvs for p in parts])
    bones2 = np.concatenate([p.bones for p in parts])
    w1 = np.concatenate([p.weights for p in parts])
    normals = _vertex_normals(positions, faces)

    blended = (bones2[:, 1] >= 0) & (w1 > 1e-6) & (w1 < 1 - 1e-6)
    bone_indices = np.full((n, 4), -1, np.int32)
    bone_weights = np.zeros((n, 4), np.float32)
    # a vertex fully on the second bone of its pair is BDEF1 on that bone
    only_second = (bones2[:, 1] >= 0) & (w1 <= 1e-6)
    bone_indices[:, 0] = np.where(only_second, bones2[:, 1], bones2[:, 0])
    bone_weights[:, 0] = np.where(blended, w1, 1.0)
    bone_indices[blended, 1] = bones2[blended, 1]
    # BDEF2 stores only the first weight; the second is 1 - w in float32, as a reader rebuilds it
    bone_weights[blended, 1] = np.float32(1.0) - bone_weights[blended, 0]
    deform = np.where(blended, DeformType.BDEF2, DeformType.BDEF1).astype(np.uint8)

    materials = []
    for key, name, name_en, double_sided, edge in MATERIALS:
        mat_faces = sum(len(p.faces) for p in parts if p.material == key)
        first = sum(len(p.faces) for p in parts if order.index(p.material) < order.index(key))
        flags = MaterialFlag.GROUND_SHADOW | MaterialFlag.SELF_SHADOW_MAP | MaterialFlag.SELF_SHADOW
        if double_sided:
            flags |= MaterialFlag.DOUBLE_SIDED
        if edge:
            flags |= MaterialFlag.EDGE
        materials.append(
            Material(
                name=name,
                name_en=name_en,
                diffuse=np.array([1.0, 1.0, 1.0, 1.0], np.float32),
                specular=np.array([0.1, 0.1, 0.1], np.float32),
                specular_power=8.0,
                ambient=np.array([0.5, 0.5, 0.5], np.float32),
                flags=int(flags),
                edge_color=np.array([0.15, 0.1, 0.12, 1.0], np.float32),
                edge_size=float(np.float32(0.6)) if edge else 0.0,
                texture=0,
                toon_shared=False,
                toon_index=1,
                face_start=first,
                face_count=mat_faces,
            )
        )

    def start_of(part: Part) -> int:
        return int(starts[next(i for i, p in enumerate(parts) if p is part)])

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

    bones = []
    for name, name_en, pos, parent, tail in BONES:
        flags = BoneFlag.ROTATABLE | BoneFlag.VISIBLE | BoneFlag.ENABLED
        if name in ("全ての親", "センター"):
            flags |= BoneFlag.TRANSLATABLE
        bone = Bone(
            name=name,
            name_en=name_en,
            position=np.asarray(pos, np.float32),
            parent=BONE_INDEX[parent] if parent else -1,
        )
        if isinstance(tail, str):
            flags |= BoneFlag.TAIL_IS_BONE
            bone.tail_bone = BONE_INDEX[tail]
        else:
            bone.tail_offset = np.asarray(tail, np.float32)
        if name in ("左目", "右目"):
            flags |= BoneFlag.INHERIT_ROTATION
            bone.inherit_parent = BONE_INDEX["両目"]
            bone.inherit_weight = 1.0
        bone.flags = int(flags)
        bones.append(bone)

    frames = [
        DisplayFrame("Root", "Root", True, [(0, 0)]),
        DisplayFrame("表情", "Exp", True, [(1, i) for i in range(len(morphs))]),
        DisplayFrame(
            "体", "Body", False, [(0, BONE_INDEX[b]) for b in ("センター", "上半身", "下半身", "首", "頭")]
        ),
        DisplayFrame("目", "Eyes", False, [(0, BONE_INDEX[b]) for b in ("両目", "左目", "右目")]),
        DisplayFrame("髪", "Hair", False, [(0, BONE_INDEX["後髪"])]),
    ]
    return Model(
        format="pmx",
        version=2.0,
        encoding="utf-16-le",
        name="ビルトイン",
        name_en="thagen builtin",
        comment="thagen の内蔵テストキャラクター (コードで生成)",
        comment_en="thagen's built-in test character, generated in code; free to use (CC0).",
        positions=positions.astype(np.float32),
        normals=normals.astype(np.float32),
        uvs=uvs.astype(np.float32),
        extra_uvs=np.zeros((n, 0, 4), np.float32),
        deform_types=deform,
        bone_indices=bone_indices,
        bone_weights=bone_weights,
        sdef=np.zeros((n, 3, 3), np.float32),
        edge_scales=np.ones(n, np.float32),
        faces=faces.astype(np.int32),
        textures=[ATLAS_NAME, TOON_NAME],
        materials=materials,
        bones=bones,
        morphs=morphs,
        display_frames=frames,
    )


def builtin_character(target_vertices: int | None = None) -> Model:
    """The built-in character: about 5k vertices, or at least `target_vertices` (denser tessellation)."""
    model = _build(1.0)
    if target_vertices is None or model.vertex_count >= target_vertices:
        return model
    k = math.sqrt(target_vertices / model.vertex_count)
    while True:
        model = _build(k)
        if model.vertex_count >= target_vertices:
            return model
        k *= 1.0 + max(0.01, 0.5 * (target_vertices / model.vertex_count - 1))


# ---------------------------------------------------------------- textures


def _disk_mask(h: int, w: int, cx: float, cy: float, rx: float, ry: float) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return ((xx + 0.5 - cx) / rx) ** 2 + ((yy + 0.5 - cy) / ry) ** 2


def builtin_textures() -> dict[str, np.ndarray]:
    """The atlas (RGBA) and toon ramp (RGB) images, as uint8 arrays keyed by file name."""
    img = np.zeros((ATLAS_SIZE, ATLAS_SIZE, 4), np.float64)
    img[..., 3] = 255

    def fill(key: str, rgb: tuple[float, float, float]) -> tuple[slice, slice]:
        x0, y0, x1, y1 = REGION[key]
        img[y0:y1, x0:x1, :3] = rgb
        return slice(y0, y1), slice(x0, x1)

    # skin with a faint vertical gradient
    sy, sx = fill("skin", (255, 228, 212))
    img[sy, sx, :3] -= np.linspace(0, 10, sy.stop - sy.start)[:, None, None]
    fill("skin2", (250, 222, 206))
    fill("lash", (58, 34, 44))
    # eye: white, iris ring gradient, pupil, highlights
    sy, sx = fill("eye", (250, 250, 252))
    size = sx.stop - sx.start
    r = np.sqrt(_disk_mask(size, size, size / 2, size / 2 + 4, size * 0.36, size * 0.42))
    eye = img[sy, sx, :3]
    iris = r < 1.0
    t = np.clip(r, 0, 1)[..., None]
    eye[iris] = ((1 - t) * np.array([150, 90, 200]) + t * np.array([60, 30, 110]))[iris]
    eye[r < 0.42] = (30, 15, 45)
    eye[(r > 0.93) & iris] = (40, 20, 60)
    eye[np.sqrt(_disk_mask(size, size, size * 0.36, size * 0.36, size * 0.09, size * 0.11)) < 1] = 255
    eye[np.sqrt(_disk_mask(size, size, size * 0.62, size * 0.66, size * 0.04, size * 0.04)) < 1] = 235
    # mouth interior: dark red, tongue at the bottom
    sy, sx = fill("mouth", (96, 22, 34))
    size = sx.stop - sx.start
    mouth = img[sy, sx, :3]
    mouth[np.sqrt(_disk_mask(size, size, size / 2, size * 0.92, size * 0.36, size * 0.3)) < 1] = (
        214,
        104,
        120,
    )
    # hair: base colour with strand stripes and a highlight band
    sy, sx = fill("hair", (92, 74, 150))
    w = sx.stop - sx.start
    stripes = 14 * np.sin(np.arange(w) / w * 2 * math.pi * 11)[None, :, None]
    rows = np.arange(sy.stop - sy.start)[:, None, None]
    band = 45 * np.exp(-(((rows - 0.3 * w) / 10.0) ** 2))
    img[sy, sx, :3] += stripes + band
    # clothes: navy with white stripes (a sailor-style collar band)
    sy, sx = fill("cloth", (42, 52, 104))
    h = sy.stop - sy.start
    stripe_rows = (np.arange(h) % 64) < 6
    img[sy, sx, :3][stripe_rows] = (236, 236, 244)
    atlas = np.clip(np.round(img), 0, 255).astype(np.uint8)

    # toon: lit (top) to shadow (bottom) with a soft step, as MMD toon ramps are
    v = np.linspace(0, 1, 32)[:, None]
    step = _smoothstep(0.45, 0.6, v)
    toon = (1 - step) * np.array([255, 255, 255]) + step * np.array([226, 200, 206])
    toon = np.repeat(toon[:, None, :], 32, 1).reshape(32, 32, 3)
    return {ATLAS_NAME: atlas, TOON_NAME: np.clip(np.round(toon), 0, 255).astype(np.uint8)}


def write_builtin_character(
    directory: str | Path, name: str = "builtin", *, target_vertices: int | None = None
) -> Path:
    """Write `<name>.pmx` and its texture PNGs into `directory`; return the PMX path."""
    from PIL import Image

    from thagen.rigs.formats.pmx.reader import write_pmx

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for file_name, pixels in builtin_textures().items():
        Image.fromarray(pixels).save(directory / file_name)
    path = directory / f"{name}.pmx"
    write_pmx(builtin_character(target_vertices), path)
    return path
