"""PMD reader: Gene facts, PMD/PMX agreement, every PMD -> Model conversion rule, strict errors."""

from __future__ import annotations

import math
import struct
from pathlib import Path

import numpy as np
import pytest

from thagen.errors import ModelFormatError
from thagen.rigs.formats.pmd import read_pmd
from thagen.rigs.formats.pmx.reader import pmx_bytes
from thagen.rigs.model import BoneFlag, DeformType, MaterialFlag, Model, MorphKind
from thagen.rigs.reader import read_model, read_model_bytes


@pytest.fixture(scope="module")
def pmd(gene_pmd: Path) -> Model:
    return read_model(gene_pmd)


@pytest.fixture(scope="module")
def pmx(gene_pmx: Path) -> Model:
    return read_model(gene_pmx)


def test_gene_pmd_counts(pmd: Model, gene_pmd: Path) -> None:
    assert (pmd.format, pmd.version, pmd.encoding) == ("pmd", 1.0, "cp932")
    assert pmd.name == "ジェネ / Gene" and pmd.name_en == "CHMSgeneric.model.v"
    assert pmd.vertex_count == 28_646 and pmd.face_count == 47_106
    assert len(pmd.materials) == 13 and len(pmd.textures) == 10
    assert len(pmd.bones) == 224 and sum(b.ik is not None for b in pmd.bones) == 6
    # 178 PMD morphs = base + 177: the base is folded into absolute indices and dropped
    assert len(pmd.morphs) == 177 and all(m.kind == MorphKind.VERTEX for m in pmd.morphs)
    assert len(pmd.rigid_bodies) == 87 and len(pmd.joints) == 92
    assert np.all(pmd.deform_types == DeformType.BDEF2)
    panels = np.bincount([m.panel for m in pmd.morphs], minlength=5).tolist()
    assert panels == [0, 21, 35, 31, 90]
    assert all(m.toon_index == -1 and not m.toon_shared for m in pmd.materials)
    assert pmd.source_path == gene_pmd
    assert pmd.extra_uvs.shape == (28_646, 0, 4) and pmd.sdef.shape == (28_646, 3, 3)


def test_gene_pmd_and_pmx_agree(pmd: Model, pmx: Model) -> None:
    assert np.array_equal(pmd.positions, pmx.positions)
    assert np.array_equal(pmd.normals, pmx.normals) and np.array_equal(pmd.uvs, pmx.uvs)
    assert np.array_equal(pmd.faces, pmx.faces)
    assert pmd.textures == pmx.textures
    assert [b.name for b in pmd.bones] == [b.name for b in pmx.bones]
    assert [b.parent for b in pmd.bones] == [b.parent for b in pmx.bones]
    assert all(np.array_equal(a.position, b.position) for a, b in zip(pmd.bones, pmx.bones))
    assert [(m.face_start, m.face_count) for m in pmd.materials] == [
        (m.face_start, m.face_count) for m in pmx.materials
    ]
    for a, b in zip(pmd.materials, pmx.materials):  # (the upstream files differ in some alphas)
        assert np.array_equal(a.diffuse[:3], b.diffuse[:3]) and a.texture == b.texture
    vertex = [m for m in pmx.morphs if m.kind == MorphKind.VERTEX]
    changed = [(a.name, b.name) for a, b in zip(pmd.morphs, vertex) if a.name != b.name]
    assert changed == [
        ("brow_surprise_geo_.", "brow_surprise_geo_.001"),
        ("brow_ridicule_geo_.", "brow_ridicule_geo_.001"),
    ]
    for a, b in zip(pmd.morphs, vertex):
        oa, ob = np.argsort(a.indices, kind="stable"), np.argsort(b.indices, kind="stable")
        assert np.array_equal(a.indices[oa], b.indices[ob]) and np.allclose(
            a.values[oa], b.values[ob], atol=1e-6
        )
        assert a.panel == b.panel
    for name in ("まばたき", "あ", "ｳｨﾝｸ２右", "ウィンク右", "笑い"):
        assert pmd.morph_index(name) >= 0, name
    for i, (a, b) in enumerate(zip(pmd.bones, pmx.bones)):
        assert (a.ik is None) == (b.ik is None), i
        if a.ik is not None:
            assert (a.ik.target, a.ik.loop_count) == (b.ik.target, b.ik.loop_count)
            assert a.ik.limit_angle == pytest.approx(b.ik.limit_angle)  # PMD weight * 4
            assert [lk.bone for lk in a.ik.links] == [lk.bone for lk in b.ik.links]
    # rigid bodies are stored bone-relative in PMD: made absolute they match the PMX
    pa = np.array([r.position for r in pmd.rigid_bodies])
    pb = np.array([r.position for r in pmx.rigid_bodies])
    assert np.allclose(pa, pb, atol=1e-4)
    assert [r.bone for r in pmd.rigid_bodies] == [r.bone for r in pmx.rigid_bodies]
    assert [(j.body_a, j.body_b) for j in pmd.joints] == [(j.body_a, j.body_b) for j in pmx.joints]
    assert [f.name for f in pmd.display_frames] == [f.name for f in pmx.display_frames]
    ordinal = {j: n for n, j in enumerate(i for i, m in enumerate(pmx.morphs) if m.kind == MorphKind.VERTEX)}
    pmx_exp = [(1, ordinal[i]) for _, i in pmx.display_frames[1].items if i in ordinal]
    assert pmd.display_frames[1].items == pmx_exp
    for a, b in zip(pmd.display_frames[2:], pmx.display_frames[2:]):
        assert a.items == b.items


