"""Importing a Model into real Blender: counts, axes, weights, morphs, materials, cleanup."""

from __future__ import annotations

from pathlib import Path

import bpy
import numpy as np
import pytest
from PIL import Image

from thagen.errors import ModelFormatError, RigError
from thagen.render.poses.posing import axis_rotation, char_rotation_to_blender, mmd_to_blender
from thagen.rigs.blender.import_model import import_model
from thagen.rigs.blender.report import TextureMiss
from thagen.rigs.blender.skinning import vertex_weights
from thagen.rigs.blender.textures import SHARED_TOON_SHADOWS
from thagen.rigs.builtin import write_builtin_character
from thagen.rigs.flatten import leaf_kinds
from thagen.rigs.model import Bone, BoneFlag, DeformType, Material, Model, Morph, MorphKind
from thagen.rigs.normalize import normalize
from thagen.rigs.reader import read_model


@pytest.fixture(autouse=True, scope="module")
def empty_scene():
    bpy.ops.wm.read_factory_settings(use_empty=True)
    yield


def evaluated_normals(imported) -> np.ndarray:
    """Per-corner normals of the deformed mesh."""
    depsgraph = bpy.context.evaluated_depsgraph_get()
    obj = imported.mesh.evaluated_get(depsgraph)
    mesh = obj.to_mesh()
    normals = np.empty(len(mesh.loops) * 3, np.float32)
    mesh.corner_normals.foreach_get("vector", normals)
    obj.to_mesh_clear()
    return normals.reshape(-1, 3).astype(np.float64)


def evaluated_positions(imported) -> np.ndarray:
    depsgraph = bpy.context.evaluated_depsgraph_get()
    obj = imported.mesh.evaluated_get(depsgraph)
    mesh = obj.to_mesh()
    co = np.empty(len(mesh.vertices) * 3, np.float32)
    mesh.vertices.foreach_get("co", co)
    obj.to_mesh_clear()
    return co.reshape(-1, 3).astype(np.float64)


def datablock_counts() -> tuple[int, ...]:
    d = bpy.data
    return (
        len(d.meshes),
        len(d.materials),
        len(d.images),
        len(d.armatures),
        len(d.objects),
        len(d.shape_keys),
        len(d.actions),
    )


def expected_shape_keys(model: Model) -> int:
    n = 1  # Basis
    for i, morph in enumerate(model.morphs):
        if morph.kind == MorphKind.VERTEX:
            n += 1
        elif morph.kind == MorphKind.GROUP and MorphKind.VERTEX in leaf_kinds(model, i):
            n += 1
    return n


# ----------------------------------------------------------------------------- a tiny model


