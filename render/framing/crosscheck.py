"""The head-top / chin estimate checked against the rest of the head's geometry (pure numpy).

The estimate (estimate.py) measures the head top on a column profile of the head's vertices.
On a low-poly chibi VRM (about 3,100 vertices, the head half the body) its spike (ahoge) rule
removed the whole skull: the hair's few big triangles left columns holding only the face's
vertices, the skull read as a comb of spikes over them, and the reset image showed the band
from the eyes to the mouth. Whatever the cause, some answers are impossible for a head, and the
geometry says so (each check has a name that notes and confidence.py use):

- `profile_gaps`: the piece of the head the top lies on (hair cap, face: connected through head
  triangles) still spans the centre line just above it: columns missed that piece;
- `spike_took_head`: that piece is still broad a little higher up: the top is inside the head;
- `thin_top`: just below the top the silhouette around it is a strand (a curled ahoge kept);
- `short_head`: the top is less than one eye-to-mouth distance above the eyes (the eyes: what
  the eye-close morph moves; the mouth: the rows the mouth-open morph moves most);
- `below_face`: the top is below the top of the face's own surface;
- `chin_above_mouth`: the chin is not below the mouth.

Only the piece the top lies on counts above it, so a separate hat or ear standing over a right
answer is confidence.py's business, not a failure. A failed top is replaced by the first of
these that passes every check: the estimate's own rule on the exact silhouette (silhouette.py,
no empty columns at any tessellation), the top of the head's broad mass (the highest row where
the silhouette's run across the centre line is broad, extended to the dome's apex), the
eye-to-mouth proportions; a failed chin by the proportions. A note starting "cross-check:"
says what and why. On normal heads no check holds and the estimate is returned bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from thagen.render.framing.profile import PROFILE_BINS, head_top_profile
from thagen.render.framing.silhouette import column_edge_points, row_intervals

# the checks, by the names notes and confidence.py use
CHECKS = ("profile_gaps", "spike_took_head", "thin_top", "short_head", "below_face", "chin_above_mouth")
GAP_STEP = 0.01  # of the head height: the row above the top where the head must have ended...
GAP_BROAD = 0.20  # ...that is, be narrower than this share of the face's width across the centre
ABOVE_STEP = 0.10  # of the face half-width: the row above the top that must not be broad
BELOW_STEP = 0.25  # ...and the row below it that must not be thin
BROAD = 0.35  # a run across the centre at least this share of the face's width is the head
THIN = 0.15  # a run around the top under this share of the face's width is a strand
SHORT = 1.0  # the head top is at least this many eye-to-mouth distances above the eyes
FACE_SLACK = 0.02  # of the face half-width: how far below the face's top the head top may be
TOP_OVER_EYES = 1.6  # the last resort: a typical head top, in eye-to-mouth distances above the eyes
CHIN_UNDER_EYES = 1.3  # ...and the chin, in eye-to-mouth distances below the eyes
SCAN_STEP = 0.05  # of the face half-width: the coarse scan for the broad mass, refined by bisection
APEX_DEPTH = 0.10  # of the face half-width: the second row used to extend the mass to its apex


@dataclass
class HeadGeometry:
    """What estimate_framing measured, in the reset pose (head_mesh.py says how)."""

    pos: np.ndarray  # (N, 3) vertex positions, the mouth-open morph applied
    head: np.ndarray  # (N,) bool: the head's vertices
    head_tri: np.ndarray  # (T, 3) triangles of head vertices
    labels: np.ndarray  # (N,) the connected piece of the head each vertex is on
    face: np.ndarray  # (N,) bool: the face's vertices (all of the head's when none was found)
    cx: float  # the head's centre line
    half_width: float  # the face's half-width above the mouth
    mouth_y: float  # the rows the mouth-open morph moves most
    eye_y: float | None  # the eyes' height (head_mesh.eye_height); None without eyes or mouth
    face_found: bool = True  # False: `face` is every head vertex, its top says nothing

    @property
    def eye_gap(self) -> float | None:
        """Eye-to-mouth distance, the head's own yardstick (None when unknown)."""
        if self.eye_y is None or self.eye_y <= self.mouth_y:
            return None
        return self.eye_y - self.mouth_y


@dataclass
class CrossCheck:
    """The checked head top and chin, and a note for each thing changed."""

    head_top: np.ndarray
    chin: np.ndarray
    notes: list[str] = field(default_factory=list)


