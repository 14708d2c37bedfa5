"""Where a character's head top and chin are, in MMD model space (pure numpy, no bpy).

THA1 frames the reset image so the head top and the chin tip land on rows 64 and 192 of 256.
The head top includes the skull and hair lying flat but EXCLUDES hair pointing upward (ahoge);
the chin is the tip of the chin, the lowest point of the face under the mouth.

A person's annotation file wins when there is one (`source == "annotation"`). Otherwise
`estimate_framing` measures the mesh (`source == "estimate"`), in the reset pose (the mouth-open
morph applied at the rest pose's weight, THA1: 1):

- head vertices: those weighted at least half to the head bone and its descendants (hair bones);
- the face: the head vertices connected (through head-only triangles) to those the mouth-open
  morph moves, so hair, hats and accessories hanging below the chin are never "the chin";
- chin: the lowest face vertex under the mouth, within a narrow band around the head's centre
  line and in front of the throat (the neck bone's frontmost vertices), so the underside of the
  jaw and the neck junction behind the chin do not count;
- head top: the front-view silhouette of the head vertices is cut into columns; a morphological
  opening of the column maxima (a window 30% of the head's width) keeps the broad skull + hair
  dome and removes narrow upward spikes; columns standing clearly above the opened profile
  (ahoge) are dropped and the top is the highest remaining column.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from thagen.errors import RigError

if TYPE_CHECKING:
    from typing_extensions import TypeIs

    from thagen.rigs.model import Model
    from thagen.rigs.normalize import RigReport

PROFILE_BINS = 64
OPENING_FRACTION = 0.30  # of the head's width: spikes narrower than this are not the head top
SPIKE_TOLERANCE = 0.03  # of the head's width: a column this far above the opened profile is a spike
CHIN_BAND = 0.25  # chin candidates within this fraction of the face half-width of the centre line
HEAD_WEIGHT = 0.5


@dataclass
class Framing:
    """Head top and chin points (MMD model space) and the head's horizontal centre."""

    head_top: np.ndarray
    chin: np.ndarray
    center_x: float
    source: str  # "annotation" or "estimate"
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.head_top = np.asarray(self.head_top, np.float64).reshape(3)
        self.chin = np.asarray(self.chin, np.float64).reshape(3)
        self.center_x = float(self.center_x)

    @property
    def height(self) -> float:
        """Head height (head top to chin), MMD units."""
        return float(self.head_top[1] - self.chin[1])

    def to_dict(self) -> dict[str, Any]:
        return {
            "head_top": [float(v) for v in self.head_top],
            "chin": [float(v) for v in self.chin],
            "center_x": self.center_x,
            "height": self.height,
            "source": self.source,
            "notes": list(self.notes),
        }


# ---------------------------------------------------------------- helpers


def _descendants(model: Model, root: int) -> np.ndarray:
    """Bool mask over bones: root and every bone below it."""
    parents = np.array([b.parent for b in model.bones], np.int64)
    mask = np.zeros(len(parents), bool)
    mask[root] = True
    valid = (parents >= 0) & (parents < len(parents))
    safe = np.where(valid, parents, 0)
    while True:
        new = mask | (valid & mask[safe])
        if np.array_equal(new, mask):
            return mask
        mask = new


def _weight_on(model: Model, bones: np.ndarray) -> np.ndarray:
    """Per-vertex total weight on a set of bones (bool mask over bones)."""
    idx = model.bone_indices
    if idx.size == 0:
        return np.zeros(model.vertex_count)
    ok = (idx >= 0) & (idx < len(bones))
    hit = ok & bones[np.where(ok, idx, 0)]
    return np.where(hit, model.bone_weights, 0.0).sum(axis=1)


def _components(n: int, faces: np.ndarray) -> np.ndarray:
    """Connected-component label per vertex (min vertex index of its component)."""
    labels = np.arange(n)
    if faces.size == 0:
        return labels
    while True:
        face_min = labels[faces].min(axis=1)
        new = labels.copy()
        for k in range(3):
            np.minimum.at(new, faces[:, k], face_min)
        new = new[new]  # pointer jumping: follow labels to their labels
        if np.array_equal(new, labels):
            return labels
        labels = new


def _role_index(rig: RigReport | None, role: str) -> int | None:
    if rig is None:
        return None
    match = rig.matches.get(role)
    if match is None or match.index is None or not match.found:
        return None
    return int(match.index)


def _mouth_morph(model: Model, rig: RigReport | None) -> tuple[np.ndarray, np.ndarray] | None:
    """(vertex indices, offsets) of the mouth-open morph, or None."""
    index = _role_index(rig, "mouth_open")
    if index is None:
        index = model.morph_index("あ")
        if index < 0:
            return None
    morph = model.morphs[index]
    if morph.values.ndim != 2 or morph.values.shape[1] != 3 or len(morph.indices) == 0:
        return None
    indices, values = morph.indices.astype(np.int64), morph.values.astype(np.float64)
    ok = (indices >= 0) & (indices < model.vertex_count) & (np.linalg.norm(values, axis=1) > 1e-7)
    if not np.any(ok):
        return None  # a morph that moves nothing says nothing about where the mouth is
    return indices[ok], values[ok]


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