def tiny_model(texture_dir: Path | None = None) -> Model:
    """Three bones (root, neck, a sideways-rolled head), three triangles, every morph kind."""
    bones = [
        Bone("root", position=np.array([0, 0, 0], np.float32)),
        Bone("neck", position=np.array([0, 10, 0], np.float32), parent=0),
        # tail off to the side and back: the bone's local axes differ from the character's
        Bone(
            "head",
            position=np.array([0, 12, 0], np.float32),
            parent=1,
            tail_offset=np.array([1.0, 0.3, 1.0], np.float32),
        ),
        Bone(
            "tip",
            position=np.array([0, 15, 0], np.float32),
            parent=2,
            flags=int(BoneFlag.TAIL_IS_BONE),
            tail_bone=2,
        ),
    ]
    positions = np.array(
        [
            [0, 0, 0],
            [1, 0, 0],
            [0, 0, 1],
            [0, 14, -1],
            [1, 14, -1],
            [0, 15, -1],
            [0, 11, 0],
            [1, 11, 0],
            [0, 11.5, 0],
        ],
        np.float32,
    )
    n = len(positions)
    bone_indices = np.full((n, 4), -1, np.int32)
    bone_weights = np.zeros((n, 4), np.float32)
    deform = np.full(n, DeformType.BDEF1, np.uint8)
    bone_indices[0:3, 0] = 0
    bone_indices[3:6, 0] = 2
    bone_indices[6:9, :2] = [1, 2]
    bone_weights[6:9, 0] = 0.25
    deform[6:9] = [DeformType.BDEF2, DeformType.SDEF, DeformType.BDEF2]
    bone_weights[3:6, 0] = 1.0
    morphs = [
        Morph(
            "a",
            kind=MorphKind.VERTEX,
            indices=np.array([3], np.int32),
            values=np.array([[0, 1, 0]], np.float32),
        ),
        Morph(
            "b",
            kind=MorphKind.VERTEX,
            indices=np.array([4], np.int32),
            values=np.array([[1, 0, 0]], np.float32),
        ),
        Morph(
            "g",
            kind=MorphKind.GROUP,
            indices=np.array([0, 1, 4]),
            values=np.array([0.5, 2.0, 1.0], np.float32),
        ),
        Morph("gg", kind=MorphKind.GROUP, indices=np.array([2]), values=np.array([0.5], np.float32)),
        Morph(
            "bm",
            kind=MorphKind.BONE,
            indices=np.array([2], np.int32),
            values=np.array([[0, 1, 0, 0, 0, 0, 1]], np.float32),
        ),
        Morph("mat", kind=MorphKind.MATERIAL, indices=np.array([0]), values=np.zeros((1, 28), np.float32)),
        Morph("uvm", kind=MorphKind.UV, indices=np.array([0]), values=np.zeros((1, 4), np.float32)),
    ]
    materials = [
        Material("skin", texture=0, face_start=0, face_count=2, flags=1),
        Material(
            "cloth", texture=0, face_start=2, face_count=1, diffuse=np.array([1, 1, 1, 0.5], np.float32)
        ),
        Material("lost", texture=1, face_start=3, face_count=1),
        # no faces; MMD's shared toon03 (not shipped) and an additive sphere map
        Material("shiny", sphere_texture=0, sphere_mode=2, toon_shared=True, toon_index=2, face_start=4),
    ]
    faces = np.array([[0, 1, 2], [3, 4, 5], [6, 7, 8], [0, 2, 1]], np.int32)
    return Model(
        name="tiny",
        positions=positions,
        normals=np.tile(np.array([0, 0, -1], np.float32), (n, 1)),
        uvs=np.zeros((n, 2), np.float32),
        deform_types=deform,
        bone_indices=bone_indices,
        bone_weights=bone_weights,
        faces=faces,
        textures=["tex\\Skin.PNG", "missing.png"],
        materials=materials,
        bones=bones,
        morphs=morphs,
        source_path=texture_dir / "tiny.pmx" if texture_dir else None,
    )


@pytest.fixture()
def tiny(tmp_path: Path):
    (tmp_path / "tex").mkdir()
    Image.new("RGBA", (8, 8), (10, 200, 30, 128)).save(tmp_path / "tex" / "skin.png")
    model = tiny_model(tmp_path)
    imported = import_model(model, name="tiny")
    yield model, imported
    if imported.materials:
        imported.remove()


def test_tiny_counts_axes_and_winding(tiny):
    model, imported = tiny
    mesh = imported.mesh.data
    assert len(mesh.vertices) == model.vertex_count
    co = np.empty(3 * model.vertex_count, np.float32)
    mesh.vertices.foreach_get("co", co)
    np.testing.assert_allclose(co.reshape(-1, 3), mmd_to_blender(model.positions), atol=1e-6)
    # MMD (x, y, z) -> 0.08 * (x, z, y): the head is up (+Z) and MMD's front (-Z) is Blender's -Y
    assert co.reshape(-1, 3)[5, 2] == pytest.approx(15 * 0.08)
    loops = np.empty(3 * len(mesh.polygons), np.int32)
    mesh.loops.foreach_get("vertex_index", loops)
    np.testing.assert_array_equal(loops.reshape(-1, 3), model.faces[:, [0, 2, 1]])
    materials = np.empty(len(mesh.polygons), np.int32)
    mesh.polygons.foreach_get("material_index", materials)
    np.testing.assert_array_equal(materials, [0, 0, 1, 2])
    assert len(mesh.materials) == len(model.materials)
    heads = np.array([b.head_local for b in imported.armature.data.bones])
    np.testing.assert_allclose(heads, mmd_to_blender([b.position for b in model.bones]), atol=1e-6)
    tip = imported.armature.data.bones["tip"]
    assert tip.length >= 0.01 - 1e-6  # zero-length tail made a minimum-length bone


