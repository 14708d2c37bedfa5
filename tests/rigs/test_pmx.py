"""PMX reader/writer: facts about Gene, exact round trips, randomized models, strict errors."""

from __future__ import annotations

import struct
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

from thagen.errors import ModelFormatError
from thagen.rigs.formats.pmx.reader import header_for, pmx_bytes, read_pmx, write_pmx
from thagen.rigs.model import (
    IK,
    Bone,
    BoneFlag,
    DeformType,
    DisplayFrame,
    IKLink,
    Joint,
    Material,
    Model,
    Morph,
    MorphKind,
    RigidBody,
    SoftBody,
)
from thagen.rigs.reader import count_fields, read_model, read_model_bytes

NAMES = ["まばたき", "あ", "頭", "ｳｨﾝｸ２右", "eye_L", "", "笑顔(総", "😀 emoji", "tab\tname", "長い名前" * 5]

# ------------------------------------------------------------------------------------------
# a seeded random model that uses every feature of the format
# ------------------------------------------------------------------------------------------


def _f(rng: np.random.Generator) -> float:
    """A Python float that survives float32 storage exactly."""
    return float(np.float32(rng.normal()))


def _v(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.normal(size=shape).astype(np.float32)


def _name(rng: np.random.Generator) -> str:
    return NAMES[int(rng.integers(len(NAMES)))] + str(int(rng.integers(1000)))


def random_model(
    seed: int,
    *,
    version: float = 2.1,
    encoding: str = "utf-16-le",
    vertices: int = 60,
    bones: int = 12,
    morphs: int = 14,
    extra_uv: int | None = None,
) -> Model:
    """A valid model with random content; version 2.1 adds QDEF, flip/impulse morphs, joint kinds, soft bodies."""
    rng = np.random.default_rng(seed)
    v21 = version == 2.1
    n = vertices
    k = int(rng.integers(0, 5)) if extra_uv is None else extra_uv
    m = Model(format="pmx", version=version, encoding=encoding, name=_name(rng), name_en=_name(rng))
    m.comment, m.comment_en = "comment\r\n" + _name(rng), _name(rng)
    m.positions, m.normals, m.uvs = _v(rng, n, 3), _v(rng, n, 3), _v(rng, n, 2)
    m.extra_uvs = _v(rng, n, k, 4)
    types = rng.integers(0, 5 if v21 else 4, n).astype(np.uint8)
    m.deform_types = types
    idx = np.full((n, 4), -1, np.int32)
    w = np.zeros((n, 4), np.float32)
    nb = np.array([1, 2, 4, 2, 4])[types]
    for slot in range(4):
        used = nb > slot
        idx[used, slot] = rng.integers(-1 if slot else 0, bones, used.sum())
    w0 = rng.random(n).astype(np.float32)
    one = types == DeformType.BDEF1
    two = (types == DeformType.BDEF2) | (types == DeformType.SDEF)
    four = (types == DeformType.BDEF4) | (types == DeformType.QDEF)
    w[one, 0] = 1.0
    w[two, 0] = w0[two]
    w[two, 1] = np.float32(1.0) - w0[two]
    w[four] = rng.random((four.sum(), 4)).astype(np.float32)
    m.bone_indices, m.bone_weights = idx, w
    m.sdef = np.zeros((n, 3, 3), np.float32)
    m.sdef[types == DeformType.SDEF] = _v(rng, int((types == DeformType.SDEF).sum()), 3, 3)
    m.edge_scales = rng.random(n).astype(np.float32)
    faces = rng.integers(0, n, (3 * n, 3)).astype(np.int32)
    m.faces = faces
    m.textures = [f"tex/{_name(rng)}.png" for _ in range(int(rng.integers(0, 6)))]
    nt = len(m.textures)
    cuts = np.sort(rng.integers(0, len(faces) + 1, 3))
    bounds = [0, *cuts.tolist(), len(faces)]
    for i in range(4):
        shared = bool(rng.integers(2))
        m.materials.append(
            Material(
                name=_name(rng), name_en=_name(rng), diffuse=_v(rng, 4), specular=_v(rng, 3), specular_power=_f(rng),
                ambient=_v(rng, 3), flags=int(rng.integers(256)), edge_color=_v(rng, 4), edge_size=_f(rng),
                texture=int(rng.integers(-1, nt)), sphere_texture=int(rng.integers(-1, nt)),
                sphere_mode=int(rng.integers(4)), toon_shared=shared,
                toon_index=int(rng.integers(10)) if shared else int(rng.integers(-1, nt)),
                comment=_name(rng), face_start=bounds[i], face_count=bounds[i + 1] - bounds[i],
            )
        )  # fmt: skip
    for i in range(bones):
        flags = int(rng.integers(0, 0x4000)) & ~0x00C0 & ~0xC000
        b = Bone(
            name=_name(rng), name_en=_name(rng), position=_v(rng, 3), parent=int(rng.integers(-1, i + 1)) - 0
        )
        b.parent = min(b.parent, bones - 1)
        b.layer, b.flags = int(rng.integers(-3, 4)), flags
        if flags & BoneFlag.TAIL_IS_BONE:
            b.tail_bone = int(rng.integers(-1, bones))
        else:
            b.tail_offset = _v(rng, 3)
        if flags & (BoneFlag.INHERIT_ROTATION | BoneFlag.INHERIT_TRANSLATION):
            b.inherit_parent, b.inherit_weight = int(rng.integers(-1, bones)), _f(rng)
        if flags & BoneFlag.FIXED_AXIS:
            b.fixed_axis = _v(rng, 3)
        if flags & BoneFlag.LOCAL_AXES:
            b.local_x, b.local_z = _v(rng, 3), _v(rng, 3)
        if flags & BoneFlag.EXTERNAL_PARENT:
            b.external_key = int(rng.integers(-(2**31), 2**31))
        if flags & BoneFlag.IK:
            links = []
            for _ in range(int(rng.integers(0, 4))):
                lk = IKLink(bone=int(rng.integers(bones)))
                if rng.integers(2):
                    lk.limit_min, lk.limit_max = _v(rng, 3), _v(rng, 3)
                links.append(lk)
            b.ik = IK(target=int(rng.integers(bones)), loop_count=int(rng.integers(0, 100)), limit_angle=_f(rng),
                      links=links)  # fmt: skip
        m.bones.append(b)
    kinds = list(range(11 if v21 else 9))
    ncols = {0: 0, 1: 3, 2: 7, 3: 4, 4: 4, 5: 4, 6: 4, 7: 4, 8: 29, 9: 0, 10: 7}
    nr = int(rng.integers(1, 6))
    for i in range(morphs):
        kind = kinds[i % len(kinds)]
        kk = int(rng.integers(0, 6))
        target = {0: morphs, 9: morphs, 2: bones, 8: len(m.materials), 10: nr}.get(kind, n)
        low = -1 if kind == MorphKind.MATERIAL else 0
        values = _v(rng, kk, ncols[kind]) if ncols[kind] else _v(rng, kk)
        if kind in (MorphKind.MATERIAL, MorphKind.IMPULSE):
            values[:, 0] = rng.integers(0, 2, kk)
        m.morphs.append(
            Morph(name=_name(rng), name_en=_name(rng), panel=int(rng.integers(5)), kind=kind,
                  indices=rng.integers(low, target, kk).astype(np.int32), values=values)
        )  # fmt: skip
    for i in range(3):
        items = [(int(t), int(rng.integers(bones if t == 0 else morphs))) for t in rng.integers(0, 2, 4)]
        m.display_frames.append(
            DisplayFrame(name=_name(rng), name_en=_name(rng), special=bool(i < 2), items=items)
        )
    for _ in range(nr):
        m.rigid_bodies.append(
            RigidBody(name=_name(rng), name_en=_name(rng), bone=int(rng.integers(-1, bones)),
                      group=int(rng.integers(16)), no_collide_mask=int(rng.integers(65536)),
                      shape=int(rng.integers(3)), size=_v(rng, 3), position=_v(rng, 3), rotation=_v(rng, 3),
                      mass=_f(rng), linear_damping=_f(rng), angular_damping=_f(rng), restitution=_f(rng),
                      friction=_f(rng), mode=int(rng.integers(3)))
        )  # fmt: skip
    for _ in range(4):
        j = Joint(name=_name(rng), name_en=_name(rng), kind=int(rng.integers(6)) if v21 else 0,
                  body_a=int(rng.integers(-1, nr)), body_b=int(rng.integers(-1, nr)))  # fmt: skip
        for attr in ("position", "rotation", "linear_min", "linear_max", "angular_min", "angular_max",
                     "spring_linear", "spring_angular"):  # fmt: skip
            setattr(j, attr, _v(rng, 3))
        m.joints.append(j)
    if v21:
        for _ in range(2):
            na = int(rng.integers(0, 4))
            anchors = np.stack(
                [rng.integers(0, nr, na), rng.integers(0, n, na), rng.integers(0, 2, na)], axis=1
            ).astype(np.int32)
            m.soft_bodies.append(
                SoftBody(name=_name(rng), name_en=_name(rng), shape=int(rng.integers(2)),
                         material=int(rng.integers(-1, len(m.materials))), group=int(rng.integers(16)),
                         no_collide_mask=int(rng.integers(65536)), flags=int(rng.integers(8)),
                         b_link_distance=int(rng.integers(100)), clusters=int(rng.integers(100)),
                         total_mass=_f(rng), margin=_f(rng), aero_model=int(rng.integers(5)), config=_v(rng, 12),
                         cluster=_v(rng, 6), iteration=rng.integers(0, 9, 4).astype(np.int32),
                         material_params=_v(rng, 3), anchors=anchors.reshape(-1, 3),
                         pins=rng.integers(0, n, int(rng.integers(0, 5))).astype(np.int32))
            )  # fmt: skip
    return m


# ------------------------------------------------------------------------------------------
# Gene
# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gene(gene_pmx: Path) -> Model:
    return read_model(gene_pmx)


def test_gene_counts_match_the_testdata_readme(gene: Model, gene_pmx: Path) -> None:
    assert (gene.format, gene.version, gene.encoding) == ("pmx", 2.0, "utf-16-le")
    assert gene.name == "ジェネ / Gene" and gene.name_en == "CHMSgeneric.model.v0"
    assert gene.vertex_count == 28_646 and gene.face_count == 47_106
    assert len(gene.materials) == 13 and len(gene.textures) == 10
    assert len(gene.bones) == 224 and sum(b.ik is not None for b in gene.bones) == 6
    assert all(bool(b.flags & BoneFlag.IK) == (b.ik is not None) for b in gene.bones)
    kinds = [m.kind for m in gene.morphs]
    assert len(kinds) == 184
    assert (kinds.count(MorphKind.VERTEX), kinds.count(MorphKind.MATERIAL), kinds.count(MorphKind.UV)) == (
        177,
        3,
        1,
    )
    assert kinds.count(MorphKind.GROUP) == 3
    assert len(gene.display_frames) == 15 and len(gene.rigid_bodies) == 87 and len(gene.joints) == 92
    assert np.bincount(gene.deform_types, minlength=5).tolist() == [13_552, 10_178, 4_916, 0, 0]
    assert gene.extra_uvs.shape == (28_646, 0, 4)
    assert sum(m.face_count for m in gene.materials) == gene.face_count
    assert gene.source_path == gene_pmx
    h = header_for(gene)  # the smallest sizes are exactly the file's globals
    assert (h.vertex_size, h.texture_size, h.material_size, h.bone_size, h.morph_size, h.rigid_size) == (
        2, 1, 1, 2, 2, 1,
    )  # fmt: skip
    assert gene.textures[0] == "light/hair2.png" and gene.textures[9] == "light/iraira.png"


def test_gene_dtypes_are_consistent(gene: Model) -> None:
    for name in ("positions", "normals", "uvs", "extra_uvs", "bone_weights", "sdef", "edge_scales"):
        assert getattr(gene, name).dtype == np.float32, name
    assert gene.faces.dtype == np.int32 and gene.bone_indices.dtype == np.int32
    assert gene.deform_types.dtype == np.uint8
    bdef1 = gene.deform_types == DeformType.BDEF1
    assert np.all(gene.bone_indices[bdef1, 1:] == -1) and np.all(gene.bone_weights[bdef1, 0] == 1)
    bdef2 = gene.deform_types == DeformType.BDEF2
    assert np.allclose(gene.bone_weights[bdef2, :2].sum(axis=1), 1) and np.all(
        gene.bone_indices[bdef2, 2:] == -1
    )
    assert gene.bone_indices.max() < len(gene.bones) and gene.faces.max() < gene.vertex_count
    assert all(m.indices.dtype == np.int32 and m.values.dtype == np.float32 for m in gene.morphs)


def test_gene_names_and_quirks(gene: Model) -> None:
    for bone in ("頭", "首", "両目", "左目", "右目", "上半身", "上半身2", "センター", "全ての親"):
        assert gene.bone_index(bone) >= 0, bone
    for morph in (
        "まばたき",
        "eyeBlink",
        "あ",
        "jawOpen",
        "い",
        "う",
        "え",
        "お",
        "笑い",
        "ウィンク右",
        "ｳｨﾝｸ２右",
    ):
        assert gene.morphs[gene.morph_index(morph)].kind == MorphKind.VERTEX, morph
    assert gene.morphs[gene.morph_index("メッシュなし")].kind == MorphKind.UV
    for name in ("青ざめ", "どんより", "いらいら"):
        morph = gene.morphs[gene.morph_index(name)]
        assert morph.kind == MorphKind.MATERIAL and morph.values.shape[1] == 29
        assert set(np.unique(morph.values[:, 0]).tolist()) <= {0.0, 1.0}
    irairai = next(m for m in gene.materials if m.name == "イライラ")
    assert irairai.sphere_mode == 1 and irairai.sphere_texture == -1
    assert all(m.toon_index == -1 and not m.toon_shared for m in gene.materials)
    # winks: the model's left eye is +X (MMD's frame is kept)
    left = gene.morphs[gene.morph_index("ウィンク")]
    right = gene.morphs[gene.morph_index("ｳｨﾝｸ２右")]
    assert gene.positions[left.indices, 0].mean() > 0 > gene.positions[right.indices, 0].mean()
    blink = gene.morphs[gene.morph_index("まばたき")]
    assert np.array_equal(np.sort(blink.indices), np.sort(gene.morphs[gene.morph_index("eyeBlink")].indices))
    assert blink.values.shape == (len(blink.indices), 3) and np.abs(blink.values).max() > 0


def test_gene_rewrites_byte_for_byte(gene: Model, gene_pmx: Path, tmp_path: Path) -> None:
    data = gene_pmx.read_bytes()
    assert pmx_bytes(gene) == data
    out = tmp_path / "gene.pmx"
    write_pmx(gene, out)
    assert out.read_bytes() == data and [p.name for p in tmp_path.iterdir()] == ["gene.pmx"]
    assert read_model(out) == gene


def test_read_model_from_zip(gene: Model, gene_pmx: Path, tmp_path: Path) -> None:
    archive = tmp_path / "gene.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(gene_pmx, "Gene/Gene_light.pmx")
    model = read_model(archive, cache_dir=tmp_path / "cache")
    assert model == gene and model.source_path is not None and model.source_path.name == "Gene_light.pmx"


# ------------------------------------------------------------------------------------------
# randomized round trips
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(12))
def test_random_models_round_trip(seed: int) -> None:
    version = 2.1 if seed % 3 else 2.0
    encoding = "utf-8" if seed % 2 else "utf-16-le"
    model = random_model(seed, version=version, encoding=encoding, extra_uv=seed % 5)
    data = pmx_bytes(model)
    back = read_model_bytes(data)
    assert back == model
    assert pmx_bytes(back) == data
    assert data[9] == (1 if encoding == "utf-8" else 0) and data[10] == seed % 5