# ---------------------------------------------------------------- estimate


def estimate_framing(model: Model, rig: RigReport | None = None, *, mouth_weight: float = 1.0) -> Framing:
    """Geometric head top / chin (flagged `source="estimate"`), see the module docstring.

    `rig`: a RigReport from thagen.rigs.normalize (roles head, neck, mouth_open); without one
    the bones 頭 / 首 and the morph あ are looked up by name. `mouth_weight`: the mouth-open
    weight of the reset pose (THA1: 1, THA2-style rest: 0), applied before measuring.
    """
    notes: list[str] = []
    if model.vertex_count == 0:
        raise RigError(f"{model.source_path or model.name}: the model has no vertices to frame")
    head = _role_index(rig, "head")
    if head is None:
        head = model.bone_index("頭")
    if head is None or head < 0:
        raise RigError(f"{model.source_path or model.name}: no head bone to frame the head by")
    neck = _role_index(rig, "neck")
    if neck is None and model.bone_index("首") >= 0:
        neck = model.bone_index("首")

    pos = model.positions.astype(np.float64)
    mouth = _mouth_morph(model, rig)
    if mouth is not None and mouth_weight:
        pos = pos.copy()
        np.add.at(pos, mouth[0], mouth_weight * mouth[1])
    head_bone_pos = np.asarray(model.bones[head].position, np.float64)

    head_w = _weight_on(model, _descendants(model, head))
    head_v = head_w >= HEAD_WEIGHT
    if np.count_nonzero(head_v) < 4:
        head_v = head_w > 0
        notes.append("few vertices weighted mostly to the head; used every vertex the head moves")
    if np.count_nonzero(head_v) < 4:
        raise RigError(f"{model.source_path or model.name}: no vertices move with the head bone")

    # the mouth: where the mouth-open morph moves most
    if mouth is not None:
        mags = np.linalg.norm(mouth[1], axis=1)
        strong = mouth[0][mags >= 0.5 * mags.max()]
        cx = float(np.average(model.positions[mouth[0], 0], weights=mags))
        mouth_y = float(np.median(pos[strong, 1]))
        mouth_front_z = float(pos[strong, 2].min())
        seeds = mouth[0]
    else:
        cx = float(head_bone_pos[0])
        mouth_y = float(head_bone_pos[1])
        mouth_front_z = float(pos[head_v, 2].min())
        seeds = np.zeros(0, np.int64)
        notes.append("no mouth-open morph: chin searched below the head bone")

    # the face: head vertices connected to the mouth through head-only triangles
    tri = model.faces.astype(np.int64)
    head_tri = tri[np.all(head_v[tri], axis=1)] if tri.size else tri
    labels = _components(model.vertex_count, head_tri)
    face_labels = np.unique(labels[seeds[head_v[seeds]]]) if seeds.size else np.zeros(0, np.int64)
    face = np.isin(labels, face_labels) & head_v
    if np.count_nonzero(face) < 4:
        face = head_v
        notes.append("the mouth is not on a head-weighted surface; used every head vertex as the face")
    above = face & (pos[:, 1] >= mouth_y)
    face_half_width = float(np.abs(pos[above if np.any(above) else face, 0] - cx).max())
    if face_half_width <= 0:
        face_half_width = 1.0

    # chin: lowest face vertex under the mouth, near the centre line, in front of the throat
    cand = face & (pos[:, 1] < mouth_y) & (np.abs(pos[:, 0] - cx) <= CHIN_BAND * face_half_width)
    throat_z = None
    if neck is not None:
        neck_w = _weight_on(model, np.eye(len(model.bones), dtype=bool)[neck])
        neck_front = (neck_w >= HEAD_WEIGHT) & (np.abs(pos[:, 0] - cx) <= CHIN_BAND * face_half_width)
        if np.any(neck_front):
            throat_z = float(pos[neck_front, 2].min())
    if throat_z is None:
        throat_z = 0.5 * (mouth_front_z + float(head_bone_pos[2]))
        notes.append("no neck vertices: the throat is taken halfway between the mouth and the head bone")
    limit = throat_z - 0.02 * face_half_width
    front = cand & (pos[:, 2] < limit)
    if np.any(front):
        # where the face's edges cross the throat plane: the chin's visible edge against the
        # neck, finer than the tessellation
        edges = head_tri[np.all(face[head_tri], axis=1)][:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2)
        edges = edges[cand[edges[:, 0]] & cand[edges[:, 1]]]
        za, zb = pos[edges[:, 0], 2], pos[edges[:, 1], 2]
        crossing = (za < limit) != (zb < limit)
        a, b = edges[crossing, 0], edges[crossing, 1]
        t = ((limit - pos[a, 2]) / (pos[b, 2] - pos[a, 2]))[:, None]
        points = np.concatenate([pos[front], pos[a] + t * (pos[b] - pos[a])])
        chin = points[np.argmin(points[:, 1])].copy()
    else:
        if np.any(cand):
            notes.append(
                "no face vertex in front of the throat under the mouth; used the lowest under the mouth"
            )
        else:
            cand = face
            notes.append("no face vertex under the mouth; used the lowest face vertex")
        chin = pos[int(np.nonzero(cand)[0][np.argmin(pos[cand, 1])])].copy()

    # head top: the silhouette of the head vertices (plus points along head triangles' edges, so
    # sparse low-poly domes have no empty columns) above the mouth, within the face's width
    pts = pos[head_v]
    if head_tri.size:
        # only triangles above the mouth, in the band, wider than half a profile column need it
        upper = head_tri[np.all(pos[head_tri, 1] >= mouth_y, axis=1)]
        xs = pos[upper, 0]
        wide = (xs.max(axis=1) - xs.min(axis=1) > face_half_width / PROFILE_BINS) & np.any(
            np.abs(xs - cx) <= face_half_width, axis=1
        )
        corners = pos[upper[wide]]
        steps = np.array([0.25, 0.5, 0.75])[:, None, None]
        extra = [corners[:, a] + steps * (corners[:, b] - corners[:, a]) for a, b in ((0, 1), (1, 2), (2, 0))]
        pts = np.concatenate([pts, *(e.reshape(-1, 3) for e in extra)])
    pts = pts[pts[:, 1] >= mouth_y]
    top_y, top_i, top_notes = head_top_profile(pts, cx, face_half_width)
    notes.extend(top_notes)
    head_top = pts[top_i].copy() if top_i is not None else np.array([cx, top_y, chin[2]])
    if head_top[1] <= chin[1]:
        raise RigError(
            f"{model.source_path or model.name}: framing estimate failed (head top below the chin)"
        )
    if mouth_weight:
        notes.append(f"measured with the mouth-open morph at {mouth_weight:g}")
    return Framing(head_top=head_top, chin=chin, center_x=cx, source="estimate", notes=notes)


