"""The render scene on real pixels: framing, alpha, eyes, pose signs, lighting, determinism."""

from __future__ import annotations

import io
import os
from pathlib import Path

import bpy
import numpy as np
import pytest
from bpy_extras.object_utils import world_to_camera_view
from mathutils import Vector
from PIL import Image

from thagen.errors import RenderError
from thagen.render.poses.posing import (
    axis_rotation,
    blender_to_mmd,
    eye_morph_weights,
    matrix_to_quat,
    mmd_to_blender,
    quat_to_matrix,
    rotation_matrices,
    slerp_identity,
)
from thagen.render.scene.blender_scene import BlenderRenderer, capture_output
from thagen.rigs.builtin import write_builtin_character
from thagen.rigs.normalize import normalize
from thagen.rigs.reader import read_model

pytestmark = pytest.mark.slow  # real renders

SIZE = 96
REST = {"left_eye": 0.0, "right_eye": 0.0, "mouth": 0.0, "head_x": 0.0, "head_y": 0.0, "neck_z": 0.0}


@pytest.fixture(scope="module")
def logs() -> list[str]:
    return []


@pytest.fixture(scope="module")
def renderer(logs: list[str]):
    r = BlenderRenderer(image_size=SIZE, samples=4, log=logs.append)
    yield r
    r.close()


class Loaded:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.model = read_model(path)
        self.rig = normalize(self.model, model_path=path)
        lo, hi = np.asarray(self.rig.head_min), np.asarray(self.rig.head_max)
        x = float(self.model.bones[self.model.bone_index("頭")].position[0])
        self.top = np.array([x, hi[1], 0.0])
        self.chin = np.array([x, lo[1], 0.0])

    def bone(self, name: str) -> np.ndarray:
        return np.asarray(self.model.bones[self.model.bone_index(name)].position, np.float64)


@pytest.fixture(scope="module")
def gene(renderer: BlenderRenderer, gene_pmx: Path) -> Loaded:
    loaded = Loaded(gene_pmx)
    renderer.load_character(loaded.model, loaded.rig, gene_pmx, shading="phong")
    renderer.frame(loaded.top, loaded.chin)
    renderer.set_lighting("phong", 0.5, 0.5)
    return loaded


def render(renderer: BlenderRenderer, **pose: float) -> np.ndarray:
    renderer.set_pose({**REST, **pose})
    return np.asarray(Image.open(io.BytesIO(renderer.render_png())), np.int32)


def eye_mask(renderer: BlenderRenderer, **pose: float) -> np.ndarray:
    """Pixels that change when both eyes close, in a given head pose."""
    pose = {k: v for k, v in pose.items() if k not in ("left_eye", "right_eye")}
    opened = render(renderer, **pose)
    closed = render(renderer, left_eye=1.0, right_eye=1.0, **pose)
    return np.abs(opened - closed).max(axis=2) > 24


def centroid(mask: np.ndarray) -> np.ndarray:
    rows, cols = np.nonzero(mask)
    assert rows.size > 5
    return np.array([cols.mean(), rows.mean()])


# ----------------------------------------------------------------------------- posing (pure)


def test_mmd_to_blender_axes_and_scale():
    np.testing.assert_allclose(mmd_to_blender([1.0, 2.0, 3.0]), [0.08, 0.24, 0.16])
    points = np.random.default_rng(0).normal(size=(5, 3))
    np.testing.assert_allclose(blender_to_mmd(mmd_to_blender(points)), points)


def test_rotation_signs_and_degrees():
    front, up = np.array([0.0, 0.0, 1.0]), np.array([0.0, 1.0, 0.0])
    assert (rotation_matrices({"head_x": 1.0})["head"] @ front)[1] > 0.2  # looks up
    assert (rotation_matrices({"head_y": 1.0})["head"] @ front)[0] > 0.2  # toward character's left
    assert (rotation_matrices({"neck_z": 1.0})["neck"] @ up)[0] > 0.2  # top toward character's left
    for key, bone in (("head_x", "head"), ("head_y", "head"), ("neck_z", "neck")):
        r = rotation_matrices({key: -0.5}, max_degrees=20.0)[bone]
        angle = np.degrees(np.arccos((np.trace(r) - 1) / 2))
        assert angle == pytest.approx(10.0)
        np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
    with pytest.raises(ValueError, match="head_y"):
        rotation_matrices({"head_y": 1.5})


