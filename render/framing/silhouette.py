"""The head's front-view silhouette, row by row, computed exactly from its triangles (pure numpy).

The column profile (profile.py) looks at vertices and a few points along triangle edges: on a
dense mesh that is the silhouette, on a low-poly one whole columns of a big hair triangle hold
no point and take the face's lower vertices instead, so the skull reads as a row of spikes.
Here each row's coverage is the union of the x-intervals the triangles cut from it, which has
no gaps at any tessellation; crosscheck.py uses it to test the estimate and, when the estimate
fails, to find the top of the head's broad mass.
"""

from __future__ import annotations

import numpy as np


def row_intervals(xy: np.ndarray, tri: np.ndarray, y: float) -> np.ndarray:
    """(K, 2) x-intervals that the triangles `tri` (indices into the (N, 2) points `xy`) cut
    from the horizontal line at height `y` (front view: x across, y up)."""
    if tri.size == 0:
        return np.zeros((0, 2))
    corners = xy[tri]  # (T, 3, 2)
    ys = corners[:, :, 1]
    hit = (ys.min(axis=1) <= y) & (ys.max(axis=1) >= y)
    corners, ys = corners[hit], ys[hit]
    if len(corners) == 0:
        return np.zeros((0, 2))
    lo = np.full(len(corners), np.inf)
    hi = np.full(len(corners), -np.inf)
    for a, b in ((0, 1), (1, 2), (2, 0)):
        ya, yb = ys[:, a], ys[:, b]
        xa, xb = corners[:, a, 0], corners[:, b, 0]
        crosses = (np.minimum(ya, yb) <= y) & (np.maximum(ya, yb) >= y)
        flat = crosses & (ya == yb)  # an edge lying on the line: both its ends
        span = np.where(ya == yb, 1.0, yb - ya)
        x = np.where(flat, xa, xa + (y - ya) / span * (xb - xa))
        lo = np.where(crosses, np.minimum(lo, np.minimum(x, np.where(flat, xb, x))), lo)
        hi = np.where(crosses, np.maximum(hi, np.maximum(x, np.where(flat, xb, x))), hi)
    ok = lo <= hi
    return np.stack([lo[ok], hi[ok]], axis=1)


def covered_width(intervals: np.ndarray, x_lo: float, x_hi: float) -> float:
    """Length of the union of `intervals` inside [x_lo, x_hi]."""
    if len(intervals) == 0:
        return 0.0
    start = np.clip(intervals[:, 0], x_lo, x_hi)
    end = np.clip(intervals[:, 1], x_lo, x_hi)
    order = np.argsort(start, kind="stable")
    start, end = start[order], end[order]
    reach = np.maximum.accumulate(end)
    before = np.concatenate([[x_lo], reach[:-1]])
    return float(np.clip(end - np.maximum(start, before), 0.0, None).sum())


def coverage(xy: np.ndarray, tri: np.ndarray, y: float, cx: float, half_width: float) -> float:
    """Share of the band |x - cx| <= half_width that the silhouette covers at height `y`."""
    if half_width <= 0:
        return 0.0
    width = covered_width(row_intervals(xy, tri, y), cx - half_width, cx + half_width)
    return width / (2.0 * half_width)


def column_edge_points(pos: np.ndarray, tri: np.ndarray, xs: np.ndarray, y_min: float) -> np.ndarray:
    """(K, 3) points where the edges of `tri` cross the vertical lines x = xs (sorted), at or
    above `y_min`: with the vertices, they hold the exact maximum of the silhouette over every
    column between two lines (the outline is straight between them)."""
    if tri.size == 0 or len(xs) == 0:
        return np.zeros((0, 3))
    edges = np.unique(np.sort(tri[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1), axis=0)
    a, b = pos[edges[:, 0]], pos[edges[:, 1]]
    x_lo, x_hi = np.minimum(a[:, 0], b[:, 0]), np.maximum(a[:, 0], b[:, 0])
    first = np.searchsorted(xs, x_lo, side="left")
    last = np.searchsorted(xs, x_hi, side="right")
    count = np.clip(last - first, 0, None)
    keep = (count > 0) & (x_hi > x_lo)
    if not np.any(keep):
        return np.zeros((0, 3))
    counts = count[keep]
    e = np.repeat(np.nonzero(keep)[0], counts)
    offsets = np.repeat(np.cumsum(counts) - counts, counts)
    line = np.repeat(first[keep], counts) + np.arange(len(e)) - offsets
    t = ((xs[line] - a[e, 0]) / (b[e, 0] - a[e, 0]))[:, None]
    pts = a[e] + t * (b[e] - a[e])
    pts[:, 0] = xs[line]  # exactly on the line, whatever the rounding
    return pts[pts[:, 1] >= y_min]
