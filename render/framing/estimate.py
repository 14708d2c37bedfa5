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
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from thagen.errors import RigError
from thagen.render.framing.crosscheck import HeadGeometry, cross_check
from thagen.render.framing.head_mesh import (
    HEAD_WEIGHT,
    _components,
    _descendants,
    _mouth_morph,
    _role_index,
    _weight_on,
    eye_height,
    worn_vertices,
)
from thagen.render.framing.profile import PROFILE_BINS, head_top_profile

if TYPE_CHECKING:
    from typing_extensions import TypeIs

    from thagen.rigs.model import Model
    from thagen.rigs.normalize import RigReport

CHIN_BAND = 0.25  # chin candidates within this fraction of the face half-width of the centre line


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


# ---------------------------------------------------------------- estimate


@dataclass
class _Head:
    """What the chin and head-top steps share: the head's geometry and how it was found."""

    geom: HeadGeometry
    notes: list[str]
    neck: int | None
    head_bone: np.ndarray  # the head bone's position
    mouth_front_z: float  # the open mouth's frontmost depth
    head_tri: np.ndarray  # every triangle of head vertices (geom's leave out worn things)


def _measure(model: Model, rig: RigReport | None, mouth_weight: float) -> _Head:
    """The head's vertices, triangles, face, centre line, width, mouth and eyes, in the reset pose."""
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
    face_found = np.count_nonzero(face) >= 4
    if not face_found:
        face = head_v
        notes.append("the mouth is not on a head-weighted surface; used every head vertex as the face")
    above = face & (pos[:, 1] >= mouth_y)
    face_half_width = float(np.abs(pos[above if np.any(above) else face, 0] - cx).max())
    if face_half_width <= 0:
        face_half_width = 1.0
    eye_y = eye_height(model, rig) if mouth is not None else None  # eyes to mouth: the yardstick
    # the head top is measured without what is worn on the head (hats, bows, animal ears)
    top_v, top_tri = head_v, head_tri
    worn, worn_names = worn_vertices(model)
    if worn_names and np.any(head_v & worn) and np.count_nonzero(head_v & ~worn) >= 4:
        top_v = head_v & ~worn
        top_tri = head_tri[np.all(top_v[head_tri], axis=1)] if head_tri.size else head_tri
        notes.append(f"head top: left out what is worn on the head ({', '.join(worn_names)})")
    geom = HeadGeometry(pos, top_v, top_tri, labels, face, cx, face_half_width, mouth_y, eye_y, face_found)
    return _Head(geom, notes, neck, head_bone_pos, mouth_front_z, head_tri)


def head_geometry(model: Model, rig: RigReport | None = None, *, mouth_weight: float = 1.0) -> HeadGeometry:
    """The head's geometry as `estimate_framing` measures it (for crosscheck.py and its tests)."""
    return _measure(model, rig, mouth_weight).geom