def test_all_deform_and_morph_kinds_are_exercised() -> None:
    model = random_model(3, version=2.1, vertices=200, morphs=22)
    assert set(np.unique(model.deform_types).tolist()) == {0, 1, 2, 3, 4}
    assert {m.kind for m in model.morphs} == set(range(11))
    assert model.soft_bodies and any(j.kind for j in model.joints)
    assert read_model_bytes(pmx_bytes(model)) == model


@pytest.mark.parametrize(
    ("vertices", "bones", "morphs", "sizes"),
    [(255, 127, 127, (1, 1, 1)), (256, 128, 128, (2, 2, 2)), (65_536, 40, 9, (4, 1, 1))],
)
def test_index_sizes_follow_the_spec_ranges(vertices: int, bones: int, morphs: int, sizes: tuple) -> None:
    model = random_model(7, version=2.0, vertices=vertices, bones=bones, morphs=morphs, extra_uv=0)
    data = pmx_bytes(model)
    assert (data[11], data[14], data[15]) == sizes
    assert read_model_bytes(data) == model


def test_vertex_indices_use_the_full_unsigned_range() -> None:
    model = random_model(8, version=2.0, vertices=255, extra_uv=0)
    model.faces[0] = [254, 200, 128]  # >= 128: would be negative if read as signed bytes
    back = read_model_bytes(pmx_bytes(model))
    assert back.faces[0].tolist() == [254, 200, 128]