# ---------------------------------------------------------------- annotations


def framing_from_annotation(path: str | Path) -> Framing:
    """A Framing from an annotation file (ConfigError naming file and key when it is wrong)."""
    from thagen.render.framing.annotation_file import load_annotation

    ann = load_annotation(path)
    notes = [f"annotation {path}"]
    if ann.annotator:
        notes.append(f"by {ann.annotator}" + (f" ({ann.created})" if ann.created else ""))
    return Framing(ann.head_top, ann.chin, ann.effective_center_x, "annotation", notes)


class FramingJob(Protocol):
    """What `load_framing` reads of a job: render/manifest/types.py's CharacterJob (a higher
    layer, so it is described here rather than imported)."""

    @property
    def annotation_path(self) -> Path | None: ...

    @property
    def rest_pose(self) -> Mapping[str, float]: ...

    @property
    def model_path(self) -> Path | None: ...

    @property
    def zip_member(self) -> str | None: ...

    @property
    def override_path(self) -> Path | None: ...

    def load_model(self) -> Model: ...


def _is_job(source: object) -> TypeIs[FramingJob]:
    return hasattr(source, "annotation_path") and hasattr(source, "rest_pose")


def load_framing(
    source: FramingJob | str | os.PathLike[str] | None,
    annotation_path: str | Path | None = None,
    *,
    model: Model | None = None,
    rig: RigReport | None = None,
    mouth_weight: float | None = None,
) -> Framing:
    """The framing for a character: its annotation when there is one, else the estimate.

    `source`: a CharacterJob, a model path, or an annotation file (*.yaml). For a job the
    annotation is `job.annotation_path` and the mouth weight the job's rest pose; for a model
    path, `<stem>.annotation.yaml` beside it is used when present. `model` / `rig` save reading
    and normalizing again when the caller has them.
    """
    from thagen.render.framing.annotation_file import annotation_path_for

    model_path: Path | None = None
    member: str | None = None
    job: FramingJob | None = None
    if _is_job(source):
        job = source
        annotation_path = annotation_path or job.annotation_path
        if mouth_weight is None:
            mouth_weight = float(job.rest_pose["mouth"])
        model_path, member = job.model_path, job.zip_member
    elif source is not None:
        p = Path(source)
        if p.suffix.lower() in (".yaml", ".yml") and annotation_path is None:
            annotation_path = p
        else:
            model_path = p
            if annotation_path is None and p.suffix.lower() != ".zip" and annotation_path_for(p).is_file():
                annotation_path = annotation_path_for(p)
    if annotation_path is not None:
        return framing_from_annotation(annotation_path)
    if model is None:
        if job is not None:
            model = job.load_model()
        elif model_path is not None:
            from thagen.rigs.reader import read_model

            model = read_model(model_path, member=member)
        else:
            raise ValueError("load_framing needs a job, a model path, an annotation or a model")
    if rig is None:
        from thagen.rigs.normalize import normalize

        if job is not None and job.override_path is not None:
            rig = normalize(model, overrides=job.override_path)
        else:
            loose = model_path if model_path is not None and model_path.suffix.lower() != ".zip" else None
            rig = normalize(model, model_path=loose)
    return estimate_framing(model, rig, mouth_weight=1.0 if mouth_weight is None else mouth_weight)
