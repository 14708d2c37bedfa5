"""THA2 / THA3 poses on real Blender pixels (built-in character and Gene).

Each morph parameter at 1 must change its own feature (eyebrows above the eye line, eyes and
irises at it, the mouth at the mouth line) on its own side; iris rotation must move the iris
the same fraction of the eye's width on both models; body rotation must move the shoulders.
Images are 128 px with 2 samples to stay quick.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from thagen.pose_vectors import pose_vector_def, with_tha1_view
from thagen.render.character.qa_checks import changed_mask, decode_png
from thagen.rigs.builtin import builtin_character, write_builtin_character
from thagen.rigs.formats.pmx.reader import write_pmx
from thagen.rigs.normalize import normalize
from thagen.rigs.reader import read_model

pytestmark = pytest.mark.slow  # real renders

bs = pytest.importorskip("thagen.render.scene.blender_scene", reason="needs bpy")

SIZE = 128
NAMES = pose_vector_def("tha3").names
ZERO = with_tha1_view(dict.fromkeys(NAMES, 0.0))


@pytest.fixture(scope="module")
def renderer():
    r = bs.BlenderRenderer(image_size=SIZE, samples=2, log=lambda _text: None)
    r.split_static = False  # keep the mesh's vertex order = the model's (iris measurement)
    yield r
    r.close()


class Scene:
    """One model loaded with its THA3 rig and framed as THA1 frames it."""

    def __init__(self, renderer, path: Path) -> None:
        self.r = renderer
        self.model = read_model(path)
        self.path = path
        self.rig = normalize(self.model, model_path=path, pose_vector="tha3", discover=False)
        self.activate()
        lo = np.asarray(self.rig.head_min)
        ext = self.rig.extended
        self.ext = ext
        self.eye_row = renderer.project(np.array([[self.rig.head_x, ext.eye_line_y, 0.0]]))[0, 1]
        self.mouth_row = renderer.project(np.array([[self.rig.head_x, ext.mouth_line_y, 0.0]]))[0, 1]
        self.chin_row = renderer.project(np.array([[self.rig.head_x, lo[1], 0.0]]))[0, 1]
        self.mid_col = renderer.project(np.array([[self.rig.head_x, 0.0, 0.0]]))[0, 0]
        self.rest = self.shot()

    def activate(self) -> None:
        """Load this model into the shared renderer unless it is the one loaded."""
        if getattr(self.r, "test_scene", None) is self:
            return
        self.r.load_character(self.model, self.rig, self.path, shading="phong")
        lo, hi = np.asarray(self.rig.head_min), np.asarray(self.rig.head_max)
        self.r.frame(np.array([self.rig.head_x, hi[1], 0.0]), np.array([self.rig.head_x, lo[1], 0.0]))
        self.r.set_lighting("phong", 0.5, 0.5)
        self.r.test_scene = self
        self.r.render_png()  # a fresh scene's first evaluation, before anything is measured

    def shot(self, **values: float) -> np.ndarray:
        self.activate()
        self.r.set_pose(with_tha1_view({**ZERO, **values}))
        return decode_png(self.r.render_png())

    def eye_width_px(self, bone: str) -> float:
        self.activate()  # project with this model's framing
        width = self.ext.iris_calibration[bone]["eye_width"]
        ends = self.r.project(np.array([[0.0, 0.0, 0.0], [width, 0.0, 0.0]]))
        return float(abs(ends[1, 0] - ends[0, 0]))


def _check_features(scene: Scene) -> dict[str, float]:
    """Each morph parameter at 1: the change lies on its feature's band and its side."""
    d = scene.mouth_row - scene.eye_row
    changed_px = {}
    for p in pose_vector_def("tha3").params:
        role = scene.ext.params[p.name]
        if not p.is_morph or role.availability == "missing":
            continue
        changed = changed_mask(scene.rest, scene.shot(**{p.name: 1.0}))
        rows, cols = np.nonzero(changed)
        assert rows.size > 0, f"{p.name} changes nothing"
        row = rows.mean()
        kind = p.feature.split("_")[0]
        if kind == "eyebrow":
            assert row < scene.eye_row and rows.max() < scene.eye_row + 0.25 * d, p.name
        elif kind in ("eye", "iris"):
            assert abs(row - scene.eye_row) < 0.35 * d and rows.max() < scene.eye_row + 0.6 * d, p.name
        else:
            assert abs(row - scene.mouth_row) < 0.35 * d and rows.min() > scene.eye_row + 0.5 * d, p.name
        if p.side is not None:  # the character's left is the image's right
            on_side = np.mean((cols > scene.mid_col) == (p.side == "left"))
            need = 0.5 if kind == "mouth" else 0.9
            assert on_side > need, f"{p.name}: only {on_side:.0%} of the change on the {p.side}"
        changed_px[p.name] = float(rows.size)
    return changed_px