def test_tiny_weights_match_deform_types(tiny):
    model, imported = tiny
    groups = {g.index: g.name for g in imported.mesh.vertex_groups}
    got = {}
    for v in imported.mesh.data.vertices:
        for g in v.groups:
            got[(v.index, groups[g.group])] = g.weight
    assert got[(0, "root")] == pytest.approx(1.0)
    for v in (6, 7, 8):  # BDEF2 and SDEF (as BDEF2): 0.25 neck, 0.75 head
        assert got[(v, "neck")] == pytest.approx(0.25)
        assert got[(v, "head")] == pytest.approx(0.75)
    vertex, bone, weight = vertex_weights(model)
    assert len(got) == len(vertex)


def test_tiny_group_morphs_are_flattened(tiny):
    model, imported = tiny
    names = imported.shape_key_names()
    assert names == ["Basis", "a", "b", "g", "gg"]
    keys = imported.mesh.data.shape_keys.key_blocks
    base = mmd_to_blender(model.positions)
    co = np.empty(3 * model.vertex_count, np.float32)
    keys["gg"].data.foreach_get("co", co)
    offsets = co.reshape(-1, 3) - base
    # gg = 0.5 * g = 0.5 * (0.5 a + 2 b): vertex 3 moves 0.25 up, vertex 4 moves 1 toward +x
    np.testing.assert_allclose(offsets[3], mmd_to_blender([0, 0.25, 0]), atol=1e-6)
    np.testing.assert_allclose(offsets[4], mmd_to_blender([1, 0, 0]), atol=1e-6)
    assert np.abs(np.delete(offsets, [3, 4], axis=0)).max() < 1e-7
    unsupported = " ".join(imported.report.unsupported_morphs)
    assert "mat (material)" in unsupported and "uvm (uv)" in unsupported
    assert "g (group: bone parts" not in unsupported  # g's bone child is applied, not ignored


def test_group_morph_cycle_is_rejected(tmp_path: Path):
    model = tiny_model(tmp_path)
    model.morphs[2].indices = np.array([0, 3])  # g -> gg -> g
    model.morphs[2].values = np.array([1.0, 1.0], np.float32)
    before = datablock_counts()
    with pytest.raises(ModelFormatError, match="cycle"):
        import_model(model, name="cyclic")
    assert datablock_counts() == before


def test_failed_import_leaves_nothing_behind(tmp_path: Path):
    model = tiny_model(tmp_path)
    model.morphs[0].indices = np.array([1000], np.int32)  # a vertex morph past the last vertex
    before = datablock_counts()
    with pytest.raises(ModelFormatError, match="morph 'a'"):
        import_model(model, name="broken")
    assert datablock_counts() == before


def test_set_morph_moves_vertices_and_bones(tiny):
    model, imported = tiny
    rest = evaluated_positions(imported)
    imported.set_morph("a", 1.0)
    moved = evaluated_positions(imported) - rest
    np.testing.assert_allclose(moved[3], mmd_to_blender([0, 1, 0]), atol=1e-5)
    imported.set_morph("a", 0.0)
    imported.set_morph("bm", 0.5)  # bone morph: head bone up by 0.5 MMD units
    moved = evaluated_positions(imported) - rest
    np.testing.assert_allclose(moved[3:6], np.tile(mmd_to_blender([0, 0.5, 0]), (3, 1)), atol=1e-5)
    assert np.abs(moved[0:3]).max() < 1e-6
    imported.set_morph("g", 1.0)  # group with a bone child: shape key and bone both move
    moved = evaluated_positions(imported) - rest
    # shape key g (0.5 a) + bm at 0.5 + bm through g at weight 1
    assert moved[3, 2] == pytest.approx(0.08 * (0.5 + 0.5 + 1.0), abs=1e-5)
    with pytest.raises(RigError, match="nope"):
        imported.set_morph("nope", 1.0)
    imported.reset_pose()
    np.testing.assert_allclose(evaluated_positions(imported), rest, atol=1e-6)


