"""The built-in character's texture atlas and toon ramp, painted in code, and the atlas layout.

Every part samples one 512 x 512 atlas (skin, eyes, lashes, mouth interior, hair, clothes), so the
layout (REGION) is shared by the UV mapping of the parts (_uv_region) and the painting here; the
images themselves are written beside the .pmx by write_builtin_character (rigs/builtin/files.py).
"""

from __future__ import annotations

import math

import numpy as np

from thagen.rigs.builtin.mesh import _smoothstep

ATLAS_NAME = "builtin_atlas.png"
TOON_NAME = "builtin_toon.png"
ATLAS_SIZE = 512

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


def _uv_region(key: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Map (u, v) in [0, 1] into an atlas region, half a pixel inside its border."""
    x0, y0, x1, y1 = REGION[key]
    pad = 1.0
    uu = (x0 + pad + np.clip(u, 0, 1) * (x1 - x0 - 2 * pad)) / ATLAS_SIZE
    vv = (y0 + pad + np.clip(v, 0, 1) * (y1 - y0 - 2 * pad)) / ATLAS_SIZE
    return np.stack([uu, vv], 1)


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