def test_gene_pmd_converts_to_pmx(pmd: Model) -> None:
    back = read_model_bytes(pmx_bytes(pmd))
    assert (back.format, back.version, back.encoding) == ("pmx", 2.0, "utf-16-le")
    back.format, back.version, back.encoding = pmd.format, pmd.version, pmd.encoding
    assert back == pmd


# ------------------------------------------------------------------------------------------
# a tiny hand-made PMD that exercises every conversion rule
# ------------------------------------------------------------------------------------------


def _s(text: str, n: int) -> bytes:
    raw = text.encode("cp932")
    assert len(raw) <= n
    return raw + b"\0" + b"\xfd" * (n - len(raw) - 1) if len(raw) < n else raw


BONES = [  # name, parent, tail, type, ik field, position
    ("センター", 0xFFFF, 1, 1, 0, (0, 8, 0)),
    ("左足", 0, 2, 0, 0, (1, 7, 0)),
    ("左ひざ", 1, 3, 0, 0, (1, 4, 0)),
    ("左足首", 2, 0, 0, 0, (1, 1, 0)),
    ("左足ＩＫ", 0, 0, 2, 0, (1, 1, 0)),
    ("左腕捩", 0, 1, 8, 0, (0, 4, 0)),
    ("回転影響", 0, 0, 5, 1, (0, 0, 0)),
    ("回転連動", 0, 1, 9, 50, (0, 0, 0)),
    ("非表示", 0, 0, 7, 0, (0, 0, 0)),
]