_PER_VERTEX = ("positions", "normals", "uvs", "extra_uvs", "deform_types", "bone_indices", "bone_weights", "sdef",
               "edge_scales")  # fmt: skip


def _reorder(model: Model, order: np.ndarray) -> Model:
    """The same model with its vertex records permuted (faces and morphs stay valid indices)."""
    for name in _PER_VERTEX:
        setattr(model, name, getattr(model, name)[order])
    return model


@pytest.mark.parametrize("layout", ["long runs", "runs then mixed", "random"])
def test_vertex_record_layouts_parse_and_errors_name_the_vertex(layout: str) -> None:
    model = random_model(4, version=2.1, vertices=3000, extra_uv=1)
    types = model.deform_types
    if layout == "long runs":
        order = np.argsort(types, kind="stable")
    elif layout == "runs then mixed":
        order = np.concatenate([np.argsort(types[:1500], kind="stable"), np.arange(1500, 3000)])
    else:
        order = np.arange(3000)
    model = _reorder(model, order)
    data = pmx_bytes(model)
    assert read_model_bytes(data) == model
    prefix = 4 * (8 + 4)
    run_starts = (np.flatnonzero(np.diff(model.deform_types.astype(int))) + 1).tolist()
    # the 9th run's first record is where the reader gives up on runs when they are short
    for k in (0, 1, 777, 1499, 1500, 2222, 2999, *run_starts[7:9], *run_starts[-2:]):
        at = _record_offset(model, data, k) + prefix
        e = _err(_patch(data, at, b"\x09"))
        assert (e.field, e.offset) == (f"vertex[{k}].deform_type", at), layout
    # a record whose type claims a bigger size than is left: the file ends inside it
    e = _err(data[: _record_offset(model, data, 2999) + prefix + 3])
    assert e.field == "vertex[2999]" and "truncated" in str(e)