def _iris_centre_px(scene: Scene, bone: str, **values: float) -> np.ndarray:
    """Pixel position of the iris centre (box centre of the visible iris vertices) as Blender
    deforms them for this pose."""
    import bpy

    from thagen.rigs.coordinates import blender_to_mmd
    from thagen.rigs.normalize.extended_rig import iris_vertices

    scene.activate()
    scene.r.set_pose(with_tha1_view({**ZERO, **values}))
    ob = scene.r.character.mesh
    assert len(ob.data.vertices) == scene.model.vertex_count  # no static split: same indices
    cal = scene.ext.iris_calibration[bone]
    chosen = iris_vertices(scene.model, scene.model.bone_index(bone), cal["eye_width"])
    bpy.context.view_layer.update()  # the pose just set, not the last rendered one
    evaluated = ob.evaluated_get(bpy.context.evaluated_depsgraph_get())
    mesh = evaluated.to_mesh()
    co = np.array([mesh.vertices[int(i)].co[:] for i in chosen], np.float64)
    evaluated.to_mesh_clear()
    world = (np.array(ob.matrix_world)[:3, :3] @ co.T).T + np.array(ob.matrix_world)[:3, 3]
    px = scene.r.project(blender_to_mmd(world))
    return 0.5 * (px.min(axis=0) + px.max(axis=0))


def _iris_fraction(scene: Scene) -> list[float]:
    """How far iris_rotation_y = +-1 moves each iris, as a fraction of its eye's width."""
    out = []
    for bone in scene.ext.iris_calibration:
        width = scene.eye_width_px(bone)
        plus = _iris_centre_px(scene, bone, iris_rotation_y=1.0)
        minus = _iris_centre_px(scene, bone, iris_rotation_y=-1.0)
        up = _iris_centre_px(scene, bone, iris_rotation_x=1.0)
        rest = _iris_centre_px(scene, bone)
        assert plus[0] > rest[0] > minus[0]  # +1: the iris moves to the image's right
        assert up[1] < rest[1]  # iris_rotation_x +1: up (rows grow downward)
        out.append(float((plus[0] - minus[0]) / 2.0 / width))
        # and on pixels: the change lies in the eye band, on that eye's side
        changed = changed_mask(scene.rest, scene.shot(iris_rotation_y=1.0))
        rows, cols = np.nonzero(changed)
        assert abs(rows.mean() - scene.eye_row) < 0.35 * (scene.mouth_row - scene.eye_row)
        assert np.any((cols > scene.mid_col) == (scene.ext.iris_calibration[bone]["side"] == "left"))
    return out


def _shoulders_move(scene: Scene) -> None:
    below = slice(int(scene.chin_row + 0.25 * (scene.chin_row - scene.eye_row)), SIZE)
    for name in ("body_y", "body_z"):
        img = scene.shot(**{name: 1.0})
        changed = changed_mask(scene.rest, img)
        assert changed[below].sum() > 0.02 * changed[below].size, name  # the torso turns, not only the head
    breathing = changed_mask(scene.rest, scene.shot(breathing=1.0))
    assert breathing[below].any()


@pytest.fixture(scope="module")
def builtin_scene(renderer, tmp_path_factory):
    return Scene(renderer, write_builtin_character(tmp_path_factory.mktemp("builtin")))


@pytest.fixture(scope="module")
def gene_scene(renderer, gene_pmx):
    return Scene(renderer, gene_pmx)