def tiny_pmd() -> tuple[bytes, dict[str, int]]:
    """The file and the offsets where its optional sections start."""
    out = bytearray(b"Pmd" + struct.pack("<f", 1.0) + _s("テスト", 20) + _s("コメント", 256))
    verts = [
        ((0, 0, 0), 0, 1, 100, 0),
        ((1, 0, 0), 1, 1, 30, 1),
        ((0, 1, 0), 2, 3, 0, 0),
        ((1, 1, 0), 3, 0, 55, 0),
    ]
    out += struct.pack("<I", len(verts))
    for pos, b0, b1, w, edge in verts:
        out += struct.pack("<3f3f2fHHBB", *pos, 0, 0, 1, pos[0], pos[1], b0, b1, w, edge)
    out += struct.pack("<I6H", 6, 0, 1, 2, 1, 3, 2)
    mats = [  # diffuse, alpha, toon byte, edge byte, texture field, index count
        ((1, 0, 0), 1.0, 255, 1, "a.bmp*b.spa", 3),
        ((0, 1, 0), 0.98, 1, 0, "s.sph", 3),
        ((0, 0, 1), 0.5, 255, 0, "", 0),
    ]
    out += struct.pack("<I", len(mats))
    for color, alpha, toon, edge, tex, count in mats:
        out += struct.pack(
            "<3fff3f3fBBI", *color, alpha, 5.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, toon, edge, count
        )
        out += _s(tex, 20)
    out += struct.pack("<H", len(BONES))
    for name, parent, tail, kind, ik, pos in BONES:
        out += _s(name, 20) + struct.pack("<HHBH3f", parent, tail, kind, ik, *pos)
    out += struct.pack("<H", 1) + struct.pack("<HHBHf", 4, 3, 2, 40, 0.5) + struct.pack("<2H", 2, 1)
    out += struct.pack("<H", 3)
    out += (
        _s("base", 20)
        + struct.pack("<IB", 2, 0)
        + struct.pack("<I3f", 1, 1, 0, 0)
        + struct.pack("<I3f", 3, 1, 1, 0)
    )
    out += _s("あ", 20) + struct.pack("<IB", 1, 3) + struct.pack("<I3f", 1, 0, -0.5, 0)
    out += (
        _s("まばたき", 20)
        + struct.pack("<IB", 2, 2)
        + struct.pack("<I3f", 0, 0, 0.25, 0)
        + struct.pack("<I3f", 1, 0.5, 0, 0)
    )
    out += struct.pack("<B2H", 2, 2, 1)
    out += struct.pack("<B", 2) + _s("センター\n", 50) + _s("足\n", 50)
    out += (
        struct.pack("<I", 3) + struct.pack("<HB", 0, 1) + struct.pack("<HB", 4, 2) + struct.pack("<HB", 1, 2)
    )
    marks = {"english": len(out)}
    out += struct.pack("<B", 1) + _s("Test", 20) + _s("Comment", 256)
    out += b"".join(_s(f"bone{i}", 20) for i in range(len(BONES)))
    out += _s("a", 20) + _s("blink", 20) + _s("Center", 50) + _s("Legs", 50)
    marks["toon"] = len(out)
    toons = ["toon03.bmp", "mytoon.bmp"] + [f"toon{i:02d}.bmp" for i in range(3, 11)]
    out += b"".join(_s(t, 100) for t in toons)
    marks["physics"] = len(out)
    out += struct.pack("<I", 2)
    out += _s("剛体", 20) + struct.pack(
        "<HBHB3f3f3f5fB", 1, 2, 0xFFFE, 1, 1, 2, 3, 1, 0, 0, 0, 0.5, 0, 1, 0.5, 0.5, 0, 0.5, 1
    )
    out += _s("none", 20) + struct.pack(
        "<HBHB3f3f3f5fB", 0xFFFF, 0, 0, 0, 1, 1, 1, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0
    )
    marks["joints"] = len(out)
    out += struct.pack("<I", 1) + _s("joint", 20) + struct.pack("<ii24f", 0, 1, *range(24))
    return bytes(out), marks