def _run_at(intervals: np.ndarray, x: float) -> float:
    """Width of the merged run of `intervals` that contains x (0 when x is background)."""
    if len(intervals) == 0:
        return 0.0
    order = np.argsort(intervals[:, 0], kind="stable")
    lo, hi = intervals[order, 0], intervals[order, 1]
    reach = np.maximum.accumulate(hi)
    new = np.concatenate([[True], lo[1:] > reach[:-1]])
    group = np.cumsum(new) - 1
    starts = lo[new]
    ends = np.zeros(len(starts))
    np.maximum.at(ends, group, hi)
    inside = (starts <= x) & (ends >= x)
    return float((ends - starts)[inside].max()) if np.any(inside) else 0.0


def _upper(geom: HeadGeometry) -> tuple[np.ndarray, np.ndarray]:
    """The front view's points and the head triangles reaching above the mouth."""
    tri = geom.head_tri
    if tri.size:
        tri = tri[geom.pos[tri, 1].max(axis=1) >= geom.mouth_y]
    return geom.pos[:, :2], tri


def _run(geom: HeadGeometry, y: float, x: float, tri: np.ndarray | None = None) -> float:
    """Share of the face's width that the run of the silhouette through (x, y) covers; `tri`:
    only these triangles (default: the head's, above the mouth)."""
    xy, upper = _upper(geom)
    return _run_at(row_intervals(xy, upper if tri is None else tri, y), x) / (2.0 * geom.half_width)


def _piece(geom: HeadGeometry, point: np.ndarray) -> np.ndarray:
    """The head triangles (above the mouth) of the connected piece `point` lies on: the hair
    cap, the face, an ear, a hat; pieces standing apart are not the chosen top's head."""
    _, tri = _upper(geom)
    if tri.size == 0:
        return tri
    verts = np.unique(tri)
    near = verts[np.argmin(np.hypot(geom.pos[verts, 0] - point[0], geom.pos[verts, 1] - point[1]))]
    return tri[geom.labels[tri[:, 0]] == geom.labels[near]]


def broad_top(geom: HeadGeometry) -> float | None:
    """Top of the head's broad mass: the highest row whose run across the centre line is at
    least BROAD of the face's width, extended to the apex of a dome through it (the run's
    width squared falls linearly to the apex); None when no row above the mouth is broad."""
    xy, tri = _upper(geom)
    s = geom.half_width
    if tri.size == 0:
        return None

    def broad(y: float) -> bool:
        return _run_at(row_intervals(xy, tri, y), geom.cx) >= BROAD * 2 * s

    top = float(geom.pos[tri, 1].max())
    y = top
    while y > geom.mouth_y and not broad(y):
        y -= SCAN_STEP * s
    if y <= geom.mouth_y:
        return None
    lo, hi = y, min(top, y + SCAN_STEP * s)
    for _ in range(12):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if broad(mid) else (lo, mid)
    w1 = _run_at(row_intervals(xy, tri, lo), geom.cx)
    w2 = _run_at(row_intervals(xy, tri, lo - APEX_DEPTH * s), geom.cx)
    if w2 <= 1.05 * w1:
        return lo
    return lo + min(w1**2 * APEX_DEPTH * s / (w2**2 - w1**2), 3 * APEX_DEPTH * s)


def exact_top(geom: HeadGeometry) -> np.ndarray | None:
    """The estimate's own rule (profile.py) on the exact silhouette: the head's vertices above
    the mouth plus where its triangles' edges cross every column boundary, so no column of a
    big triangle is left to the lower points behind it. None when nothing is in the band."""
    hw = geom.half_width
    pts = geom.pos[geom.head]
    pts = pts[pts[:, 1] >= geom.mouth_y]
    _, tri = _upper(geom)
    lines = geom.cx - hw + np.arange(PROFILE_BINS + 1) * (2 * hw / PROFILE_BINS)
    cross = column_edge_points(geom.pos, tri, lines, geom.mouth_y)
    nudge = np.array([1e-9 * hw, 0.0, 0.0])  # a point on a boundary counts for both its columns
    pts = np.concatenate([pts, cross + nudge, cross - nudge])
    if not np.any(np.abs(pts[:, 0] - geom.cx) <= hw):
        return None
    _, index, _ = head_top_profile(pts, geom.cx, hw)
    return None if index is None else pts[index].copy()


def _face_top(geom: HeadGeometry) -> float:
    if not geom.face_found:
        return -np.inf
    band = geom.face & (np.abs(geom.pos[:, 0] - geom.cx) <= geom.half_width)
    return float(geom.pos[band, 1].max()) if np.any(band) else -np.inf