def test_writer_refuses_21_features_in_a_20_model() -> None:
    model = random_model(1, version=2.1)
    model.version = 2.0
    with pytest.raises(ModelFormatError, match="2.1"):
        pmx_bytes(model)


def test_reading_a_large_mixed_model_is_vectorized() -> None:
    model = random_model(11, version=2.1, vertices=120_000, extra_uv=1, morphs=11)
    data = pmx_bytes(model)
    start = time.perf_counter()
    back = read_model_bytes(data)
    assert back == model
    assert time.perf_counter() - start < 5.0  # a per-vertex Python loop would take far longer


# ------------------------------------------------------------------------------------------
# strictness: every error names the file, the byte and the field
# ------------------------------------------------------------------------------------------


def _err(data: bytes) -> ModelFormatError:
    with pytest.raises(ModelFormatError) as info:
        read_model_bytes(data, name="bad.pmx")
    assert info.value.path == "bad.pmx"
    return info.value


@pytest.fixture(scope="module")
def small() -> bytes:
    return pmx_bytes(random_model(5, version=2.0, extra_uv=1))


def _patch(data: bytes, offset: int, raw: bytes) -> bytes:
    return data[:offset] + raw + data[offset + len(raw) :]


def test_header_errors(small: bytes) -> None:
    e = _err(_patch(small, 4, struct.pack("<f", 2.2)))
    assert (e.field, e.offset) == ("version", 4) and "2.2" in str(e)
    e = _err(_patch(small, 8, b"\x09"))
    assert e.field == "globals count"
    e = _err(_patch(small, 9, b"\x02"))
    assert e.field == "globals.encoding" and e.offset == 9
    e = _err(_patch(small, 10, b"\x05"))
    assert e.field == "globals.additional_uv"
    e = _err(_patch(small, 13, b"\x03"))
    assert e.field == "globals.material_index_size"
    e = _err(b"PMZ " + small[4:])
    assert e.field == "magic"


