"""Which triangles an orthographic camera may see: what the import can leave out.

Every lighting preset is emission-only (render/scene/blender_lighting.py): no lights, no
shadows, no reflections; a ray leaves the camera and goes straight on through transparent
surfaces. So a triangle whose footprint on the image plane lies outside the frame never
colours a pixel, whatever else is in the scene. The frame is widened by the pixel filter's reach
and a margin (MARGIN_PX, MARGIN_SHARE), as in the QA's region renders. Plain numpy, no Blender.
"""

from __future__ import annotations

import numpy as np

MARGIN_PX = 4  # Blackman-Harris at 1.5 px reaches 1 px past a triangle's edge; 3 more to spare
MARGIN_SHARE = 0.05  # and 5% of the frame on each side


def triangles_in_view(
    corners: np.ndarray, camera_inverse: np.ndarray, ortho_scale: float, size: int
) -> np.ndarray:
    """(F,) bool: may the camera see triangle f? `corners`: (F, 3, 3) world positions;
    `camera_inverse`: the camera's 4x4 world-to-camera matrix; `ortho_scale`: the frame's width
    (and height: the image is square) in world units; `size`: the image's pixels per side."""
    tri = np.asarray(corners, np.float64).reshape(-1, 3, 3)
    inverse = np.asarray(camera_inverse, np.float64)
    local = tri @ inverse[:3, :3].T + inverse[:3, 3]
    u = local[..., 0] / float(ortho_scale)  # the frame spans -0.5 .. 0.5 on both axes
    v = local[..., 1] / float(ortho_scale)
    reach = 0.5 + MARGIN_SHARE + MARGIN_PX / max(int(size), 1)
    outside = (
        (u.max(axis=1) < -reach)
        | (u.min(axis=1) > reach)
        | (v.max(axis=1) < -reach)
        | (v.min(axis=1) > reach)
    )
    return ~outside & np.isfinite(local).all(axis=(1, 2))
