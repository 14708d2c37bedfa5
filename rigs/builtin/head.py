"""The built-in character's head shape: where the head, eyes and mouth sit, and the face surface.

The head is an ellipsoid narrowed toward a pointed chin; the eyes and mouth lie just in front of
its surface, and opening the mouth drops the jaw. These numbers and surface functions are the
truth that tests and benchmarks compare framing and annotation against (the top of the hair cap,
the chin under the open mouth), so they live apart from the mesh and morph building that use them.
"""

from __future__ import annotations

import numpy as np

from thagen.rigs.builtin.mesh import _smoothstep

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
