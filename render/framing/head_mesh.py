"""Which parts of a model are the head, the face and the mouth (pure numpy, no bpy).

The estimate (estimate.py), its cross-check (crosscheck.py) and its confidence (confidence.py)
all measure the same sets: the vertices skinned to the head bone and its descendants, the
connected pieces of them, and the vertices the mouth-open and eye-close morphs move. They
live here so those modules read a model one way and never import each other for it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np

from thagen.errors import ModelFormatError
from thagen.rigs.flatten import flatten_group_morph

if TYPE_CHECKING:
    from thagen.rigs.model import Model
    from thagen.rigs.normalize import RigReport

HEAD_WEIGHT = 0.5  # a vertex weighted at least this much to the head (and its hair bones) is head

# Materials of things worn on the head (hats, bows, animal ears, hair ornaments): never the head
# top (docs/annotation.md). Japanese names match by substring, English ones as whole words, so
# "elbow", "earring" or a hair "crown" are not taken for one; "cap" is left out ("hair_cap").
WORN_SUBSTRINGS = (
    "帽",
    "ハット",
    "ヘルメット",
    "フード",
    "冠",
    "リボン",
    "髪飾",
    "ヘアアクセ",
    "アクセサリ",
    "カチューシャ",
    "ケモミミ",
    "獣耳",
    "猫耳",
    "ネコミミ",
    "ネコ耳",
)
WORN_WORDS = frozenset(
    {
        "hat",
        "helmet",
        "hood",
        "ribbon",
        "bow",
        "hairbow",
        "accessory",
        "accessories",
        "ear",
        "ears",
        "kemomimi",
        "nekomimi",
        "headband",
        "tiara",
    }
)


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


def eye_height(model: Model, rig: RigReport | None) -> float | None:
    """Height of the eyes: the rest position of what the eye-close morph moves (eyelids, eye
    surfaces), else the eye bones' height; None when the model has neither.

    The morph comes first: eye bones often pivot deep in the head (the built-in character's
    at the head's centre), the lids are where the eyes are seen.
    """
    for role, name in (("eye_close_both", "まばたき"), ("eye_close_left", None), ("eye_close_right", None)):
        index = _role_index(rig, role)
        if index is None and rig is None and name is not None and model.morph_index(name) >= 0:
            index = model.morph_index(name)
        if index is None:
            continue
        try:
            idx, off = flatten_group_morph(model, index)
        except ModelFormatError:
            continue  # a broken morph says nothing about where the eyes are (the rig reports it)
        if len(idx) == 0:
            continue
        mags = np.linalg.norm(np.asarray(off, np.float64), axis=1)
        if mags.max() <= 1e-7:
            continue
        moved = np.asarray(idx)[mags >= 0.3 * mags.max()]
        return float(np.mean(model.positions[moved, 1]))
    bones = [i for r in ("eye_left", "eye_right") if (i := _role_index(rig, r)) is not None]
    if not bones and rig is None:
        bones = [i for n in ("左目", "右目") if (i := model.bone_index(n)) >= 0]
    if not bones:
        return None
    return float(np.mean([model.bones[i].position[1] for i in bones]))


def is_worn(name: str) -> bool:
    """Whether a material's name (Japanese and English joined) says it is worn on the head."""
    return any(w in name for w in WORN_SUBSTRINGS) or bool(
        WORN_WORDS & set(re.split(r"[^a-z]+", name.lower()))
    )


def worn_vertices(model: Model) -> tuple[np.ndarray, list[str]]:
    """Bool per vertex: drawn with a worn material (is_worn); and those materials' names."""
    worn = np.zeros(model.vertex_count, bool)
    names = []
    for mat in model.materials:
        label = f"{mat.name} {mat.name_en}".strip()
        if mat.face_count and is_worn(label):
            worn[model.faces[mat.face_start : mat.face_start + mat.face_count].ravel()] = True
            names.append(label)
    return worn, names
