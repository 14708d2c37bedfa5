"""`thagen render` frames a character by the annotation in an annotations folder: a real render.

The built-in character (64 px, 1 pose, 1 sample) is rendered twice from one manifest: once
with the manifest's `annotations:` folder, once with `--annotations DIR` (which replaces it).
Each folder's annotation puts the head top somewhere else; the hair cap's outline in the reset
image lands on the rows that annotation's framing predicts (head top on row size/4, chin on
3 size/4), and not where the geometric estimate would put it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from thagen.render.character.qa_checks import decode_png
from thagen.render.framing.annotation_file import Annotation, save_annotation
from thagen.render.framing.estimate import estimate_framing
from thagen.render.manifest import expand_characters, load_manifest
from thagen.rigs import builtin
from thagen.rigs.builtin import builtin_character
from thagen.rigs.normalize import normalize

pytestmark = pytest.mark.slow
SIZE = 64
CAP_X = 0.6  # a column on the hair cap beside the ahoge (the cap: head ellipsoid grown 0.14 / 0.12)


def cap_y(x: float) -> float:
    rx, ry = builtin.HEAD_RADII[0] + 0.14, builtin.HEAD_RADII[1] + 0.12
    return float(builtin.HEAD_CENTER[1] + ry * np.sqrt(1 - (x / rx) ** 2))


def predicted_cap_row(top: float, chin: float, center_x: float, col: int) -> float:
    """The row (pixel coordinate) of the cap's outline in column `col` under this framing."""
    per_unit = SIZE / (2 * (top - chin))  # ortho: 2 head heights span the image
    x = center_x + (col + 0.5 - SIZE / 2) / per_unit
    return SIZE / 4 + (top - cap_y(x)) * per_unit


def first_opaque_row(png: Path, col: int) -> float:
    alpha = decode_png(png.read_bytes())[:, :, 3]
    rows = np.nonzero(alpha[:, col] > 127)[0]
    assert rows.size, f"column {col} of {png} is empty"
    return float(rows[0]) + 0.5


def test_render_uses_the_annotations_folder_on_pixels(tmp_path: Path) -> None:
    model = builtin_character()
    est = estimate_framing(model, normalize(model))
    top0, chin0, cx = float(est.head_top[1]), float(est.chin[1]), float(est.center_x)
    manifest = tmp_path / "m.yaml"
    manifest.write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "seed": 0,
                "output": "out",
                "image_size": SIZE,
                "render": {"engine": "cycles", "device": "cpu", "samples": 1},
                "lighting": {"preset": "phong", "ambient": 0.5, "diffuse": 0.5},
                "rest_pose": "tha1",
                "annotations": "in-manifest",  # relative to the manifest
                "characters": [{"builtin": True}],
                "splits": {"train": {"ratio": 1, "poses_per_character": 1}},
            }
        )
    )
    (job,) = expand_characters(load_manifest(manifest))
    # the manifest's folder: head top 0.6 below the estimate's (the cap shows above row 16);
    # the --annotations folder: head top 0.7 above it and chin 0.3 lower (a smaller head)
    framings = {"in-manifest": (top0 - 0.6, chin0), "option": (top0 + 0.7, chin0 - 0.3)}
    for folder, (top, chin) in framings.items():
        ann = Annotation([0.0, top, 0.0], [0.0, chin, -1.0], center_x=cx, annotator="test")
        save_annotation(tmp_path / folder / f"{job.id}.annotation.yaml", ann)

    runs = {"in-manifest": [], "option": ["--annotations", str(tmp_path / "option"), "--out", "out2"]}
    seen = {}
    for folder, extra in runs.items():
        cmd = [sys.executable, "-m", "thagen", "render", str(manifest), "--no-qa", "--workers", "1", *extra]
        done = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        cdir = tmp_path / ("out" if folder == "in-manifest" else "out2") / "characters" / job.id
        report = json.loads((cdir / "rig_report.json").read_text())
        assert report["framing"]["source"] == "annotation", report["framing"]
        assert report["framing"]["head_top"][1] == pytest.approx(framings[folder][0])
        col = int(
            np.floor(SIZE / 2 + (CAP_X - cx) * SIZE / (2 * (framings[folder][0] - framings[folder][1])))
        )
        seen[folder] = (first_opaque_row(cdir / "rest.png", col), col)
        expected = predicted_cap_row(*framings[folder], cx, col)
        by_estimate = predicted_cap_row(top0, chin0, cx, col)
        assert abs(seen[folder][0] - expected) <= 1.0, (folder, seen[folder], expected)
        assert abs(seen[folder][0] - by_estimate) >= 3.0, (folder, seen[folder], by_estimate)
    # the two folders' framings differ on the pixels by what their annotations say
    assert seen["option"][0] - seen["in-manifest"][0] >= 8