def _field_offset(data: bytes, field: str) -> int:
    return next(off for off, _size, name in count_fields(data) if name == field)


def test_unknown_deform_type_and_morph_kind(small: bytes) -> None:
    vcount = _field_offset(small, "vertex count")
    prefix = 4 + 4 * (8 + 4)  # count + fixed vertex floats with one additional UV
    e = _err(_patch(small, vcount + prefix, b"\x04"))  # QDEF in a 2.0 file
    assert e.field == "vertex[0].deform_type" and e.offset == vcount + prefix
    model = random_model(5, version=2.0, extra_uv=1)
    first = int(np.argmax(model.deform_types == 1))
    e = _err(_patch(small, _record_offset(model, small, first) + prefix - 4, b"\x07"))
    assert e.field == f"vertex[{first}].deform_type"
    at = _field_offset(small, "morph[0].offset count")
    e = _err(_patch(small, at - 1, b"\x0b"))
    assert e.field == "morph[0].kind" and e.offset == at - 1


def _record_offset(model: Model, data: bytes, i: int) -> int:
    h = header_for(model)
    sizes = (
        np.array([1, 2, 4, 2, 4])[model.deform_types] * h.bone_size
        + np.array([0, 4, 16, 40, 16])[model.deform_types]
    )
    rec = 4 * (8 + 4 * h.extra_uv) + 1 + sizes + 4
    return _field_offset(data, "vertex count") + 4 + int(rec[:i].sum())