def test_tiny_pmd_conversion_rules() -> None:
    data, _ = tiny_pmd()
    m = read_model_bytes(data, name="tiny.pmd")
    assert (m.name, m.comment, m.name_en, m.comment_en) == ("テスト", "コメント", "Test", "Comment")
    # vertices: equal bone pair -> BDEF1; weights are percent; edge byte 1 -> edge scale 0
    assert m.deform_types.tolist() == [DeformType.BDEF2, DeformType.BDEF1, DeformType.BDEF2, DeformType.BDEF2]
    assert m.bone_indices[1].tolist() == [1, -1, -1, -1] and m.bone_weights[1].tolist() == [1, 0, 0, 0]
    assert m.bone_weights[3, :2].tolist() == pytest.approx([0.55, 0.45])
    assert m.edge_scales.tolist() == [1, 0, 1, 1]
    # materials: texture*sphere, lone sphere, toon table, alpha rules, empty material
    a, b, c = m.materials
    assert m.textures == ["a.bmp", "b.spa", "s.sph", "mytoon.bmp"]
    assert (a.texture, a.sphere_texture, a.sphere_mode) == (0, 1, 2)
    assert (b.texture, b.sphere_texture, b.sphere_mode) == (-1, 2, 1)
    assert (a.toon_shared, a.toon_index) == (False, -1)  # 255 = none
    assert (b.toon_shared, b.toon_index) == (False, 3)  # custom toon -> texture
    assert (a.name, c.name_en) == ("材質1", "Material3")
    assert a.flags & MaterialFlag.EDGE and a.flags & MaterialFlag.GROUND_SHADOW and not a.double_sided
    assert a.flags & MaterialFlag.SELF_SHADOW and not b.flags & MaterialFlag.SELF_SHADOW  # alpha 0.98
    assert b.double_sided and c.double_sided and not b.flags & MaterialFlag.EDGE
    assert [(x.face_start, x.face_count) for x in m.materials] == [(0, 1), (1, 1), (2, 0)]
    # bones
    center, leg, knee, ankle, ik, twist, inh, follow, hidden = m.bones
    assert center.parent == -1 and center.flags & BoneFlag.TRANSLATABLE and center.tail_bone == 1
    assert not leg.flags & BoneFlag.TRANSLATABLE and leg.flags & BoneFlag.TAIL_IS_BONE
    assert not ankle.flags & BoneFlag.TAIL_IS_BONE and ankle.tail_bone == -1  # tail 0 = none
    assert ik.flags & BoneFlag.IK and ik.flags & BoneFlag.TRANSLATABLE and ik.ik is not None
    assert (ik.ik.target, ik.ik.loop_count, ik.ik.limit_angle) == (3, 40, 2.0)
    assert [lk.bone for lk in ik.ik.links] == [2, 1]
    assert ik.ik.links[0].limit_max is not None and ik.ik.links[1].limit_min is None  # knee limit only
    assert ik.ik.links[0].limit_min[0] == pytest.approx(-math.pi)
    assert twist.flags & BoneFlag.FIXED_AXIS and not twist.flags & BoneFlag.TAIL_IS_BONE
    assert twist.fixed_axis.tolist() == pytest.approx([1 / math.sqrt(10), 3 / math.sqrt(10), 0])
    assert inh.flags & BoneFlag.INHERIT_ROTATION and (inh.inherit_parent, inh.inherit_weight) == (1, 1.0)
    assert follow.flags & BoneFlag.INHERIT_ROTATION and not follow.flags & BoneFlag.VISIBLE
    assert (follow.inherit_parent, follow.inherit_weight) == (1, pytest.approx(0.5))
    assert not hidden.flags & BoneFlag.VISIBLE and center.flags & BoneFlag.VISIBLE
    assert [bone.name_en for bone in m.bones][:2] == ["bone0", "bone1"]
    # morphs: base folded in, relative indices -> absolute vertices
    assert [(x.name, x.name_en, x.panel) for x in m.morphs] == [("あ", "a", 3), ("まばたき", "blink", 2)]
    assert m.morphs[0].indices.tolist() == [3] and m.morphs[0].values.tolist() == [[0, -0.5, 0]]
    assert m.morphs[1].indices.tolist() == [1, 3]
    # display frames: Root, 表情 (display list order), then the groups with names stripped
    assert [(f.name, f.name_en, f.special) for f in m.display_frames] == [
        ("Root", "Root", True), ("表情", "Exp", True), ("センター", "Center", False), ("足", "Legs", False),
    ]  # fmt: skip
    assert m.display_frames[1].items == [(1, 1), (1, 0)]
    assert m.display_frames[2].items == [(0, 0)] and m.display_frames[3].items == [(0, 4), (0, 1)]
    # physics: positions made absolute (bone 1 is at (1,7,0); no bone -> bone 0, at (0,8,0))
    r0, r1 = m.rigid_bodies
    assert r0.bone == 1 and r0.position.tolist() == [2, 7, 0] and r0.no_collide_mask == 0xFFFE
    assert (r0.size.tolist(), r0.mass, r0.mode) == ([1, 2, 3], 1.0, 1)
    assert r1.bone == -1 and r1.position.tolist() == [0, 9, 0]
    assert (m.joints[0].body_a, m.joints[0].body_b) == (0, 1) and m.joints[0].spring_angular.tolist() == [
        21,
        22,
        23,
    ]
    assert read_model_bytes(pmx_bytes(m)).bones == m.bones


