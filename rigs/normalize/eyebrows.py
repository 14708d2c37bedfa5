"""Which triangles of a model are its eyebrows, for THA3's eyebrow decomposer images.

THA3's first network splits the face crop into an eyebrow layer and the face without eyebrows,
so a dataset must show the eyebrow geometry alone and the face with it hidden
(render/scene/eyebrow_layer.py). Models say which geometry that is in two ways, both used:

- **Materials** named for eyebrows (眉, まゆ, mayu, brow, eyebrow, ...), checked to lie on the head
  above the eye line (a name alone could be a character called Mayu): every triangle of them.
- **Mesh islands the eyebrow morphs move.** Most MMD models draw the eyebrows as small separate
  islands inside the face material; the morphs that play the eyebrow_* parameters (found by
  rigs/normalize/extended_roles.py) move them. An island (vertices connected by triangles) counts
  when at least `ISLAND_SHARE` of its vertices are moved mainly by the eyebrow morphs: by more
  than a thousandth of the head height, and at least `DOMINANCE` times as far as any eye, iris
  or mouth morph moves them (ARKit's browDown also nudges the eyelids a little; the eyelids stay
  eyes). Its centre must lie above the eye line.

Hiding whole islands rather than single moved vertices keeps the eyebrows' unmoved ends, and
never punches holes in skin: where the eyebrow morphs shape the skin itself (the built-in
character's brow band; models that paint the eyebrows on the face texture) the island is the
whole face, far below the share, so nothing is found and the note says why. The renderer then
writes an empty eyebrow layer and a face equal to the rest image; the character is not failed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from thagen.errors import ThagenError
from thagen.rigs.flatten import flatten_group_morph
from thagen.rigs.model import Model, MorphKind
from thagen.rigs.normalize.geometry import Head

# eyebrow material names, matched on the NFKC-folded, lower-cased name (Japanese: anywhere;
# Latin: as a word, so "brown_hair" is not a brow)
_SIDE = r"(?:l|r|left|right)?(?![a-z])"
_NAME = re.compile(rf"眉|まゆ|マユ|eyebrow|(?<![a-z])brows?{_SIDE}|(?<![a-z])mayu(?:ge)?{_SIDE}")
MOVED_FRACTION = 0.001  # of the head height: a vertex this far moved by an eyebrow morph is moved
DOMINANCE = 2.0  # eyebrow motion at least this many times the largest eye / iris / mouth motion
ISLAND_SHARE = 0.5  # share of an island's vertices moved mainly by the eyebrow morphs


class SourcedParam(Protocol):
    """What is read of one pose-vector parameter (rigs/normalize/extended_rig.py's ParamRole,
    described here because that module holds the result type defined below)."""

    @property
    def morph(self) -> str | None: ...

    @property
    def source(self) -> str | None: ...


@dataclass
class EyebrowGeometry:
    """The model's eyebrow triangles (model face indices) and how they were found."""

    faces: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    method: str = "none"  # "material", "morphs", "material+morphs" or "none"
    materials: tuple[str, ...] = ()  # eyebrow materials taken whole
    morphs: tuple[str, ...] = ()  # the eyebrow morphs whose islands were taken
    islands: int = 0
    vertices: int = 0
    note: str = ""

    @property
    def found(self) -> bool:
        return bool(self.faces.size)

    def to_dict(self) -> dict[str, Any]:
        return {
            "found": self.found,
            "method": self.method,
            "materials": list(self.materials),
            "morphs": list(self.morphs),
            "islands": self.islands,
            "faces": int(self.faces.size),
            "vertices": self.vertices,
            "note": self.note,
        }


def is_eyebrow_name(name: str) -> bool:
    """True for a material name that says eyebrow (眉, まゆ, brow, eyebrow, mayu, ...)."""
    return bool(_NAME.search(unicodedata.normalize("NFKC", name).lower()))


def _motion(model: Model, names: set[str]) -> np.ndarray:
    """(V,) the largest displacement any of the named morphs gives each vertex."""
    out = np.zeros(model.vertex_count)
    for i, morph in enumerate(model.morphs):
        if morph.name not in names or morph.kind not in (MorphKind.VERTEX, MorphKind.GROUP):
            continue
        try:
            idx, off = flatten_group_morph(model, i)
        except ThagenError:  # a broken group morph: rigs/normalize/matcher.py already warned
            continue
        if idx.size:
            np.maximum.at(out, idx, np.linalg.norm(off.astype(np.float64), axis=1))
    return out