def test_bad_references_are_errors(small: bytes) -> None:
    model = random_model(5, version=2.0, extra_uv=1)
    data = small
    assert data[11] == 1  # 60 vertices: 1-byte vertex indices
    faces_at = _field_offset(data, "face index count") + 4
    e = _err(_patch(data, faces_at + 3 * 5 + 2, struct.pack("<B", 200)))
    assert (e.field, e.offset) == ("faces[5]", faces_at + 17) and "vertex index 200 out of range" in str(e)
    # a vertex's first bone index past the bone count
    rec0 = _record_offset(model, data, 0)
    e = _err(_patch(data, rec0 + 4 * 12 + 1, b"\x7f"))
    assert e.field == "vertex[0].bones" and e.offset == rec0 + 49 and "bone index 127" in str(e)
    four = int(np.flatnonzero(model.deform_types == DeformType.BDEF4)[0])
    slot3 = _record_offset(model, data, four) + 4 * 12 + 1 + 3  # 1-byte bone indices
    e = _err(_patch(data, slot3, b"\x80"))  # -128: below the -1 "none"
    assert (e.field, e.offset) == (f"vertex[{four}].bones", slot3) and "bone index -128" in str(e)


def test_trailing_bytes_and_truncation(small: bytes) -> None:
    e = _err(small + b"\0")
    assert e.field == "end of file" and e.offset == len(small)
    for cut in (3, 20, len(small) // 3, len(small) // 2, len(small) - 1):
        e = _err(small[:cut])
        assert e.offset is not None and e.offset <= cut


@pytest.mark.slow
def test_huge_counts_fail_fast_without_allocating(small: bytes) -> None:
    fields = count_fields(small)
    assert len(fields) > 50
    tracemalloc.start()
    try:
        start = time.perf_counter()
        for off, size, name in fields:
            for value in (2**31 - 1, -1):
                raw = struct.pack("<q", value)[:size]  # little-endian: the low bytes
                with pytest.raises(ModelFormatError) as info:
                    read_model_bytes(_patch(small, off, raw))
                # refused at the count itself, before anything was sized by it
                assert (info.value.offset, info.value.field) == (off, name)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 50 * len(small) + 2_000_000
    assert time.perf_counter() - start < 20


def test_missing_file_and_non_model_files(tmp_path: Path) -> None:
    with pytest.raises(ModelFormatError, match="cannot read"):
        read_model(tmp_path / "nope.pmx")
    junk = tmp_path / "junk.pmx"
    junk.write_bytes(b"GIF89a....")
    with pytest.raises(ModelFormatError, match="not a PMX or PMD") as info:
        read_model(junk)
    assert info.value.path == str(junk)


def test_invalid_text_is_an_error(small: bytes) -> None:
    at = _field_offset(small, "model name")
    n = struct.unpack_from("<i", small, at)[0]
    assert n >= 2
    e = _err(_patch(small, at + 4, b"\x00\xd8"))  # a lone high surrogate
    assert e.field == "model name" and e.offset is not None
    e = _err(_patch(small, at, struct.pack("<i", 3)))
    assert "odd UTF-16" in str(e)


def test_read_pmx_function_directly(small: bytes) -> None:
    assert read_pmx(small, "x.pmx") == read_model_bytes(small)