def test_shared_toon_names_map_to_shared_toons() -> None:
    data, _ = tiny_pmd()
    # material 0's toon byte -> 0 (toon table slot 0 = toon03.bmp)
    at = data.index(b"a.bmp*b.spa") - 6
    assert data[at] == 255
    m = read_model_bytes(data[:at] + b"\x00" + data[at + 1 :])
    assert (m.materials[0].toon_shared, m.materials[0].toon_index) == (True, 2)


def test_optional_sections_may_be_missing() -> None:
    data, marks = tiny_pmd()
    m = read_model_bytes(data[: marks["english"]])
    assert m.name_en == "" and not m.rigid_bodies and m.display_frames[2].name_en == ""
    assert m.materials[1].toon_index == 1 and m.materials[1].toon_shared  # default table: toon02.bmp
    m = read_model_bytes(data[: marks["toon"]])
    assert m.name_en == "Test" and not m.rigid_bodies
    m = read_model_bytes(data[: marks["physics"]])
    assert m.textures[-1] == "mytoon.bmp" and not m.joints
    for cut in (
        marks["english"] + 10,
        marks["toon"] + 50,
        marks["physics"] + 2,
        marks["joints"] + 4,
        len(data) - 1,
    ):
        with pytest.raises(ModelFormatError, match="truncated|needs"):
            read_model_bytes(data[:cut])


def test_pmd_errors_name_the_field() -> None:
    data, marks = tiny_pmd()

    def err(raw: bytes) -> ModelFormatError:
        with pytest.raises(ModelFormatError) as info:
            read_pmd(raw, "t.pmd")
        assert info.value.path == "t.pmd"
        return info.value

    e = err(data[:3] + struct.pack("<f", 2.0) + data[7:])
    assert (e.field, e.offset) == ("version", 3)
    e = err(data + b"\0")
    assert e.field == "end of file"
    v0 = 283 + 4
    e = err(data[: v0 + 34] + struct.pack("<H", 99) + data[v0 + 36 :])  # vertex 0's second bone
    assert e.field == "vertex[0].bones" and "bone index 99" in str(e)
    e = err(data[: v0 + 36] + b"\x65" + data[v0 + 37 :])  # weight 101
    assert e.field == "vertex[0].weight"
    faces = v0 + 4 * 38 + 4
    e = err(data[:faces] + struct.pack("<H", 4) + data[faces + 2 :])
    assert (e.field, e.offset) == ("faces[0]", faces)
    big = data[: v0 - 4] + struct.pack("<I", 0xFFFFFFFF) + data[v0:]
    e = err(big)
    assert e.field == "vertex count" and "count" in str(e)
    e = err(data[: marks["english"]] + b"\x02")
    assert e.field == "English names flag"
    bone_type = data.index(_s("左足", 20)) + 24
    e = err(data[:bone_type] + b"\x0a" + data[bone_type + 1 :])
    assert e.field == "bone[1].type" and e.offset == bone_type
    morph_type = data.index(_s("あ", 20)) + 24
    e = err(data[:morph_type] + b"\x00" + data[morph_type + 1 :])  # a second base morph
    assert e.field == "morph[1].type"
    rel = morph_type + 1
    e = err(data[:rel] + struct.pack("<I", 2) + data[rel + 4 :])  # past the base morph's 2 entries
    assert e.field == "morph[1].offsets[0].index"
    joint_a = marks["joints"] + 4 + 20
    e = err(data[:joint_a] + struct.pack("<i", 2) + data[joint_a + 4 :])
    assert e.field == "joint[0].body_a"


def test_cp932_names_cut_mid_character_are_kept() -> None:
    data, _ = tiny_pmd()
    at = data.index(_s("センター", 20))
    cut = "センターセンターあx".encode("cp932") + b"\x82"  # 19 bytes, then half of a two-byte character
    assert len(cut) == 20
    m = read_model_bytes(data[:at] + cut + data[at + 20 :])
    assert m.bones[0].name == "センターセンターあx"
    with pytest.raises(ModelFormatError, match="cp932") as info:
        read_model_bytes(data[:at] + b"\x82\x20" + data[at + 2 :])  # a bad trail byte mid-name
    assert info.value.field == "bone[0].name" and info.value.offset == at
