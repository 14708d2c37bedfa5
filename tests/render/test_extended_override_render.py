"""On real Blender pixels: the morph an override file names is what moves (Gene, 128 px).

Gene has no relaxed-eye morph by name and thagen finds none; the override names
`eye_downcast_geo_L` for eye_relaxed_left, and `怒り右` (the right eyebrow's angry shape) for
eyebrow_angry_left, against geometry. The first must change the character's left eye (the
image's right) where it changed nothing without the override; the second must change the right
eyebrow, in exactly the pixels eyebrow_angry_right (found automatically on `怒り右`) changes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from thagen.pose_vectors import pose_vector_def, with_tha1_view
from thagen.render.character.qa_checks import changed_mask, decode_png
from thagen.rigs.normalize import normalize
from thagen.rigs.reader import read_model

pytestmark = pytest.mark.slow  # real renders

bs = pytest.importorskip("thagen.render.scene.blender_scene", reason="needs bpy")

SIZE = 128
ZERO = with_tha1_view(dict.fromkeys(pose_vector_def("tha3").names, 0.0))
OVERRIDE = """\
params:
  eye_relaxed_left: eye_downcast_geo_L
  eyebrow_angry_left: 怒り右
"""


@pytest.fixture(scope="module")
def gene_with_override(gene_pmx: Path, tmp_path_factory):
    path = tmp_path_factory.mktemp("ov") / "Gene.thagen.yaml"
    path.write_text(OVERRIDE, encoding="utf-8")
    model = read_model(gene_pmx)
    rig = normalize(model, overrides=path, model_path=gene_pmx, pose_vector="tha3", discover=False)
    renderer = bs.BlenderRenderer(image_size=SIZE, samples=2, log=lambda _text: None)
    renderer.load_character(model, rig, gene_pmx, shading="phong")
    lo, hi = np.asarray(rig.head_min), np.asarray(rig.head_max)
    renderer.frame(np.array([rig.head_x, hi[1], 0.0]), np.array([rig.head_x, lo[1], 0.0]))
    renderer.set_lighting("phong", 0.5, 0.5)
    renderer.render_png()  # a fresh scene's first evaluation

    def shot(**values: float) -> np.ndarray:
        renderer.set_pose(with_tha1_view({**ZERO, **values}))
        return decode_png(renderer.render_png())

    ext = rig.extended
    rows = {
        "eye": renderer.project(np.array([[rig.head_x, ext.eye_line_y, 0.0]]))[0, 1],
        "mouth": renderer.project(np.array([[rig.head_x, ext.mouth_line_y, 0.0]]))[0, 1],
        "mid_col": renderer.project(np.array([[rig.head_x, 0.0, 0.0]]))[0, 0],
    }
    yield rig, shot, rows
    renderer.close()


def test_the_overridden_morph_is_what_moves(gene_with_override, gene_pmx: Path) -> None:
    rig, shot, rows = gene_with_override
    ext = rig.extended
    assert ext.params["eye_relaxed_left"].method == "override"
    assert (
        normalize(read_model(gene_pmx), pose_vector="tha3", discover=False)
        .extended.params["eye_relaxed_left"]
        .availability
        == "missing"
    )
    rest = shot()
    d = rows["mouth"] - rows["eye"]

    relaxed = changed_mask(rest, shot(eye_relaxed_left=1.0))
    r, c = np.nonzero(relaxed)
    assert r.size > 5, "the overridden relaxed-eye morph changes nothing"
    assert abs(r.mean() - rows["eye"]) < 0.35 * d
    assert np.mean(c > rows["mid_col"]) > 0.9  # the character's left eye is on the image's right

    angry_left = shot(eyebrow_angry_left=1.0)
    angry = changed_mask(rest, angry_left)
    r, c = np.nonzero(angry)
    assert r.size > 5 and r.mean() < rows["eye"]
    assert np.mean(c < rows["mid_col"]) > 0.9  # 怒り右 moves the character's right eyebrow
    # the same morph as the automatically found eyebrow_angry_right: the same pixels
    assert np.array_equal(angry_left, shot(eyebrow_angry_right=1.0))
