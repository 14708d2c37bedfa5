"""Cheaper QA renders: only the part of the image the eye and mouth morphs can change.

The two QA renders (eyes closed, mouth closed; render/character/qa_renders.py) differ from the
reset image only where the morphs move geometry. Here that area is found from the model, not
guessed: every vertex an eye or mouth morph moves, the faces around them and the faces around
those (a moved vertex turns its neighbours' smooth normals, which shade the next ring of faces),
projected at every combination of the morphs' weights, grown by the pixel filter's reach and a
margin. Cycles renders only that box (its per-pixel sampling makes those pixels the same bytes
as in a full render: tests/render/test_qa_region.py), and the reset image fills in the rest, so
the QA images, the checks on them (including "changed outside the expected region") and the
files written are what full renders would give, for about half the render time.

Where the box cannot be proven, the QA renders stay full: a morph with bone parts (it turns bones,
which move whatever they carry), a THA2/THA3 pose (more morphs than these), a rest pose that
turns the head, another engine than Cycles, or a box covering most of the image anyway.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import numpy as np

from thagen.render.character.qa_checks import Box, clip_box
from thagen.render.poses.vector_posing import is_vector_pose

if TYPE_CHECKING:
    from thagen.render.scene.renderer import Renderer
    from thagen.rigs.model import Model
    from thagen.rigs.normalize import RigReport

QA_ROLES = ("eye_close_left", "eye_close_right", "eye_close_both", "mouth_open")
ROTATIONS = ("head_x", "head_y", "neck_z")
PAD_PX = 4  # Blackman-Harris at 1.5 px reaches 1 px past a triangle's edge; 3 more to spare
PAD_SHARE = 0.01  # and 1% of the image size
MAX_AREA = 0.6  # a bigger box saves too little to be worth the compositing


def _role_offsets(model: Model, rig: RigReport, role: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(vertex indices, offsets) the role's morph applies; empty when the role has no morph;
    None when the morph has parts whose reach is not a set of vertices (bone morphs)."""
    from thagen.rigs.flatten import flatten_group_morph, morph_leaves
    from thagen.rigs.model import MorphKind

    if role in rig.synthetic_morphs:
        m = rig.synthetic_morphs[role]
        return np.asarray(m.indices, np.int64), np.asarray(m.values, np.float64).reshape(-1, 3)
    match = rig.matches.get(role)
    if match is None or not match.found or match.index is None:
        return np.zeros(0, np.int64), np.zeros((0, 3))
    kinds = {int(model.morphs[leaf].kind) for leaf, _ in morph_leaves(model, match.index)}
    if kinds - {int(MorphKind.VERTEX)}:
        return None
    idx, off = flatten_group_morph(model, match.index)
    return np.asarray(idx, np.int64), np.asarray(off, np.float64).reshape(-1, 3)


def _two_rings(faces: np.ndarray, moved: np.ndarray, n: int) -> np.ndarray:
    """Vertices of the faces within two face rings of the moved vertices (a mask over n)."""
    seen = np.zeros(n, bool)
    seen[moved] = True
    for _ in range(2):
        touching = seen[faces].any(axis=1)
        seen[faces[touching].ravel()] = True
    return seen


def qa_change_box(
    model: Model, rig: RigReport, renderer: Renderer, rest_pose: dict[str, float]
) -> Box | None:
    """The pixel box (x0, y0, x1, y1) outside which the QA renders equal the reset image, or None
    when it cannot be proven or would save little (render the QA images whole)."""
    if renderer.engine != "cycles" or is_vector_pose(rest_pose):
        return None
    if any(abs(float(rest_pose.get(k, 0.0))) > 0.0 for k in ROTATIONS):
        return None
    maybe = [_role_offsets(model, rig, role) for role in QA_ROLES]
    parts = [p for p in maybe if p is not None]
    if len(parts) < len(maybe):
        return None
    n = model.vertex_count
    offsets = np.zeros((len(QA_ROLES), n, 3))
    for k, (idx, off) in enumerate(parts):
        if idx.size and (idx.min() < 0 or idx.max() >= n or len(off) != len(idx)):
            return None
        np.add.at(offsets[k], idx, off)
    moved = np.flatnonzero(np.abs(offsets).max(axis=(0, 2)) > 0.0)
    size = int(renderer.image_size)
    if moved.size == 0:
        return None  # nothing moves: the checks flag it; a full render shows it
    faces = np.asarray(model.faces, np.int64).reshape(-1, 3)
    reach = np.flatnonzero(_two_rings(faces, moved, n))
    base = np.asarray(model.positions, np.float64)[reach]
    # every combination of the morphs at 0 or 1 (the QA and reset poses use only those weights)
    combos = [np.zeros(len(QA_ROLES))]
    for k in range(len(QA_ROLES)):
        combos += [c + np.eye(len(QA_ROLES))[k] for c in combos]
    shifts = np.einsum("ck,knd->cnd", np.asarray(combos), offsets[:, reach])
    px = np.asarray(renderer.project((base[None] + shifts).reshape(-1, 3)), np.float64)[:, :2]
    if not np.isfinite(px).all():
        return None
    pad = PAD_PX + PAD_SHARE * size
    lo, hi = np.floor(px.min(axis=0) - pad), np.ceil(px.max(axis=0) + pad) + 1
    box = clip_box((lo[0], lo[1], hi[0], hi[1]), (size, size))
    if box is None or (box[2] - box[0]) * (box[3] - box[1]) > MAX_AREA * size * size:
        return None
    return box


def composite(rest: np.ndarray, region_render: np.ndarray, box: Box) -> np.ndarray:
    """The reset image with the box taken from the region render."""
    x0, y0, x1, y1 = box
    out = rest.copy()
    out[y0:y1, x0:x1] = region_render[y0:y1, x0:x1]
    return out


def encode_png(pixels: np.ndarray) -> bytes:
    """RGBA pixels -> PNG bytes (deterministic: PIL's encoder, no metadata)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(pixels, "RGBA").save(buf, format="PNG", compress_level=6)
    return buf.getvalue()