def top_problems(geom: HeadGeometry, top: np.ndarray) -> list[str]:
    """The checks a head top fails (see the module docstring), each with its measurement."""
    s, y = geom.half_width, float(top[1])
    problems = []
    above = _run(geom, y + ABOVE_STEP * s, geom.cx, _piece(geom, top))
    if above >= BROAD:
        problems.append(
            f"spike_took_head (the piece the top is on is still {above:.0%} of the face's width "
            "wide across the centre line above it)"
        )
    below = _run(geom, y - BELOW_STEP * s, float(top[0]))
    if below < THIN:
        problems.append(f"thin_top (the top is on a piece {below:.0%} of the face's width wide)")
    gap = geom.eye_gap
    if gap is not None and geom.eye_y is not None:
        ratio = (y - geom.eye_y) / gap
        if ratio < SHORT:
            problems.append(f"short_head (the top is {ratio:.2f} eye-to-mouth distances above the eyes)")
    face_top = _face_top(geom)
    if y < face_top - FACE_SLACK * s:
        problems.append(f"below_face (the face's surface reaches {face_top - y:.3f} higher)")
    return problems


def _point_near(geom: HeadGeometry, y: float) -> np.ndarray:
    """A point on the centre line at height y, its depth from the nearest head vertex (for display)."""
    xy, tri = _upper(geom)
    verts = np.unique(tri) if tri.size else np.arange(len(geom.pos))
    near = verts[np.argmin(np.hypot(geom.pos[verts, 0] - geom.cx, geom.pos[verts, 1] - y))]
    return np.array([geom.cx, y, geom.pos[near, 2]])


def _checked_top(geom: HeadGeometry, head_top: np.ndarray, chin: np.ndarray) -> tuple[np.ndarray, str]:
    """The head top after the checks, and the note saying what changed (empty when nothing)."""
    old, top = float(head_top[1]), head_top
    problems = top_problems(geom, head_top)
    # the piece the top is on must end there: when it still spans the centre line a little
    # above, the profile's columns missed it (big triangles holding few points)
    run = _run(geom, old + GAP_STEP * (old - float(chin[1])), geom.cx, _piece(geom, head_top))
    why, how = [], ""
    if run >= GAP_BROAD or problems:
        exact = exact_top(geom)
        if exact is not None and float(exact[1]) > old and not top_problems(geom, exact):
            top, how = exact, "the exact silhouette"
            if run >= GAP_BROAD:
                why.append(
                    f"profile_gaps (the piece the top is on is still {run:.0%} of the face's width "
                    f"wide just above it; the exact silhouette's top is {float(exact[1]) - old:.3f} higher)"
                )
    why += problems
    if top is head_top and problems:
        gap, eye_y = geom.eye_gap, geom.eye_y
        found = broad_top(geom)
        if found is not None and not top_problems(geom, _point_near(geom, found)):
            top, how = _point_near(geom, found), "the top of the head's broad mass"
        elif gap is not None and eye_y is not None:
            top = _point_near(geom, max(eye_y + TOP_OVER_EYES * gap, _face_top(geom)))
            how = "the eye-to-mouth proportions"
        else:
            return head_top, f"cross-check failed: head top at {old:.3f}: {'; '.join(why)}; kept it"
    if top is head_top:
        return head_top, ""
    return top, f"cross-check: head top {old:.3f} -> {float(top[1]):.3f} from {how}: {'; '.join(why)}"


def cross_check(geom: HeadGeometry, head_top: np.ndarray, chin: np.ndarray) -> CrossCheck:
    """The estimate's head top and chin, replaced by geometry-derived ones where they fail."""
    result = CrossCheck(head_top, chin)
    result.head_top, note = _checked_top(geom, head_top, chin)
    if note:
        result.notes.append(note)
    gap, eye_y = geom.eye_gap, geom.eye_y
    if float(chin[1]) >= geom.mouth_y:
        old = float(chin[1])
        if gap is not None and eye_y is not None:
            y = eye_y - CHIN_UNDER_EYES * gap
            result.chin = np.array([geom.cx, y, chin[2]])
            result.notes.append(
                f"cross-check: chin {old:.3f} -> {y:.3f} from the eye-to-mouth proportions: "
                f"chin_above_mouth (the mouth is at {geom.mouth_y:.3f})"
            )
        else:
            result.notes.append(
                f"cross-check failed: chin at {old:.3f}: chin_above_mouth (the mouth is at {geom.mouth_y:.3f}); kept it"
            )
    return result