@pytest.mark.parametrize("axis", ["x", "y", "z"])
def test_bone_rotation_is_in_character_axes_about_the_joint(tiny, axis: str):
    """The head bone's roll is skewed; a rotation in character axes must ignore it."""
    model, imported = tiny
    rest = evaluated_positions(imported)
    r_char = axis_rotation(axis, 30.0)
    imported.set_bone_rotation("head", r_char)
    posed = evaluated_positions(imported)
    joint = mmd_to_blender(model.bones[2].position)
    expected = (char_rotation_to_blender(r_char) @ (rest[3:6] - joint).T).T + joint
    np.testing.assert_allclose(posed[3:6], expected, atol=1e-5)
    np.testing.assert_allclose(posed[0:3], rest[0:3], atol=1e-6)
    # custom normals turn with the head (the phong N.L must follow the pose); corners 3..5 are
    # the head triangle, whose MMD normals face the front (-Z), Blender -Y
    front = char_rotation_to_blender(r_char) @ np.array([0.0, -1.0, 0.0])
    np.testing.assert_allclose(evaluated_normals(imported)[3:6], np.tile(front, (3, 1)), atol=1e-3)


def test_character_axes_meaning(tiny):
    """+30 deg about character y turns the front (MMD -Z, Blender -Y) toward the character's left (+X)."""
    model, imported = tiny
    rest = evaluated_positions(imported)
    imported.set_bone_rotation("head", axis_rotation("y", 30.0))
    posed = evaluated_positions(imported)
    # vertex 3 sits in front of the head joint (MMD z = -1): it swings toward +X
    assert posed[3, 0] - rest[3, 0] > 0.01


def test_materials_textures_and_missing_texture(tiny):
    model, imported = tiny
    report = imported.report
    assert report.missing_textures == ["missing.png"]
    assert report.texture_misses == [TextureMiss(2, "lost", "missing.png", "diffuse")]
    assert any("missing.png" in w for w in report.warnings)
    loaded = [im for im in imported.images if im.filepath]
    assert len(loaded) == 1  # two materials share one texture file: loaded once
    assert Path(loaded[0].filepath).name == "skin.png"  # found despite case and backslashes
    assert not [im for im in imported.images if im.name.endswith("_missing")]  # no placeholder
    lost = imported.materials[2].material  # drawn in its diffuse colour, as MMD does
    assert [n for n in lost.node_tree.nodes if n.type == "TEX_IMAGE"] == []
    (rgb,) = [n for n in lost.node_tree.nodes if n.type == "RGB"]
    assert tuple(rgb.outputs[0].default_value)[:3] == tuple(model.materials[2].diffuse[:3])
    assert imported.materials[0].material.cycles.emission_sampling == "NONE"
    assert imported.materials[1].material.use_backface_culling  # single-sided
    assert not imported.materials[0].material.use_backface_culling  # double-sided flag set


def test_toon_shading_uses_generated_shared_toon_and_sphere(tiny):
    model, imported = tiny
    images_before = list(imported.images)
    shiny = imported.materials[3].material

    def images_in(material) -> set[str]:
        return {n.image.name for n in material.node_tree.nodes if n.type == "TEX_IMAGE"}

    toon = next(im for im in imported.images if im.name.endswith("toon03.bmp"))
    assert toon.name not in images_in(shiny)  # phong ignores toon ramps and sphere maps
    imported.set_shading("toon")
    skin = next(im for im in imported.images if im.filepath)
    assert images_in(shiny) == {toon.name, skin.name}
    assert any(n.type == "VECT_MATH" and n.operation == "ADD" for n in shiny.node_tree.nodes)
    assert imported.images == images_before  # nothing reloaded
    w, h = toon.size
    px = np.empty(w * h * 4, np.float32)
    toon.pixels.foreach_get(px)
    rows = px.reshape(h, w, 4)
    np.testing.assert_allclose(rows[0, 0, :3], SHARED_TOON_SHADOWS[2], atol=1 / 255)  # bottom: shadow
    np.testing.assert_allclose(rows[-1, 0, :3], 1.0)  # top (N.L = 1): white
    imported.set_shading("phong")
    assert toon.name not in images_in(shiny)


def test_remove_leaves_nothing_behind(tmp_path: Path):
    model = tiny_model(tmp_path)
    before = datablock_counts()
    for _ in range(3):
        imported = import_model(model, name="again")
        imported.set_bone_rotation("head", axis_rotation("x", 10.0))
        imported.remove()
        assert datablock_counts() == before


def test_bad_face_index_names_the_file(tmp_path: Path):
    model = tiny_model(tmp_path)
    model.faces = model.faces.copy()
    model.faces[0, 0] = 99
    with pytest.raises(ModelFormatError, match="tiny.pmx.*out of range"):
        import_model(model)


