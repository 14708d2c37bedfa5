"""THA2 / THA3 roles: every parameter found with the right method and side (built-in, Gene)."""

from __future__ import annotations

import copy
import csv
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from thagen.cli import cli
from thagen.pose_vectors import pose_vector_def
from thagen.rigs.builtin import builtin_character, write_builtin_character
from thagen.rigs.normalize import normalize

# the built-in character's truth (rigs/builtin/expressions.py): param -> (availability, source)
BUILTIN_TRUTH: dict[str, tuple[str, str | None]] = {
    "eyebrow_troubled_left": ("exact", "困る左"),
    "eyebrow_troubled_right": ("exact", "困る右"),
    "eyebrow_angry_left": ("exact", "angry_L"),
    "eyebrow_angry_right": ("exact", "angry_R"),
    "eyebrow_lowered_left": ("exact", "browDownLeft"),
    "eyebrow_lowered_right": ("exact", "browDownRight"),
    "eyebrow_raised_left": ("exact", "browOuterUpLeft"),
    "eyebrow_raised_right": ("exact", "browOuterUpRight"),
    "eyebrow_happy_left": ("exact", "happy brow_L"),
    "eyebrow_happy_right": ("exact", "happy brow_R"),
    "eyebrow_serious_left": ("derived", "真面目"),
    "eyebrow_serious_right": ("derived", "真面目"),
    "eye_wink_left": ("exact", "ウィンク２"),
    "eye_wink_right": ("exact", "ｳｨﾝｸ２右"),
    "eye_happy_wink_left": ("exact", "ウィンク"),
    "eye_happy_wink_right": ("exact", "ウィンク右"),
    "eye_surprised_left": ("exact", "eyeWideLeft"),
    "eye_surprised_right": ("exact", "eyeWideRight"),
    "eye_relaxed_left": ("exact", "なごみ左"),
    "eye_relaxed_right": ("exact", "なごみ右"),
    "eye_unimpressed_left": ("exact", "unimpressed_L"),
    "eye_unimpressed_right": ("exact", "unimpressed_R"),
    "eye_raised_lower_eyelid_left": ("exact", "下瞼上げ左"),
    "eye_raised_lower_eyelid_right": ("exact", "下瞼上げ右"),
    "iris_small_left": ("exact", "瞳小左"),
    "iris_small_right": ("exact", "瞳小右"),
    "mouth_aaa": ("exact", "あ"),
    "mouth_iii": ("exact", "い"),
    "mouth_uuu": ("exact", "う"),
    "mouth_eee": ("exact", "え"),
    "mouth_ooo": ("exact", "お"),
    "mouth_delta": ("missing", None),
    "mouth_lowered_corner_left": ("exact", "mouthFrownLeft"),
    "mouth_lowered_corner_right": ("exact", "mouthFrownRight"),
    "mouth_raised_corner_left": ("exact", "mouth corner up_L"),
    "mouth_raised_corner_right": ("exact", "mouth corner up_R"),
    "mouth_smirk": ("exact", "はんっ！"),
    "iris_rotation_x": ("derived", "左目, 右目"),
    "iris_rotation_y": ("derived", "左目, 右目"),
    "head_x": ("exact", "頭"),
    "head_y": ("exact", "頭"),
    "neck_z": ("exact", "首"),
    "body_y": ("exact", "上半身"),
    "body_z": ("exact", "上半身"),
    "breathing": ("derived", "上半身"),
}

# Gene (MMD and ARKit morphs): param -> (availability, source)
GENE_TRUTH: dict[str, tuple[str, str | None]] = {
    "eyebrow_troubled_left": ("exact", "困り左"),
    "eyebrow_angry_right": ("exact", "怒り右"),
    "eyebrow_lowered_left": ("exact", "browDownLeft"),
    "eyebrow_raised_right": ("exact", "browOuterUpRight"),
    "eyebrow_happy_left": ("derived", "にこり"),
    "eyebrow_serious_right": ("derived", "真面目"),
    "eye_wink_left": ("exact", "まば左"),
    "eye_wink_right": ("exact", "まば右"),
    "eye_happy_wink_left": ("exact", "ウィンク"),
    "eye_surprised_right": ("exact", "eyeWideRight"),
    "eye_relaxed_left": ("missing", None),
    "eye_unimpressed_left": ("derived", "じと目"),
    "eye_raised_lower_eyelid_right": ("exact", "eyeSquintRight"),
    "iris_small_left": ("derived", "瞳小"),
    "mouth_aaa": ("exact", "あ"),
    "mouth_ooo": ("exact", "お"),
    "mouth_delta": ("missing", None),
    "mouth_lowered_corner_left": ("exact", "mouthFrownLeft"),
    "mouth_raised_corner_right": ("exact", "mouthSmileRight"),
    "mouth_smirk": ("exact", "はんっ！"),
    "iris_rotation_x": ("derived", "左目, 右目"),
    "body_z": ("exact", "上半身"),
    "breathing": ("derived", "上半身2"),
}