def test_eye_morph_weights_prefer_per_side_closes():
    pose = {"left_eye": 0.2, "right_eye": 0.8, "mouth": 0.5}
    assert eye_morph_weights(pose) == {
        "eye_close_left": 0.2,
        "eye_close_right": 0.8,
        "eye_close_both": 0.0,
        "mouth_open": 0.5,
    }
    assert eye_morph_weights(pose, ["eye_close_both", "mouth_open"]) == {
        "eye_close_both": 0.5,
        "mouth_open": 0.5,
    }
    assert eye_morph_weights(pose, ["eye_close_left", "eye_close_both"]) == {
        "eye_close_left": 0.2,
        "eye_close_both": 0.8,
    }


def test_quaternion_round_trip():
    rng = np.random.default_rng(1)
    for _ in range(20):
        q = rng.normal(size=4)
        r = quat_to_matrix(q)
        np.testing.assert_allclose(quat_to_matrix(matrix_to_quat(r)), r, atol=1e-12)
    half = quat_to_matrix(slerp_identity(matrix_to_quat(axis_rotation("z", 40.0)), 0.5))
    np.testing.assert_allclose(half, axis_rotation("z", 20.0), atol=1e-12)


# ----------------------------------------------------------------------------- Gene


def test_alpha_background_and_body(renderer: BlenderRenderer, gene: Loaded):
    image = render(renderer)
    assert image.shape == (SIZE, SIZE, 4)
    assert image[0, 0, 3] == 0 and image[0, -1, 3] == 0  # transparent background
    face = renderer.project(0.5 * (gene.top + gene.chin)[None])[0].astype(int)
    assert image[face[1], face[0], 3] == 255  # opaque face
    assert (image[..., 3] == 255).sum() > 0.2 * SIZE * SIZE


def test_eye_close_changes_only_the_eyes(renderer: BlenderRenderer, gene: Loaded):
    opened = render(renderer)
    closed = render(renderer, left_eye=1.0, right_eye=1.0)
    changed = np.abs(opened - closed).max(axis=2) > 8
    assert changed.sum() > 20
    eyes = renderer.project(np.stack([gene.bone("左目"), gene.bone("右目")]))
    rows, cols = np.nonzero(changed)
    points = np.stack([cols + 0.5, rows + 0.5], axis=1)
    nearest = np.linalg.norm(points[:, None, :] - eyes[None], axis=2).min(axis=1)
    head_px = SIZE / 2  # the head spans half the image
    assert nearest.max() < 0.2 * head_px


def test_left_eye_is_on_the_viewers_right(renderer: BlenderRenderer, gene: Loaded):
    opened = render(renderer)
    left = np.abs(opened - render(renderer, left_eye=1.0)).max(axis=2) > 24
    right = np.abs(opened - render(renderer, right_eye=1.0)).max(axis=2) > 24
    assert centroid(left)[0] > SIZE / 2 > centroid(right)[0]


def test_mouth_opens_below_the_eyes(renderer: BlenderRenderer, gene: Loaded):
    changed = np.abs(render(renderer) - render(renderer, mouth=1.0)).max(axis=2) > 24
    eyes_row = renderer.project(gene.bone("左目")[None])[0, 1]
    assert centroid(changed)[1] > eyes_row + 2


def test_pose_signs_on_pixels(renderer: BlenderRenderer, gene: Loaded):
    """Documented in posing.py: + moves the face up / to the image's right."""
    rest = centroid(eye_mask(renderer))
    turned = centroid(eye_mask(renderer, head_y=1.0))
    assert turned[0] - rest[0] > 1.0  # head_y +1: face turns to the viewer's right
    up = centroid(eye_mask(renderer, head_x=1.0))
    assert rest[1] - up[1] > 1.0  # head_x +1: features move up
    tilted = eye_mask(renderer, neck_z=1.0)
    assert centroid(tilted)[0] - rest[0] > 1.0  # neck_z +1: head top (and eyes) to the right
    cols = np.nonzero(tilted)[1]
    middle = np.median(cols)
    left_half, right_half = tilted.copy(), tilted.copy()
    left_half[:, int(middle) :] = False
    right_half[:, : int(middle) + 1] = False
    assert centroid(right_half)[1] > centroid(left_half)[1]  # clockwise on screen