def _chin(model: Model, m: _Head) -> np.ndarray:
    """The lowest face point under the mouth, near the centre line, in front of the throat."""
    g = m.geom
    pos, face, cx, mouth_y, half = g.pos, g.face, g.cx, g.mouth_y, g.half_width
    cand = face & (pos[:, 1] < mouth_y) & (np.abs(pos[:, 0] - cx) <= CHIN_BAND * half)
    throat_z = None
    if m.neck is not None:
        neck_w = _weight_on(model, np.eye(len(model.bones), dtype=bool)[m.neck])
        neck_front = (neck_w >= HEAD_WEIGHT) & (np.abs(pos[:, 0] - cx) <= CHIN_BAND * half)
        if np.any(neck_front):
            throat_z = float(pos[neck_front, 2].min())
    if throat_z is None:
        throat_z = 0.5 * (m.mouth_front_z + float(m.head_bone[2]))
        m.notes.append("no neck vertices: the throat is taken halfway between the mouth and the head bone")
    limit = throat_z - 0.02 * half
    front = cand & (pos[:, 2] < limit)
    if np.any(front):
        # where the face's edges cross the throat plane: the chin's visible edge against the
        # neck, finer than the tessellation
        head_tri = m.head_tri
        edges = head_tri[np.all(face[head_tri], axis=1)][:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2)
        edges = edges[cand[edges[:, 0]] & cand[edges[:, 1]]]
        za, zb = pos[edges[:, 0], 2], pos[edges[:, 1], 2]
        crossing = (za < limit) != (zb < limit)
        a, b = edges[crossing, 0], edges[crossing, 1]
        t = ((limit - pos[a, 2]) / (pos[b, 2] - pos[a, 2]))[:, None]
        points = np.concatenate([pos[front], pos[a] + t * (pos[b] - pos[a])])
        return points[np.argmin(points[:, 1])].copy()
    if np.any(cand):
        m.notes.append(
            "no face vertex in front of the throat under the mouth; used the lowest under the mouth"
        )
    else:
        cand = face
        m.notes.append("no face vertex under the mouth; used the lowest face vertex")
    return pos[int(np.nonzero(cand)[0][np.argmin(pos[cand, 1])])].copy()


def _top(m: _Head, chin: np.ndarray) -> np.ndarray:
    """The highest column of the head's front-view profile that is not a spike (profile.py)."""
    g = m.geom
    pos, head_tri, cx, mouth_y, half = g.pos, g.head_tri, g.cx, g.mouth_y, g.half_width
    # the silhouette of the head vertices (plus points along head triangles' edges, so sparse
    # low-poly domes have no empty columns) above the mouth, within the face's width
    pts = pos[g.head]
    if head_tri.size:
        # only triangles above the mouth, in the band, wider than half a profile column need it
        upper = head_tri[np.all(pos[head_tri, 1] >= mouth_y, axis=1)]
        xs = pos[upper, 0]
        wide = (xs.max(axis=1) - xs.min(axis=1) > half / PROFILE_BINS) & np.any(
            np.abs(xs - cx) <= half, axis=1
        )
        corners = pos[upper[wide]]
        steps = np.array([0.25, 0.5, 0.75])[:, None, None]
        extra = [corners[:, a] + steps * (corners[:, b] - corners[:, a]) for a, b in ((0, 1), (1, 2), (2, 0))]
        pts = np.concatenate([pts, *(e.reshape(-1, 3) for e in extra)])
    pts = pts[pts[:, 1] >= mouth_y]
    top_y, top_i, top_notes = head_top_profile(pts, cx, half)
    m.notes.extend(top_notes)
    return pts[top_i].copy() if top_i is not None else np.array([cx, top_y, chin[2]])


def estimate_framing(model: Model, rig: RigReport | None = None, *, mouth_weight: float = 1.0) -> Framing:
    """Geometric head top / chin (flagged `source="estimate"`), see the module docstring.

    `rig`: a RigReport from thagen.rigs.normalize (roles head, neck, mouth_open); without one
    the bones 頭 / 首 and the morph あ are looked up by name. `mouth_weight`: the mouth-open
    weight of the reset pose (THA1: 1, THA2-style rest: 0), applied before measuring. The answer
    is then checked against the rest of the head (crosscheck.py) and kept unless impossible.
    """
    m = _measure(model, rig, mouth_weight)
    chin = _chin(model, m)
    checked = cross_check(m.geom, _top(m, chin), chin)
    head_top, chin = checked.head_top, checked.chin
    notes = m.notes + checked.notes
    if head_top[1] <= chin[1]:
        raise RigError(
            f"{model.source_path or model.name}: framing estimate failed (head top below the chin)"
        )
    if mouth_weight:
        notes.append(f"measured with the mouth-open morph at {mouth_weight:g}")
    return Framing(head_top=head_top, chin=chin, center_x=m.geom.cx, source="estimate", notes=notes)


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
