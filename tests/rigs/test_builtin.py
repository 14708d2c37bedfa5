"""The built-in character: a real, small MMD model generated in code."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from thagen.rigs.builtin import ATLAS_NAME, TOON_NAME, builtin_character, write_builtin_character
from thagen.rigs.formats.textures import resolve_texture
from thagen.rigs.model import DeformType, MaterialFlag, Model, MorphKind

FACE_MORPHS = ["まばたき", "ウィンク", "ウィンク右", "ウィンク２", "ｳｨﾝｸ２右", "あ", "い", "う", "え", "お"]


@pytest.fixture(scope="module")
def model() -> Model:
    return builtin_character()


def _material_vertices(model: Model, name: str) -> np.ndarray:
    mat = next(m for m in model.materials if m.name == name)
    return np.unique(model.faces[mat.face_start : mat.face_start + mat.face_count])


def _morph(model: Model, name: str):
    index = model.morph_index(name)
    assert index >= 0, f"missing morph {name}"
    return model.morphs[index]


def test_sizes_names_and_materials(model: Model) -> None:
    assert 2_000 <= model.vertex_count <= 10_000
    assert model.faces.shape[1] == 3 and model.faces.min() >= 0 and model.faces.max() < model.vertex_count
    for bone in ["全ての親", "センター", "上半身", "下半身", "首", "頭", "両目", "左目", "右目", "後髪"]:
        assert model.bone_index(bone) >= 0, bone
    for morph in FACE_MORPHS:
        assert _morph(model, morph).kind == MorphKind.VERTEX
    names = [m.name for m in model.materials]
    assert {"顔", "目", "口", "髪", "服"} <= set(names)
    assert model.materials[names.index("髪")].flags & MaterialFlag.DOUBLE_SIDED
    assert not model.materials[names.index("顔")].flags & MaterialFlag.DOUBLE_SIDED
    # materials cover every face exactly once, in order
    ranges = model.material_face_ranges()
    assert (
        ranges[0, 0] == 0
        and np.all(ranges[1:, 0] == ranges[:-1].sum(1))
        and ranges.sum(1)[-1] == model.face_count
    )
    assert model.textures == [ATLAS_NAME, TOON_NAME]
    for mat in model.materials:
        assert mat.texture == 0 and not mat.toon_shared and mat.toon_index == 1
    en = {b.name: b.name_en for b in model.bones} | {m.name: m.name_en for m in model.morphs}
    assert en["頭"] == "head" and en["首"] == "neck" and en["まばたき"] == "blink" and en["あ"] == "mouth_a"
    assert np.all((model.uvs >= 0) & (model.uvs <= 1))


def test_bones_in_mmd_frame(model: Model) -> None:
    pos = {b.name: b.position for b in model.bones}
    parent = {b.name: model.bones[b.parent].name if b.parent >= 0 else None for b in model.bones}
    assert parent["頭"] == "首" and parent["首"] == "上半身" and parent["左目"] == "頭"
    head_vertices = _material_vertices(model, "顔")
    chin, top = model.positions[head_vertices, 1].min(), model.positions[head_vertices, 1].max()
    assert 2.5 <= top - chin <= 3.2 and 14.5 <= chin and top <= 18.5
    assert pos["首"][1] < chin < pos["頭"][1] + 0.5 < top  # head joint at the top of the neck
    assert pos["左目"][0] > 0 > pos["右目"][0]
    # the face is on the -Z side: eyes in front of the head centre
    assert (
        model.positions[_material_vertices(model, "目"), 2].max() < model.positions[head_vertices, 2].mean()
    )
    assert 18.0 <= model.positions[:, 1].max() <= 21.0 and model.positions[:, 1].min() >= 0


def test_weights(model: Model) -> None:
    head = model.bone_index("頭")
    for mat in ["顔", "口", "まつげ"]:
        v = _material_vertices(model, mat)
        assert np.all(model.bone_indices[v, 0] == head) and np.all(model.deform_types[v] == DeformType.BDEF1)
    # hair: on the head, the long back hair on its own bone under the head
    hair = _material_vertices(model, "髪")
    back = model.bone_index("後髪")
    assert model.bones[back].parent == head
    assert set(np.unique(model.bone_indices[hair, :2])) == {-1, head, back}
    assert np.all(model.bone_indices[hair[model.positions[hair, 1] > 16.7], 0] == head)
    eyes = _material_vertices(model, "目")
    left = model.bone_index("左目")
    on_left = model.bone_indices[eyes, 0] == left
    assert np.all(on_left == (model.positions[eyes, 0] > 0))
    # the neck blends into the head and the upper body
    bdef2 = np.flatnonzero(model.deform_types == DeformType.BDEF2)
    assert len(bdef2) > 0
    pairs = {tuple(sorted(p)) for p in model.bone_indices[bdef2, :2].tolist()}
    neck = model.bone_index("首")
    assert tuple(sorted((neck, head))) in pairs and tuple(sorted((neck, model.bone_index("上半身")))) in pairs
    w = model.bone_weights
    assert np.allclose(w.sum(1), 1.0, atol=1e-6)
    assert np.all(model.bone_indices[model.deform_types == DeformType.BDEF1, 1:] == -1)


def test_face_morphs_stay_in_the_face(model: Model) -> None:
    neck_root = model.bones[model.bone_index("首")].position[1]
    face_like = np.concatenate([_material_vertices(model, m) for m in ["顔", "目", "まつげ", "口"]])
    for name in FACE_MORPHS:
        morph = _morph(model, name)
        assert len(morph.indices) > 0 and np.abs(morph.values).max() > 0.05, name
        assert np.all(model.positions[morph.indices, 1] > neck_root), name
        assert np.all(np.isin(morph.indices, face_like)), name


def test_winks_are_one_sided_and_close_the_eyes(model: Model) -> None:
    blink = _morph(model, "まばたき")
    bx = model.positions[blink.indices, 0]
    assert (bx > 0).any() and (bx < 0).any()
    for name, sign in [("ウィンク", 1), ("ウィンク２", 1), ("ウィンク右", -1), ("ｳｨﾝｸ２右", -1)]:
        morph = _morph(model, name)
        assert np.all(np.sign(model.positions[morph.indices, 0]) == sign), name
    # the normal closes are exactly the matching halves of the blink; the smile winks are not
    for name, sign in [("ウィンク２", 1), ("ｳｨﾝｸ２右", -1)]:
        morph = _morph(model, name)
        half = np.sign(bx) == sign
        assert np.array_equal(morph.indices, blink.indices[half])
        assert np.array_equal(morph.values, blink.values[half])
    smile = _morph(model, "ウィンク")
    assert not np.allclose(smile.values, blink.values[bx > 0])
    # closing the eyes: the eye discs collapse to a thin band
    eyes = _material_vertices(model, "目")
    closed = model.positions.astype(np.float64).copy()
    closed[blink.indices] += blink.values
    for side in (1, -1):
        v = eyes[np.sign(model.positions[eyes, 0]) == side]
        rest_h = np.ptp(model.positions[v, 1])
        assert np.ptp(closed[v, 1]) < 0.15 * rest_h
        # the upper half of the eye moves down
        upper = v[model.positions[v, 1] > model.positions[v, 1].mean() + 0.1]
        assert np.all(closed[upper, 1] < model.positions[upper, 1])


def test_mouth_a_opens_downward(model: Model) -> None:
    mouth = _material_vertices(model, "口")
    a = _morph(model, "あ")
    assert np.isin(mouth, a.indices).all()
    opened = model.positions.astype(np.float64).copy()
    opened[a.indices] += a.values
    rest_h = np.ptp(model.positions[mouth, 1])
    assert np.ptp(opened[mouth, 1]) > 5 * rest_h
    assert opened[mouth, 1].min() < model.positions[mouth, 1].min() - 0.2
    assert a.values[:, 1].mean() < 0  # mostly downward, including the jaw drop
    # the mouth interior stays in front of the face (visible)
    face = _material_vertices(model, "顔")
    assert opened[mouth, 2].max() < model.positions[face, 2].mean()
    # い widens without opening much
    i_morph = _morph(model, "い")
    widened = model.positions.astype(np.float64).copy()
    widened[i_morph.indices] += i_morph.values
    assert np.ptp(widened[mouth, 0]) > np.ptp(model.positions[mouth, 0]) * 1.2


def test_ahoge_stands_above_the_skull(model: Model) -> None:
    skull_top = model.positions[_material_vertices(model, "顔"), 1].max()
    hair = _material_vertices(model, "髪")
    assert model.positions[hair, 1].max() > skull_top + 1.0
    # the hair cap covers the top of the head
    assert model.positions[hair, 1].max() > skull_top


def test_normals_and_winding(model: Model) -> None:
    assert np.allclose(np.linalg.norm(model.normals, axis=1), 1.0, atol=1e-5)
    p = model.positions.astype(np.float64)[model.faces]
    cross = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
    agree = np.einsum("ij,ij->i", cross, model.normals[model.faces].sum(1)) > 0
    assert agree.mean() > 0.99  # MMD convention, as in real models
    head = _material_vertices(model, "顔")
    centre = model.positions[head].mean(0)
    outward = np.einsum("ij,ij->i", model.normals[head], model.positions[head] - centre)
    assert np.mean(outward > 0) > 0.98


def test_deterministic() -> None:
    assert builtin_character() == builtin_character()


def test_write_and_read_back(tmp_path: Path, model: Model) -> None:
    from thagen.rigs.reader import read_model

    path = write_builtin_character(tmp_path, "chara")
    assert path == tmp_path / "chara.pmx" and path.is_file()
    back = read_model(path)
    assert back == model
    for stored in back.textures:
        found = resolve_texture(path, stored)
        assert found is not None
        with Image.open(found) as img:
            pixels = np.asarray(img.convert("RGB")).reshape(-1, 3)
            assert img.width >= 32 and len(np.unique(pixels, axis=0)) > 3
    with Image.open(tmp_path / ATLAS_NAME) as atlas:
        assert atlas.size == (512, 512)


@pytest.mark.slow
def test_dense_variant() -> None:
    dense = builtin_character(200_000)
    assert 200_000 <= dense.vertex_count <= 240_000
    assert [m.name for m in dense.morphs] == [m.name for m in builtin_character().morphs]
    wink = dense.morphs[dense.morph_index("ウィンク")]
    assert np.all(dense.positions[wink.indices, 0] > 0)
    assert dense.faces.max() < dense.vertex_count