def test_same_pose_gives_identical_pixels(renderer: BlenderRenderer, gene: Loaded):
    renderer.set_pose({**REST, "mouth": 0.7, "head_y": 0.4})
    first = renderer.render_png()
    renderer.set_pose({**REST, "left_eye": 1.0, "neck_z": -0.8})
    renderer.render_png()
    renderer.set_pose({**REST, "mouth": 0.7, "head_y": 0.4})
    assert renderer.render_png() == first


def test_phong_ambient_scales_linear_colour(renderer: BlenderRenderer, gene: Loaded):
    """No dither, Standard view: ambient-only images are exactly proportional in linear light."""

    def linear(image: np.ndarray) -> np.ndarray:
        c = image[..., :3] / 255.0
        return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)

    renderer.set_lighting("phong", ambient=0.25, diffuse=0.0)
    dim = render(renderer)
    renderer.set_lighting("phong", ambient=0.5, diffuse=0.0)
    bright = render(renderer)
    renderer.set_lighting("phong", 0.5, 0.5)
    solid = (dim[..., 3] == 255) & (bright[..., 3] == 255)
    a, b = linear(dim)[solid], linear(bright)[solid]
    usable = (a > 0.05) & (b < 0.9)
    ratio = np.median(b[usable] / a[usable])
    assert ratio == pytest.approx(2.0, rel=0.03)
    # N.L term: with diffuse on, faces turned toward the camera get brighter than ambient alone
    lit = render(renderer)
    assert linear(lit)[solid].mean() > 1.2 * b.mean()


def test_toon_and_point_presets_render(renderer: BlenderRenderer, gene: Loaded):
    phong = render(renderer)
    renderer.set_lighting("toon", 0.5, 0.5)
    toon = render(renderer)
    renderer.set_lighting("point", 0.5, 0.5)
    point = render(renderer)
    assert not [o for o in bpy.data.objects if o.type == "LIGHT"]  # lights live in the node tree
    renderer.set_lighting("phong", 0.5, 0.5)
    assert not [o for o in bpy.data.objects if o.type == "LIGHT"]
    assert np.array_equal(render(renderer), phong)  # switching back rebuilds the same materials
    solid = phong[..., 3] == 255
    for image in (toon, point):
        assert np.abs(image[..., :3] - phong[..., :3])[solid].mean() > 3.0
        assert abs(int((image[..., 3] > 0).sum()) - int((phong[..., 3] > 0).sum())) < 0.02 * SIZE * SIZE
        assert image[..., :3][image[..., 3] == 255].mean() > 40  # lit, not black
    assert np.abs(point[..., :3] - toon[..., :3])[solid].mean() > 3.0