def test_builtin_parameters_change_their_own_feature_and_side(builtin_scene: Scene) -> None:
    changed = _check_features(builtin_scene)
    assert len(changed) == 36  # every morph parameter but mouth_delta (missing on purpose)
    _shoulders_move(builtin_scene)


def test_gene_parameters_change_their_own_feature_and_side(gene_scene: Scene) -> None:
    changed = _check_features(gene_scene)
    assert len(changed) == 37 - 3  # eye_relaxed_left/right and mouth_delta are missing
    _shoulders_move(gene_scene)


def test_iris_rotation_moves_the_same_fraction_of_the_eye(builtin_scene: Scene, gene_scene: Scene) -> None:
    fractions = _iris_fraction(builtin_scene) + _iris_fraction(gene_scene)
    assert len(fractions) == 4  # both eye bones of both models are calibrated
    # calibrated to 0.2 of the eye width, measured on the deformed mesh in the image
    assert all(abs(f - 0.2) < 0.02 for f in fractions), fractions


def test_tha1_pixels_ignore_the_new_morphs(renderer, tmp_path: Path) -> None:
    """Adding THA2's morphs to the built-in character leaves every THA1 render identical."""
    full_path = write_builtin_character(tmp_path)  # also writes the textures beside it
    tha1_only = builtin_character()
    tha1_only.morphs = tha1_only.morphs[:10]
    tha1_only.display_frames = [f for f in tha1_only.display_frames if f.name != "表情"]
    write_pmx(tha1_only, tmp_path / "tha1_only.pmx")
    pose = {"left_eye": 0.3, "right_eye": 0.8, "mouth": 0.6, "head_x": 0.4, "head_y": -0.5, "neck_z": 0.2}
    images = []
    for path in (full_path, tmp_path / "tha1_only.pmx"):
        loaded = read_model(path)
        rig = normalize(loaded, model_path=path, discover=False)
        renderer.load_character(loaded, rig, path, shading="phong")
        renderer.test_scene = None
        lo, hi = np.asarray(rig.head_min), np.asarray(rig.head_max)
        renderer.frame(np.array([rig.head_x, hi[1], 0.0]), np.array([rig.head_x, lo[1], 0.0]))
        renderer.set_lighting("phong", 0.5, 0.5)
        renderer.set_pose(pose)
        images.append(decode_png(renderer.render_png()))
    assert len(read_model(full_path).morphs) == 36
    assert np.array_equal(images[0], images[1])


def test_tha3_framing_puts_the_head_in_the_box_in_the_middle_of_the_top_half(
    renderer, tmp_path: Path
) -> None:
    from thagen.render.framing.presets import preset_rows

    path = write_builtin_character(tmp_path)
    model = read_model(path)
    rig = normalize(model, model_path=path, discover=False)
    renderer.load_character(model, rig, path, shading="phong")
    renderer.test_scene = None
    lo, hi = np.asarray(rig.head_min), np.asarray(rig.head_max)
    top, chin = np.array([rig.head_x, hi[1], 0.0]), np.array([rig.head_x, lo[1], 0.0])
    renderer.framing_preset = "tha3"
    try:
        renderer.frame(top, chin)
        rows = renderer.project(np.stack([top, chin]))
        img = decode_png(renderer.render_png())
    finally:
        renderer.framing_preset = "tha1"
    # at 128 px the THA3 box is rows 16..48, columns 48..80 (64..192 and 192..320 at 512)
    assert preset_rows("tha3", 512) == {"head_top": 64.0, "chin": 192.0, "center_x": 256.0}
    np.testing.assert_allclose(rows[:, 1], [SIZE / 8, 3 * SIZE / 8], atol=1e-3)
    assert abs(rows[0, 0] - SIZE / 2) < 1e-3
    opaque = np.nonzero(img[..., 3] > 0)
    head_cols = opaque[1][(opaque[0] > SIZE / 8) & (opaque[0] < 3 * SIZE / 8)]
    assert 3 * SIZE / 8 - 2 <= head_cols.min() and head_cols.max() <= 5 * SIZE / 8 + 2  # inside the box
    assert (img[int(0.7 * SIZE), :, 3] > 0).any()  # the body shows below the head
