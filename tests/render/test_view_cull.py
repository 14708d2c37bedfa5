"""Leaving out what the camera never sees (render/scene/view_cull.py, rigs/blender/static_split.py):
the triangle test and the split's rule that keeps every visible corner's smooth fan whole. Plain
numpy; the renders that compare with and without are in test_blender_scene.py."""

from __future__ import annotations

import numpy as np

from thagen.render.scene.view_cull import MARGIN_PX, MARGIN_SHARE, triangles_in_view
from thagen.rigs.blender.mesh import MeshArrays
from thagen.rigs.blender.static_split import SplitPlan

SIZE = 100
REACH = 0.5 + MARGIN_SHARE + MARGIN_PX / SIZE  # the frame's half width, widened, in frame units


def _tri(*points: tuple[float, float]) -> np.ndarray:
    """A triangle in camera-aligned world axes (x right, y up, z toward the camera)."""
    return np.array([[x, y, 0.0] for x, y in points])


def test_triangles_in_view() -> None:
    inside = _tri((0, 0), (0.1, 0), (0, 0.1))
    in_margin = _tri((0.52, 0), (0.53, 0), (0.52, 0.01))  # past the frame, within the filter margin
    right = _tri((REACH + 0.01, 0), (REACH + 0.2, 0), (REACH + 0.01, 0.1))
    below = _tri((0, -REACH - 0.01), (0.1, -REACH - 0.3), (0, -2))
    across = _tri((-3, -0.1), (3, -0.1), (0, 5))  # every corner outside, the triangle across the frame
    broken = _tri((np.nan, 0), (0, 0), (0, 0.1))
    corners = np.stack([inside, in_margin, right, below, across, broken])
    visible = triangles_in_view(corners, np.eye(4), 1.0, SIZE)
    assert visible.tolist() == [True, True, False, False, True, False]
    # the camera's pose and scale count: moved right by 2 frame widths, `right` is in view
    camera_inverse = np.eye(4)
    camera_inverse[0, 3] = -2.0 * 0.5  # world x 1.0 -> camera x 0 with ortho_scale 0.5
    shifted = triangles_in_view(right[None] + [0.6, 0, 0], camera_inverse, 0.5, SIZE)
    assert shifted.tolist() == [True]


def _arrays(corners: np.ndarray, count: int) -> MeshArrays:
    f = len(corners)
    return MeshArrays(
        positions=np.zeros((count, 3), np.float32),
        corners=corners.astype(np.int32),
        uvs=np.zeros((f, 3, 2), np.float32),
        material_index=np.zeros(f, np.int32),
        normals=np.zeros((count, 3), np.float32),
    )


def test_split_keeps_the_fans_of_visible_corners() -> None:
    # a strip of triangles 0..5 over vertices 0..7; triangle 0 moves, 1 is seen, 2..5 are not
    corners = np.array([[0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 5], [4, 5, 6], [5, 6, 7]])
    dynamic = np.zeros(8, bool)
    dynamic[0] = True
    visible = np.array([True, True, False, False, False, False])
    split = SplitPlan.of(_arrays(corners, 8), dynamic, visible)
    assert split is not None
    assert split.dynamic_faces.tolist() == [True, False, False, False, False, False]
    # triangle 2 and 3 share vertices 2 and 3 with the seen triangle 1: kept, so vertices 1, 2, 3
    # keep every face around them; 4 and 5 touch none of them: left out
    assert split.static_faces.tolist() == [False, True, True, True, False, False]
    assert split.culled == 2
    assert np.flatnonzero(split.boundary).tolist() == [1, 2]  # in both parts
    # nothing static seen at all: no split (one deforming mesh)
    assert SplitPlan.of(_arrays(corners, 8), dynamic, np.array([True] + [False] * 5)) is None
    # without a view nothing is left out
    whole = SplitPlan.of(_arrays(corners, 8), dynamic)
    assert whole is not None and whole.culled == 0 and whole.static_faces.sum() == 5