def _half_means(renderer: BlenderRenderer, gene: Loaded, image: np.ndarray) -> tuple[float, float]:
    """Mean brightness of the opaque head rows left and right of the head's centre column."""
    centre = int(round(renderer.project(0.5 * (gene.top + gene.chin)[None])[0, 0]))
    head = image[SIZE // 4 : 3 * SIZE // 4]
    solid = head[..., 3] == 255
    value = head[..., :3].mean(axis=2)
    return float(value[:, :centre][solid[:, :centre]].mean()), float(
        value[:, centre:][solid[:, centre:]].mean()
    )


def test_point_preset_is_emission_only_and_deterministic(renderer: BlenderRenderer, gene: Loaded):
    """Noise-free: no Blender lights and no sampled BSDF, so a pose renders to the same pixels."""
    renderer.set_lighting("point", 0.5, 0.5)
    try:
        assert not [o for o in bpy.data.objects if o.type == "LIGHT"]
        for spec in renderer.character.materials:
            kinds = {node.bl_idname for node in spec.material.node_tree.nodes}
            assert not {k for k in kinds if k.startswith("ShaderNodeBsdf")} - {"ShaderNodeBsdfTransparent"}
            assert "ShaderNodeEmission" in kinds
            assert spec.material.cycles.emission_sampling == "NONE"
        renderer.set_pose({**REST, "mouth": 0.7, "head_y": 0.4})
        first = renderer.render_png()
        renderer.set_pose({**REST, "left_eye": 1.0, "neck_z": -0.8})
        other = renderer.render_png()
        renderer.set_pose({**REST, "mouth": 0.7, "head_y": 0.4})
        assert renderer.render_png() == first != other
    finally:
        renderer.set_lighting("phong", 0.5, 0.5)


def test_point_preset_alpha_matches_phong(renderer: BlenderRenderer, gene: Loaded):
    phong = render(renderer)
    renderer.set_lighting("point", 0.5, 0.5)
    try:
        point = render(renderer)
    finally:
        renderer.set_lighting("phong", 0.5, 0.5)
    assert point[0, 0, 3] == 0 and point[0, -1, 3] == 0  # transparent background
    assert np.array_equal(point[..., 3], phong[..., 3])  # cut-outs and culled back faces unchanged


def test_point_lights_follow_framing_without_rebuilding(renderer: BlenderRenderer, gene: Loaded):
    from thagen.render.scene.blender_lighting import POINT_LIGHTS
    from thagen.rigs.blender.lighting import light_group

    renderer.set_lighting("point", 0.5, 0.5)
    materials = [spec.material.node_tree.nodes[0].as_pointer() for spec in renderer.character.materials]
    try:
        centre, height = renderer._head
        nodes = light_group().nodes
        for i, (offset, _share) in enumerate(POINT_LIGHTS):
            placed = [nodes[f"point{i}_position"].inputs[k].default_value for k in range(3)]
            expected = centre + np.array([offset[0], offset[2], offset[1]]) * height * np.array([1, -1, 1])
            np.testing.assert_allclose(placed, expected, atol=1e-5)  # right = +x, toward camera = -y
        # a taller framing moves the lights out proportionally; ambient changes are values only
        renderer.frame(gene.top + np.array([0.0, 2.0, 0.0]), gene.chin)
        renderer.set_lighting("point", 0.8, 0.5)
        centre2, height2 = renderer._head
        assert height2 > height
        key = np.array([nodes["point0_position"].inputs[k].default_value for k in range(3)])
        np.testing.assert_allclose(key[2] - centre2[2], 1.5 * height2, rtol=1e-5)
        assert nodes["ambient"].outputs[0].default_value == pytest.approx(0.8)
        after = [spec.material.node_tree.nodes[0].as_pointer() for spec in renderer.character.materials]
        assert after == materials
    finally:
        renderer.frame(gene.top, gene.chin)
        renderer.set_lighting("phong", 0.5, 0.5)


def test_point_lights_brighten_the_side_facing_them(renderer: BlenderRenderer, gene: Loaded):
    from thagen.rigs.blender.lighting import set_point_lights

    phong = render(renderer)
    renderer.set_lighting("point", 0.5, 0.5)
    try:
        default = render(renderer)
        centre, height = renderer._head
        sides = {}
        for side in (-1.0, 1.0):  # one light level with the head, far to the viewer's left / right
            light = centre + np.array([side * 3.0, -1.0, 0.0]) * height
            set_point_lights([light, light], [1.0, 0.0], centre)
            sides[side] = _half_means(renderer, gene, render(renderer))
    finally:
        renderer.set_lighting("phong", 0.5, 0.5)
    left, right = sides[-1.0], sides[1.0]
    assert left[0] > left[1] + 10 and right[1] > right[0] + 10
    assert left[0] > right[0] + 10 and right[1] > left[1] + 10
    # the default key light is at the viewer's left: the left half gains on phong's balance
    (dl, dr), (pl, pr) = _half_means(renderer, gene, default), _half_means(renderer, gene, phong)
    assert (dl - dr) - (pl - pr) > 2.0


def test_blender_output_is_captured(renderer: BlenderRenderer, gene: Loaded, logs: list[str]):
    logs.clear()
    renderer.render_png()
    assert "Sample" in "".join(logs) or "Saved" in "".join(logs)
    with capture_output() as out:
        import os

        os.write(1, b"from fd one\n")
    assert out.text == "from fd one\n"


# ----------------------------------------------------------------------------- builtin


@pytest.fixture(scope="module")
def builtin(renderer: BlenderRenderer, tmp_path_factory) -> Loaded:
    path = write_builtin_character(tmp_path_factory.mktemp("builtin"))
    loaded = Loaded(path)
    renderer.load_character(loaded.model, loaded.rig, path)
    # frame on the highest vertex (the real head top of this model) and the head bone
    top = loaded.model.positions[np.argmax(loaded.model.positions[:, 1])].astype(np.float64)
    loaded.top, loaded.chin = top, loaded.bone("頭")
    renderer.frame(loaded.top, loaded.chin)
    return loaded


def test_framing_rows_at_256(renderer: BlenderRenderer, builtin: Loaded):
    renderer.set_image_size(256)
    try:
        rows = renderer.project(np.stack([builtin.top, builtin.chin]))[:, 1]
        assert abs(rows[0] - 64) < 2 and abs(rows[1] - 192) < 2
        # the same projection as Blender's own camera maths
        scene, camera = renderer.scene, renderer.camera
        for point, row in zip((builtin.top, builtin.chin), rows):
            ndc = world_to_camera_view(scene, camera, Vector(mmd_to_blender(point).tolist()))
            assert (1.0 - ndc.y) * 256 == pytest.approx(row, abs=1e-3)
    finally:
        renderer.set_image_size(SIZE)


def test_builtin_alpha_starts_at_the_head_top(renderer: BlenderRenderer, builtin: Loaded):
    image = render(renderer, mouth=1.0)
    rows = np.nonzero((image[..., 3] > 127).any(axis=1))[0]
    assert abs(rows[0] - SIZE / 4) <= 1.5
    centre_col = renderer.project(builtin.top[None])[0, 0]
    cols = np.nonzero(image[rows[0] : rows[0] + 2, :, 3].max(axis=0) > 127)[0]
    assert abs(cols.mean() - centre_col) < 3


def test_unload_leaves_no_data_blocks(renderer: BlenderRenderer, builtin: Loaded):
    def counts() -> tuple[int, ...]:
        d = bpy.data
        return (len(d.meshes), len(d.materials), len(d.images), len(d.armatures), len(d.objects))

    renderer.unload_character()
    empty = counts()
    renderer.load_character(builtin.model, builtin.rig, builtin.path)
    assert counts() != empty
    renderer.unload_character()
    assert counts() == empty


def test_scratch_folders_of_dead_processes_are_swept(tmp_path) -> None:
    """kill -9 skips cleanup; the next renderer removes what dead workers left behind."""
    import subprocess
    import sys

    from thagen.render.scene import blender_scene

    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_dir = tmp_path / f"{blender_scene.TMP_PREFIX}{int(dead.stdout)}-abc"
    live_dir = tmp_path / f"{blender_scene.TMP_PREFIX}{os.getpid()}-def"
    other = tmp_path / "unrelated"
    for d in (dead_dir, live_dir, other):
        d.mkdir()
        (d / "frame.png").write_bytes(b"x")
    blender_scene._sweep_dead(str(tmp_path))
    assert not dead_dir.exists()
    assert live_dir.exists() and other.exists()


# ----------------------------------------------------------------------------- static split

ROTATED = {"head_y": 0.8, "neck_z": -0.6, "mouth": 0.5, "left_eye": 1.0}


def _load(renderer: BlenderRenderer, loaded: Loaded, split: bool) -> None:
    renderer.split_static = split
    try:
        renderer.load_character(loaded.model, loaded.rig, loaded.path, shading="phong")
    finally:
        renderer.split_static = True
    renderer.frame(loaded.top, loaded.chin)
    renderer.set_lighting("phong", 0.5, 0.5)


def _renders_with_and_without_split(renderer: BlenderRenderer, loaded: Loaded) -> list[np.ndarray]:
    images = []
    for split in (False, True):
        _load(renderer, loaded, split)
        assert (renderer.static is not None) == split
        images.extend([render(renderer), render(renderer, **ROTATED)])
    return images


def _check_split_structure(renderer: BlenderRenderer, loaded: Loaded) -> None:
    static, dynamic = renderer.static, renderer.character.mesh
    assert static is not None and static.type == "MESH"
    assert static.data.shape_keys is None and not static.modifiers and not static.vertex_groups
    assert dynamic.data.shape_keys is not None and dynamic.modifiers[0].type == "ARMATURE"
    assert [m.name for m in static.data.materials] == [m.name for m in dynamic.data.materials]
    assert static.data.has_custom_normals and static.data.uv_layers.active is not None
    assert static.parent == dynamic.parent and set(static.users_collection) == set(dynamic.users_collection)
    nv = loaded.model.vertex_count
    assert 0 < len(static.data.vertices) < nv and 0 < len(dynamic.data.vertices) < nv
    assert len(static.data.vertices) + len(dynamic.data.vertices) >= nv  # boundary vertices in both
    faces = len(loaded.model.faces) - renderer.character.report.dropped_faces
    assert len(static.data.polygons) + len(dynamic.data.polygons) == faces


def test_static_split_renders_identical_pixels_gene(renderer: BlenderRenderer, gene_pmx: Path):
    """The split bakes the armature's rest-pose output and keeps the raw custom normals of every
    uncut smooth fan, so Cycles sees bit-identical geometry except at the few corners whose fan
    the split cuts (re-encoded; about 1e-4 off), which do not change a pixel at this size."""
    loaded = Loaded(gene_pmx)
    plain_rest, plain_rotated, split_rest, split_rotated = _renders_with_and_without_split(renderer, loaded)
    assert np.abs(plain_rest - plain_rotated).max() > 100  # the pose does move the head
    assert np.array_equal(split_rest, plain_rest)
    assert np.array_equal(split_rotated, plain_rotated)
    _check_split_structure(renderer, loaded)
    # Gene's body (about half the vertices) never moves; the head, hair and morphs do
    assert len(renderer.static.data.vertices) > 0.4 * loaded.model.vertex_count
    # the same pose again after others: still identical (the static part is never touched)
    first = render(renderer, **ROTATED)
    render(renderer, head_x=-1.0, mouth=1.0)
    assert np.array_equal(render(renderer, **ROTATED), first)


def test_static_split_leaves_no_data_blocks(renderer: BlenderRenderer, gene_pmx: Path):
    def counts() -> tuple[int, ...]:
        d = bpy.data
        return (len(d.meshes), len(d.materials), len(d.images), len(d.armatures), len(d.objects))

    renderer.unload_character()
    empty = counts()
    loaded = Loaded(gene_pmx)
    _load(renderer, loaded, True)
    assert renderer.static is not None
    static_name = renderer.static.name
    renderer.unload_character()
    assert renderer.static is None and static_name not in bpy.data.objects
    assert counts() == empty


def test_static_split_builtin(renderer: BlenderRenderer, tmp_path):
    loaded = Loaded(write_builtin_character(tmp_path))
    loaded.top = loaded.model.positions[np.argmax(loaded.model.positions[:, 1])].astype(np.float64)
    loaded.chin = loaded.bone("頭") - np.array([0.0, 3.0, 0.0])
    plain_rest, plain_rotated, split_rest, split_rotated = _renders_with_and_without_split(renderer, loaded)
    assert (plain_rest[..., 3] > 0).sum() > 0.05 * SIZE * SIZE
    assert np.array_equal(split_rest, plain_rest)
    assert np.array_equal(split_rotated, plain_rotated)
    _check_split_structure(renderer, loaded)
    renderer.unload_character()


def test_dynamic_vertices_cover_neck_subtree_and_morphs(renderer: BlenderRenderer, gene_pmx: Path):
    from thagen.render.scene.posed_bones import posed_bones
    from thagen.rigs.blender.morphs import plan_morphs
    from thagen.rigs.blender.report import ImportReport
    from thagen.rigs.blender.skinning import vertex_weights
    from thagen.rigs.blender.static_split import dynamic_vertices, moving_bones

    loaded = Loaded(gene_pmx)
    _load(renderer, loaded, False)
    imported, model = renderer.character, loaded.model
    plan = plan_morphs(model, loaded.rig, imported.bone_names, ImportReport(), imported.report.shape_keys)
    moving = moving_bones(model, posed_bones(model, loaded.rig), plan.bone_morphs, imported.bone_names)
    neck, head = model.bone_index(loaded.rig.bone_for("neck")), model.bone_index("頭")
    assert moving[neck] and moving[head] and moving[model.bone_index("左目")]
    assert not moving[model.bone_index("上半身")]
    weights = vertex_weights(model)
    keys = imported.mesh.data.shape_keys.key_blocks

    def co(key) -> np.ndarray:
        out = np.empty(len(key.data) * 3, np.float32)
        key.data.foreach_get("co", out)
        return out.reshape(-1, 3)

    basis = co(keys[0])
    dynamic = dynamic_vertices(model.vertex_count, moving, weights, plan.keys, basis)
    vertex, bone, _ = weights
    assert dynamic[vertex[moving[bone]]].all()
    mouth = co(keys[imported.report.shape_keys[loaded.rig.morph_for("mouth_open")]])
    moved = np.abs(mouth - basis).max(axis=1) > 0  # what Blender's shape key really moves
    assert moved.any() and dynamic[moved].all()
    assert 0.3 < dynamic.mean() < 0.7
    renderer.unload_character()


# ----------------------------------------------------------------------------- out of view


def _renders_with_and_without_cull(renderer: BlenderRenderer, loaded: Loaded) -> tuple[list, list, int]:
    view = (loaded.top, loaded.chin, None)
    images: dict[bool, list[np.ndarray]] = {}
    culled = 0
    for cull in (False, True):
        imported = renderer.load_character(
            loaded.model, loaded.rig, loaded.path, shading="phong", view=view if cull else None
        )
        culled = imported.report.culled_faces if cull else culled
        assert (imported.report.culled_faces > 0) == cull
        renderer.frame(*view)
        renderer.set_lighting("phong", 0.5, 0.5)
        images[cull] = [
            render(renderer),
            render(renderer, **ROTATED),
            render(renderer, head_x=-1.0, mouth=1.0),
        ]
    return images[False], images[True], culled


@pytest.mark.parametrize("which", ["gene", "builtin"])
def test_static_triangles_out_of_view_are_left_out(
    renderer: BlenderRenderer, gene_pmx: Path, tmp_path: Path, which: str
):
    """With the view given, the import builds only the never-moving triangles the camera may
    see (and their neighbours): the images are the same up to the odd anti-aliased edge pixel
    where two surfaces meet and Cycles' smaller scene breaks a tie the other way."""
    if which == "gene":
        loaded = Loaded(gene_pmx)
    else:
        loaded = Loaded(write_builtin_character(tmp_path))
        loaded.top = loaded.model.positions[np.argmax(loaded.model.positions[:, 1])].astype(np.float64)
        loaded.chin = loaded.bone("頭") - np.array([0.0, 3.0, 0.0])
    whole, culled_images, culled = _renders_with_and_without_cull(renderer, loaded)
    static_faces = renderer.character.static_faces
    assert static_faces is not None
    share = culled / (culled + static_faces.sum())  # of the never-moving triangles
    assert share > (0.5 if which == "gene" else 0.1), share  # Gene: the body below the chest
    for a, b in zip(whole, culled_images, strict=True):
        assert (a[..., 3] > 0).sum() > 0.05 * SIZE * SIZE
        differing = (np.abs(a - b).max(axis=2) > 0).sum()
        assert differing <= 3, differing  # ties at edges only, never missing geometry
    # the parts still map their polygons to the model's triangles, out-of-view ones in neither
    parts = renderer.parts
    assert len(parts) == 2
    assert sum(len(p.obj.data.polygons) for p in parts) == sum(len(p.sources) for p in parts)
    assert len(np.intersect1d(parts[0].sources, parts[1].sources)) == 0
    # framed otherwise, the left-out triangles could show: refused in one line
    with pytest.raises(RenderError, match="load it again"):
        renderer.frame(loaded.top + np.array([0.0, 5.0, 0.0]), loaded.chin)
    renderer.unload_character()
    renderer.frame(loaded.top + np.array([0.0, 5.0, 0.0]), loaded.chin)  # nothing loaded: fine
