"""The head top from the front-view silhouette's column profile, without narrow upward spikes.

THA1's head top includes the skull and hair lying flat and excludes hair pointing upward
(ahoge). The profile of column maxima is opened (erosion then dilation) with a window 30% of
the head's width: the broad dome survives, narrower spikes do not, and columns standing
clearly above the opened profile are dropped. Kept apart from estimate.py so the cross-check
(crosscheck.py) can run the same rule on a gap-free silhouette.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

PROFILE_BINS = 64
OPENING_FRACTION = 0.30  # of the head's width: spikes narrower than this are not the head top
SPIKE_TOLERANCE = 0.03  # of the head's width: a column this far above the opened profile is a spike


def _sliding(values: np.ndarray, window: int, reduce: Callable[..., np.ndarray]) -> np.ndarray:
    half = window // 2
    padded = np.pad(values, half, mode="edge")
    view = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1)
    return reduce(view, axis=1)


def head_top_profile(points: np.ndarray, cx: float, half_width: float) -> tuple[float, int | None, list[str]]:
    """Top of the head from the front-view silhouette of `points`, without narrow upward spikes.

    Returns (top y, index into points of the top vertex, notes).
    """
    notes: list[str] = []
    x = points[:, 0]
    in_band = np.abs(x - cx) <= half_width
    if not np.any(in_band):
        return (
            float(points[:, 1].max()),
            int(np.argmax(points[:, 1])),
            ["head top: no vertex in the head band"],
        )
    idx = np.nonzero(in_band)[0]
    bins = np.clip(
        ((x[idx] - (cx - half_width)) / (2 * half_width) * PROFILE_BINS).astype(np.int64), 0, PROFILE_BINS - 1
    )
    prof = np.full(PROFILE_BINS, -np.inf)
    np.maximum.at(prof, bins, points[idx, 1])
    filled = np.isfinite(prof)
    # empty columns (sparse meshes) take their neighbours' heights, so they neither make nor hide spikes
    cols = np.arange(PROFILE_BINS)
    dense = np.interp(cols, cols[filled], prof[filled])
    window = max(3, int(round(OPENING_FRACTION * PROFILE_BINS)))
    opened = _sliding(_sliding(dense, window, np.min), window, np.max)
    spike = dense - opened > SPIKE_TOLERANCE * 2 * half_width
    keep = filled & ~spike
    if not np.any(keep):
        keep = filled
        notes.append("head top: every column looked like a spike; used the raw top")
    if np.any(filled & spike):
        top_spike = float(prof[filled & spike].max())
        top_keep = float(prof[keep].max())
        if top_spike > top_keep:
            notes.append(
                f"head top: ignored an upward spike (ahoge?) reaching {top_spike - top_keep:.3f} above the head"
            )
    best_col = int(cols[keep][np.argmax(prof[keep])])
    top = float(prof[best_col])
    in_col = idx[bins == best_col]
    top_vertex = int(in_col[np.argmax(points[in_col, 1])])
    return top, top_vertex, notes