def test_builtin_every_tha3_role_found_with_the_right_method_and_side() -> None:
    report = normalize(builtin_character(), pose_vector="tha3", discover=False)
    ext = report.extended
    assert list(ext.params) == list(pose_vector_def("tha3").names)
    got = {n: (r.availability, r.source) for n, r in ext.params.items()}
    assert got == BUILTIN_TRUTH
    for name, role in ext.params.items():
        p = pose_vector_def("tha3").param(name)
        if p.side is not None and role.method in ("name", "split"):
            assert role.side == p.side, name
    # the split halves add up to the both-sides morph, each on its own side of the mid-plane
    model = builtin_character()
    src = model.morphs[model.morph_index("真面目")]
    left = report.synthetic_morphs["eyebrow_serious_left"]
    right = report.synthetic_morphs["eyebrow_serious_right"]
    total = np.zeros((model.vertex_count, 3))
    for m in (left, right):
        np.add.at(total, m.indices, m.values)
    np.testing.assert_allclose(total[src.indices], src.values, atol=1e-6)
    assert np.all(model.positions[left.indices, 0] > -0.05) and np.all(
        model.positions[right.indices, 0] < 0.05
    )
    assert report.morph_for("eyebrow_serious_left") == "thagen:eyebrow_serious_left"
    assert ext.mask().count(False) == 1 and ext.missing() == ["mouth_delta"]
    # iris rotation is calibrated: an angle per eye bone, within the allowed range
    iris = ext.params["iris_rotation_x"]
    assert iris.bones == ("左目", "右目") and all(1 < d < 40 for d in iris.degrees)


def test_tha1_normalization_is_unchanged_by_the_extension() -> None:
    model = builtin_character()
    plain = normalize(model, discover=False)
    extended = normalize(model, discover=False, pose_vector="tha3")
    assert plain.extended is None and "extended" not in plain.to_dict()
    for role, match in plain.matches.items():
        assert extended.matches[role].to_dict() == match.to_dict()
    # THA1's morphs come first and are exactly the ones it had
    names = [m.name for m in model.morphs]
    assert names[:10] == [
        "まばたき",
        "ウィンク",
        "ウィンク右",
        "ウィンク２",
        "ｳｨﾝｸ２右",
        "あ",
        "い",
        "う",
        "え",
        "お",
    ]


def test_a_morph_on_the_wrong_feature_is_rejected() -> None:
    model = copy.deepcopy(builtin_character())
    unused = model.morphs[model.morph_index("真面目")]
    unused.name = unused.name_en = "unused"
    model.morphs[model.morph_index("い")].name = "真面目"  # a mouth shape under an eyebrow name
    ext = normalize(model, pose_vector="tha2", discover=False).extended
    role = ext.params["eyebrow_serious_left"]
    assert role.availability == "missing"
    assert "'真面目'" in role.detail and "not above the eyes" in role.detail
    # the same morph is still found for the mouth through its English name (mouth_i)
    assert (ext.params["mouth_iii"].availability, ext.params["mouth_iii"].source) == ("exact", "真面目")


def test_gene_tha3_roles(gene_pmx: Path) -> None:
    from thagen.rigs.reader import read_model

    ext = normalize(read_model(gene_pmx), pose_vector="tha3", discover=False).extended
    got = {n: (ext.params[n].availability, ext.params[n].source) for n in GENE_TRUTH}
    assert got == GENE_TRUTH


def test_rig_check_and_survey_with_pose_vector(gene_pmx: Path, tmp_path: Path) -> None:
    builtin = write_builtin_character(tmp_path / "models")
    runner = CliRunner()
    result = runner.invoke(
        cli, ["rig", "check", str(gene_pmx), "--pose-vector", "tha3"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    rows = [line.split() for line in result.stdout.splitlines()]
    lines = {
        r[1]: r for r in rows if len(r) > 3 and r[0].isdigit() and r[2] in ("exact", "derived", "missing")
    }
    assert len(lines) == 45
    assert lines["eyebrow_lowered_left"][2:5] == ["exact", "name", "browDownLeft"]
    assert lines["eyebrow_serious_left"][2:4] == ["derived", "split"]
    assert lines["mouth_delta"][2] == "missing"
    shutil_dir = tmp_path / "models"
    (shutil_dir / "Gene_light.pmx").write_bytes(gene_pmx.read_bytes())
    out = tmp_path / "survey.csv"
    result = runner.invoke(
        cli,
        ["rig", "survey", str(shutil_dir), "--out", str(out), "--pose-vector", "tha2"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert len(rows) == 2 and builtin.exists()
    assert {r["avail_mouth_delta"] for r in rows} == {"missing"}
    assert {r["avail_eye_relaxed_left"] for r in rows} == {"exact", "missing"}
    assert "avail_body_y" not in rows[0]
    summary = {
        line.split()[0]: line.split()[1] for line in result.stdout.splitlines() if line.startswith("  ")
    }
    assert (
        summary["mouth_delta"] == "0" and summary["eye_relaxed_left"] == "1" and summary["mouth_aaa"] == "2"
    )


@pytest.mark.parametrize("vector", ["tha2", "tha3"])
def test_extended_report_round_trips_to_json(vector: str) -> None:
    import json

    d = normalize(builtin_character(), pose_vector=vector, discover=False).to_dict()
    again = json.loads(json.dumps(d, ensure_ascii=False))
    assert list(again["extended"]["params"]) == list(pose_vector_def(vector).names)
    assert again["extended"]["summary"]["missing"] == 1