def vertex_components(count: int, faces: np.ndarray) -> np.ndarray:
    """(count,) a label per vertex, equal within each set of vertices joined by triangles.

    Label propagation with pointer jumping (numpy, no scipy): a few dozen passes on any model."""
    labels = np.arange(count)
    if not len(faces):
        return labels
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]]]).astype(np.int64)
    while True:
        a, b = labels[edges[:, 0]], labels[edges[:, 1]]
        low = np.minimum(a, b)
        hooked = labels.copy()
        np.minimum.at(hooked, a, low)
        np.minimum.at(hooked, b, low)
        while True:  # point every vertex at its root
            jumped = hooked[hooked]
            if np.array_equal(jumped, hooked):
                break
            hooked = jumped
        if np.array_equal(hooked, labels):
            return labels
        labels = hooked


def _material_faces(model: Model, head: Head, eye_y: float | None) -> tuple[list[str], np.ndarray]:
    """(names, face mask) of the eyebrow-named materials that lie on the head above the eyes."""
    mask = np.zeros(model.face_count, bool)
    names: list[str] = []
    for mat in model.materials:
        if mat.face_count <= 0 or not (is_eyebrow_name(mat.name) or is_eyebrow_name(mat.name_en)):
            continue
        faces = model.faces[mat.face_start : mat.face_start + mat.face_count]
        centre = model.positions[np.unique(faces)].astype(np.float64).mean(axis=0)
        if not head.region_mask(centre[None])[0] or (eye_y is not None and centre[1] <= eye_y):
            continue
        mask[mat.face_start : mat.face_start + mat.face_count] = True
        names.append(mat.name)
    return names, mask


def find_eyebrows(
    model: Model, params: Mapping[str, SourcedParam], head: Head, eye_y: float | None
) -> EyebrowGeometry:
    """The eyebrow geometry of `model`, from its eyebrow materials and the eyebrow_* parameters'
    morphs (`params`: a pose vector's parameter roles, by name)."""
    faces = np.asarray(model.faces, np.int64).reshape(-1, 3)
    mat_names, mask = _material_faces(model, head, eye_y)
    morph_params = {n: p for n, p in params.items() if p.morph is not None and p.source}
    brow = {str(p.source) for n, p in morph_params.items() if n.startswith("eyebrow_")}
    other = {str(p.source) for n, p in morph_params.items() if not n.startswith("eyebrow_")} - brow
    islands = 0
    notes: list[str] = []
    if brow and faces.size:
        b, o = _motion(model, brow), _motion(model, other)
        moved = b > MOVED_FRACTION * head.height
        owned = moved & (b >= DOMINANCE * o)
        in_head = head.region_mask(model.positions)
        near = np.any(in_head[faces], axis=1)  # islands of the head only: fewer passes
        labels = vertex_components(model.vertex_count, faces[near])
        used = np.zeros(model.vertex_count, bool)
        used[faces[near].ravel()] = True
        size = np.bincount(labels[used], minlength=model.vertex_count)
        mine = np.bincount(labels[used & owned], minlength=model.vertex_count)
        ys = np.bincount(labels[used], weights=model.positions[used, 1], minlength=model.vertex_count)
        with np.errstate(invalid="ignore", divide="ignore"):
            centre_y = ys / size
        ok = (size > 0) & (mine >= ISLAND_SHARE * size) & (mine > 0)
        if eye_y is not None:
            ok &= centre_y > eye_y
        take = ok[labels] & used
        face_take = near.copy()
        face_take[near] = take[faces[near, 0]]
        mask |= face_take
        islands = int(np.count_nonzero(ok))
        if not islands:
            biggest = int(np.max(size[np.unique(labels[moved & used])], initial=0))
            notes.append(
                f"the eyebrow morphs move {int(np.count_nonzero(moved))} vertices but no mesh island of "
                f"their own (the largest they touch has {biggest} vertices): eyebrows drawn on the skin "
                "or the face texture"
            )
    elif not brow:
        notes.append("no eyebrow morph plays an eyebrow_* parameter")
    if not mat_names:
        notes.append("no eyebrow material (眉, まゆ, brow, eyebrow, mayu) on the head above the eyes")
    method = "+".join(m for m, on in (("material", bool(mat_names)), ("morphs", islands > 0)) if on) or "none"
    chosen = np.flatnonzero(mask)
    if not chosen.size:
        notes.append("eyebrow_layer is empty and face_no_eyebrow equals rest")
    return EyebrowGeometry(
        faces=chosen,
        method=method,
        materials=tuple(mat_names),
        morphs=tuple(sorted(brow)) if islands else (),
        islands=islands,
        vertices=int(np.unique(faces[chosen]).size),
        note="; ".join(notes) if not chosen.size else "",
    )
