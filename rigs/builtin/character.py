"""A small MMD-style character generated in code, so demos and tests need no downloaded model.

It is built like a real MMD model, in MMD's frame (Y up, the character faces -Z, +X is the
character's LEFT, about 20 units tall, head about 3 units high at y 14.9-18.0): a head with a
pointed chin, hair (a cap with bangs, side locks, back strands and one upward "ahoge" strand,
which framing must ignore), eyes as discs in front of the face with upper lids, a dark mouth
interior that grows when the mouth opens, neck, torso, arms and legs. Bones, weights, morphs,
materials, a texture atlas and a toon ramp follow MMD conventions (Japanese names, English
names in name_en), so the whole pipeline can run on it end to end.

This module assembles the model from its parts; each job lives in its own module beside it:
head.py (head shape and face layout), mesh.py (mesh building blocks), face.py (head skin, eyes,
mouth), hair.py, body.py, skeleton.py (bones, weights, display frames), materials.py, morphs.py
(THA1's morphs, then THA2's from expressions.py), textures.py (atlas and toon ramp) and files.py
(writing the .pmx and its images). Variants (variants.py) add accessories.py's pieces, a
lowpoly.py head and proportions.py's chibi scaling; the default character is built exactly as
before any of them existed.
"""

from __future__ import annotations

import math

import numpy as np

from thagen.rigs.builtin import accessories
from thagen.rigs.builtin.body import _limbs, _neck, _torso
from thagen.rigs.builtin.face import _eye, _head, _mouth
from thagen.rigs.builtin.hair import _hair_cap, _strands
from thagen.rigs.builtin.lowpoly import without_scalp
from thagen.rigs.builtin.materials import _materials, material_table
from thagen.rigs.builtin.mesh import Part, _vertex_normals
from thagen.rigs.builtin.morphs import _morphs
from thagen.rigs.builtin.proportions import rescale
from thagen.rigs.builtin.skeleton import _bones, _deform_weights, _display_frames
from thagen.rigs.builtin.textures import ATLAS_NAME, TOON_NAME
from thagen.rigs.builtin.variants import BuiltinVariant
from thagen.rigs.model import Model

DEFAULT = BuiltinVariant()


def _parts(k: float, variant: BuiltinVariant = DEFAULT) -> list[Part]:
    left_eye, left_lid = _eye(k, 1.0)
    right_eye, right_lid = _eye(k, -1.0)
    hair_k = k * variant.hair_detail
    head = _head(k) if variant.scalp else without_scalp(_head(k))
    parts = [head, left_eye, right_eye, left_lid, right_lid, _mouth(k), _hair_cap(hair_k)]
    parts += _strands(hair_k, variant.ahoge)
    parts += [_neck(k), _torso(k)]
    parts += _limbs(k)
    # accessories go last: the default's parts (and so its bytes) are untouched
    if variant.ears:
        parts += accessories.ears(hair_k)
    if variant.bow:
        parts += accessories.bow(k)
    if variant.hat:
        parts += accessories.hat(k)
    left_eye.tags["side"] = np.array([1.0])
    right_eye.tags["side"] = np.array([-1.0])
    left_lid.tags["side"] = np.array([1.0])
    right_lid.tags["side"] = np.array([-1.0])
    return parts


def _build(k: float, variant: BuiltinVariant = DEFAULT) -> Model:
    unsorted = _parts(k, variant)
    table = material_table(unsorted)
    order = [m[0] for m in table]
    parts = sorted(unsorted, key=lambda p: order.index(p.material))  # stable: keeps part order
    starts = np.cumsum([0] + [len(p.positions) for p in parts])
    n = int(starts[-1])
    positions = np.concatenate([p.positions for p in parts])
    faces = np.concatenate([p.faces + s for p, s in zip(parts, starts)])
    uvs = np.concatenate([p.uvs for p in parts])
    bones2 = np.concatenate([p.bones for p in parts])
    w1 = np.concatenate([p.weights for p in parts])
    normals = _vertex_normals(positions, faces)
    deform, bone_indices, bone_weights = _deform_weights(bones2, w1)
    materials = _materials(parts, table)

    def start_of(part: Part) -> int:
        return int(starts[next(i for i, p in enumerate(parts) if p is part)])

    morphs = _morphs(parts, start_of, n)
    bones = _bones()
    frames = _display_frames(len(morphs))
    model = Model(
        format="pmx",
        version=2.0,
        encoding="utf-16-le",
        name="ビルトイン",
        name_en="thagen builtin",
        comment="thagen の内蔵テストキャラクター (コードで生成)",
        comment_en="thagen's built-in test character, generated in code; free to use (CC0).",
        positions=positions.astype(np.float32),
        normals=normals.astype(np.float32),
        uvs=uvs.astype(np.float32),
        extra_uvs=np.zeros((n, 0, 4), np.float32),
        deform_types=deform,
        bone_indices=bone_indices,
        bone_weights=bone_weights,
        sdef=np.zeros((n, 3, 3), np.float32),
        edge_scales=np.ones(n, np.float32),
        faces=faces.astype(np.int32),
        textures=[ATLAS_NAME, TOON_NAME],
        materials=materials,
        bones=bones,
        morphs=morphs,
        display_frames=frames,
    )
    return rescale(model, variant.head_scale, variant.body_scale)


def builtin_character(target_vertices: int | None = None, *, variant: BuiltinVariant | None = None) -> Model:
    """The built-in character: about 5k vertices, or at least `target_vertices` (denser tessellation).

    `variant` (rigs/builtin/variants.py) gives it chibi proportions, a lower tessellation
    (`detail`), another ahoge, ears, a bow or a hat; None is the default character.
    """
    variant = variant or DEFAULT
    model = _build(variant.detail, variant)
    if target_vertices is None or model.vertex_count >= target_vertices:
        return model
    k = variant.detail * math.sqrt(target_vertices / model.vertex_count)
    while True:
        model = _build(k, variant)
        if model.vertex_count >= target_vertices:
            return model
        k *= 1.0 + max(0.01, 0.5 * (target_vertices / model.vertex_count - 1))