# ----------------------------------------------------------------------------- real models


@pytest.fixture(scope="module", params=["gene_pmx", "gene_pmd", "builtin"])
def gene(request, gene_pmx: Path, gene_pmd: Path, tmp_path_factory):
    """A real model (Gene as PMX and PMD, and the builtin character) read, normalized and imported."""
    if request.param == "builtin":
        path = write_builtin_character(tmp_path_factory.mktemp("builtin"))
    else:
        path = gene_pmx if request.param == "gene_pmx" else gene_pmd
    model = read_model(path)
    rig = normalize(model, model_path=path)
    imported = import_model(model, rig=rig, name=request.param)
    yield model, rig, imported
    imported.remove()


def test_gene_counts_equal_the_reader(gene):
    model, rig, imported = gene
    mesh = imported.mesh.data
    assert len(mesh.vertices) == model.vertex_count
    assert len(mesh.polygons) == model.face_count - imported.report.dropped_faces
    assert len(imported.armature.data.bones) == len(model.bones)
    assert len(imported.shape_key_names()) == expected_shape_keys(model) + len(rig.synthetic_morphs)
    assert len(mesh.materials) == len(model.materials)
    assert imported.report.missing_textures == []
    if model.name.startswith("ジェネ"):  # the numbers in tests/data/README.md
        assert (len(mesh.vertices), len(mesh.polygons), len(imported.armature.data.bones)) == (
            28646,
            47106,
            224,
        )
        assert len(mesh.materials) == 13 and len(imported.images) == 10
    assert imported.report.timings["total"] < 5.0


def test_gene_winding_keeps_normals_outward(gene):
    model, rig, imported = gene
    mesh = imported.mesh.data
    face_normals = np.empty(3 * len(mesh.polygons), np.float32)
    mesh.polygons.foreach_get("normal", face_normals)
    corner = np.empty(3 * len(mesh.loops), np.float32)
    mesh.corner_normals.foreach_get("vector", corner)
    mean = corner.reshape(-1, 3, 3).mean(axis=1)
    agree = np.einsum("ij,ij->i", face_normals.reshape(-1, 3), mean) > 0
    assert agree.mean() > 0.95


def test_gene_mouth_open_moves_only_the_face(gene):
    model, rig, imported = gene
    imported.reset_pose()
    rest = evaluated_positions(imported)
    imported.set_morph(rig.morph_for("mouth_open"), 1.0)
    moved = np.linalg.norm(evaluated_positions(imported) - rest, axis=1)
    imported.reset_pose()
    neck_z = mmd_to_blender(model.bones[model.bone_index("首")].position)[2]
    assert moved.max() > 0.003  # the jaw opens by millimetres at least
    assert moved[rest[:, 2] < neck_z - 0.02].max() < 1e-6
    assert rest[moved > 1e-4, 2].min() > neck_z


def test_gene_head_rotation_moves_head_not_feet(gene):
    model, rig, imported = gene
    imported.reset_pose()
    rest = evaluated_positions(imported)
    imported.set_bone_rotation(rig.bone_for("head"), axis_rotation("x", 15.0))
    moved = np.linalg.norm(evaluated_positions(imported) - rest, axis=1)
    imported.reset_pose()
    head_z = mmd_to_blender(model.bones[model.bone_index("頭")].position)[2]
    assert moved[rest[:, 2] > head_z + 0.1].min() > 0.005
    assert moved[rest[:, 2] < 0.3].max() < 1e-6  # feet and legs stay


def test_morph_filter_builds_only_the_named_morphs(gene_pmx: Path):
    """The renderer imports only the morphs it drives (Gene: 4 of 177 vertex morphs)."""
    from thagen.rigs.normalize import normalize
    from thagen.rigs.reader import read_model

    model = read_model(gene_pmx)
    rig = normalize(model, model_path=gene_pmx)
    driven = {rig.morph_for(r) for r in ("eye_close_left", "eye_close_right", "eye_close_both", "mouth_open")}
    imported = import_model(model, rig=rig, model_path=gene_pmx, morphs=driven)
    try:
        assert set(imported.shape_key_names()) == {"Basis", *driven}
        assert imported.has_morph("あ") and not imported.has_morph("い")
    finally:
        imported.remove()
