"""Override files for THA2 / THA3 parameters (the `params` section, docs/overrides.md).

On the built-in character (whose truth is known) and Gene: an override fills a missing
parameter, beats automatic finding (and takes its morph away from it), can name a morph on the
"wrong" side (kept, with a warning), splits a both-sides morph, sets or calibrates the iris
angle, names the body and breathing bones, marks a parameter missing; every malformed entry is
a one-line ConfigError naming the file, the line and the key.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from thagen.cli import cli
from thagen.errors import ConfigError
from thagen.rigs.builtin import builtin_character
from thagen.rigs.normalize import normalize
from thagen.rigs.reader import read_model


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "model.thagen.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _role(ext, name: str) -> tuple[str, str, str | None]:
    r = ext.params[name]
    return r.availability, r.method, r.source


GENE_FILE = """\
version: 1
note: Gene's relaxed eyes and delta mouth
params:
  eye_relaxed_left: eye_downcast_geo_L
  eye_relaxed_right: {morph: 113}
  mouth_delta: ∧
  eyebrow_happy_left: {split: 困る}
  eyebrow_serious_right: missing
"""


def test_gene_override_fills_missing_parameters_and_is_reported(gene_pmx: Path, tmp_path: Path) -> None:
    model = read_model(gene_pmx)
    assert model.morphs[113].name == "eye_downcast_geo_R"
    plain = normalize(model, pose_vector="tha3", discover=False).extended
    assert plain.params["eye_relaxed_left"].availability == "missing"
    assert plain.params["mouth_delta"].availability == "missing"
    path = _write(tmp_path, GENE_FILE)
    report = normalize(model, overrides=path, pose_vector="tha3", discover=False)
    ext = report.extended
    assert _role(ext, "eye_relaxed_left") == ("exact", "override", "eye_downcast_geo_L")
    assert _role(ext, "eye_relaxed_right") == ("exact", "override", "eye_downcast_geo_R")
    assert _role(ext, "mouth_delta") == ("exact", "override", "∧")
    assert ext.params["eye_relaxed_left"].side == "left" and ext.params["eye_relaxed_right"].side == "right"
    assert f"{path}:4" in ext.params["eye_relaxed_left"].detail
    # a split override: derived, a synthetic half on its own side, driven instead of the morph
    assert _role(ext, "eyebrow_happy_left") == ("derived", "override", "困る")
    half = report.synthetic_morphs["eyebrow_happy_left"]
    assert ext.params["eyebrow_happy_left"].morph == half.name
    assert (model.positions[half.indices, 0] > report.head_x - 0.05).all()
    # the other side is still found automatically (its automatic split of にこり)
    assert _role(ext, "eyebrow_happy_right") == ("derived", "split", "にこり")
    assert _role(ext, "eyebrow_serious_right")[:2] == ("missing", "override")
    assert ext.mask().count(False) == plain.mask().count(False) - 3 + 1
    # the correct-side overrides raise no doubt
    assert not [w for w in report.warnings if "eye_relaxed" in w or "mouth_delta" in w]
    # rig check --pose-vector prints the override rows
    result = CliRunner().invoke(
        cli,
        ["rig", "check", str(gene_pmx), "--pose-vector", "tha3", "--override", str(path)],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    rows = {
        r[1]: r
        for r in (line.split() for line in result.stdout.splitlines())
        if len(r) > 4 and r[0].isdigit()
    }
    assert rows["eye_relaxed_left"][2:5] == ["exact", "override", "eye_downcast_geo_L"]
    assert rows["mouth_delta"][2:5] == ["exact", "override", "∧"]
    assert rows["eyebrow_happy_left"][2:4] == ["derived", "override"]
    assert rows["eyebrow_serious_right"][2:4] == ["missing", "override"]


def test_an_override_beats_automatic_finding_and_takes_its_morph() -> None:
    model = builtin_character()
    ov = {"params": {"eye_surprised_left": "なごみ左"}}
    ext = normalize(model, overrides=ov, pose_vector="tha2", discover=False).extended
    assert _role(ext, "eye_surprised_left") == ("exact", "override", "なごみ左")
    # なごみ左 was relaxed_left's morph; an overridden morph is not reused for the left side
    assert ext.params["eye_relaxed_left"].availability == "missing"
    assert _role(ext, "eye_relaxed_right") == ("exact", "name", "なごみ右")
    assert "eyeWideLeft" not in ext.morph_names()
    # a one-sided parameter's override takes its morph from both sides
    ext = normalize(
        model, overrides={"params": {"mouth_smirk": "mouthFrownLeft"}}, pose_vector="tha2", discover=False
    ).extended
    assert _role(ext, "mouth_smirk") == ("exact", "override", "mouthFrownLeft")
    assert ext.params["mouth_lowered_corner_left"].availability == "missing"
    assert _role(ext, "mouth_lowered_corner_right") == ("exact", "name", "mouthFrownRight")


def test_an_override_on_the_other_side_is_kept_with_a_warning() -> None:
    model = builtin_character()
    report = normalize(
        model, overrides={"params": {"eyebrow_angry_left": "angry_R"}}, pose_vector="tha2", discover=False
    )
    ext = report.extended
    assert _role(ext, "eyebrow_angry_left") == ("exact", "override", "angry_R")
    assert ext.params["eyebrow_angry_left"].side == "right"  # the side geometry found, reported
    warning = [w for w in report.warnings if w.startswith("eyebrow_angry_left")]
    assert len(warning) == 1 and "character's right" in warning[0] and "not the left" in warning[0]
    # the right side still gets its own morph
    assert _role(ext, "eyebrow_angry_right") == ("exact", "name", "angry_R")


def test_bone_overrides_iris_angle_calibration_body_and_breathing() -> None:
    model = builtin_character()
    auto = normalize(model, pose_vector="tha3", discover=False).extended
    given = normalize(
        model,
        overrides={
            "params": {
                "iris_rotation_x": {"bones": ["右目", "左目"], "degrees": [12.5, 11]},
                "body_z": "上半身",
            }
        },
        pose_vector="tha3",
        discover=False,
    ).extended
    for n in ("iris_rotation_x", "iris_rotation_y"):  # one eye-bone setting drives both
        role = given.params[n]
        assert (role.availability, role.method, role.bones, role.degrees) == (
            "exact",
            "override",
            ("右目", "左目"),
            (12.5, 11.0),
        )
    assert given.iris_calibration["左目"]["degrees"] == 11.0
    assert 0 < given.iris_calibration["右目"]["shift"] < given.iris_calibration["右目"]["eye_width"]
    assert _role(given, "body_y") == ("exact", "override", "上半身")
    # calibration with another fraction: derived, the angle grows with the fraction
    cal = normalize(
        model,
        overrides={"params": {"iris_rotation_y": {"shift_fraction": 0.3}}},
        pose_vector="tha3",
        discover=False,
    ).extended
    role = cal.params["iris_rotation_x"]
    assert (role.availability, role.method, role.bones) == ("derived", "override", ("左目", "右目"))
    assert all(d > a for d, a in zip(role.degrees, auto.params["iris_rotation_x"].degrees))
    for bone, c in cal.iris_calibration.items():
        assert c["shift"] == pytest.approx(0.3 * c["eye_width"]), bone
    # breathing: the chest named, shoulders and arms still found (the built-in has none)
    breath = normalize(
        model, overrides={"params": {"breathing": {"chest": "首"}}}, pose_vector="tha3", discover=False
    ).extended.params["breathing"]
    assert (breath.availability, breath.method, breath.bones[0]) == ("derived", "override", "首")
    # missing: y alone may be missing (x keeps the eye bones); both at 0 in the mask
    only_y = normalize(
        model, overrides={"params": {"iris_rotation_y": "missing"}}, pose_vector="tha3", discover=False
    ).extended
    assert only_y.params["iris_rotation_y"].availability == "missing"
    assert only_y.params["iris_rotation_x"].method == "calibrated"
    # tha2 has no body: a tha3-only entry in the same file is simply not used
    tha2 = normalize(model, overrides={"params": {"body_y": "上半身"}}, pose_vector="tha2", discover=False)
    assert "body_y" not in tha2.extended.params


def test_tha1_role_override_shows_as_override_in_the_vector() -> None:
    ext = normalize(
        builtin_character(),
        overrides={"roles": {"eye_close_left": "ウィンク"}},
        pose_vector="tha2",
        discover=False,
    ).extended
    assert _role(ext, "eye_wink_left") == ("exact", "override", "ウィンク")


@pytest.mark.parametrize(
    ("body", "line", "key", "problem"),
    [
        (
            "  eyebrow_angy_left: angry_L\n",
            3,
            "eyebrow_angy_left",
            "unknown parameter (did you mean eyebrow_angry_left?)",
        ),
        (
            "  mouth_delta: nosuchmorph\n",
            3,
            "mouth_delta",
            "morph: no morph named 'nosuchmorph' in the model",
        ),
        (
            "  mouth_delta: 頭\n",
            3,
            "mouth_delta",
            "morph: '頭' is a bone in the model, but this needs a morph",
        ),
        ("  body_y: あ\n", 3, "body_y", "bone: 'あ' is a morph in the model, but this needs a bone"),
        ("  mouth_delta: {bone: 頭}\n", 3, "mouth_delta", "bone does not apply to this morph parameter"),
        ("  mouth_smirk: {split: あ}\n", 3, "mouth_smirk", "split only applies to per-side"),
        ("  mouth_delta: {morph: 999}\n", 3, "mouth_delta", "morph: morph index 999 is out of range"),
        ("  mouth_delta:\n", 3, "mouth_delta", "empty value"),
        ("  eye_wink_left: ウィンク\n", 3, "eye_wink_left", "comes from THA1's role 'eye_close_left'"),
        (
            "  iris_rotation_x: {degrees: 120}\n",
            3,
            "iris_rotation_x",
            "degrees: expected a number in (0, 90]",
        ),
        (
            "  iris_rotation_x: missing\n  iris_rotation_y: {degrees: 9}\n",
            3,
            "iris_rotation_x",
            "cannot be missing",
        ),
        ("  body_y: 上半身\n  body_z: 頭\n", 4, "body_z", "differs from body_y's override"),
        (
            "  iris_rotation_y: {bones: 両目, degrees: 9}\n",
            3,
            "iris_rotation_y",
            "'両目' carries no vertices",
        ),
        (
            "  iris_rotation_y: {bones: [左目, 右目], degrees: [9, 8, 7]}\n",
            3,
            "iris_rotation_y",
            "one angle per bone",
        ),
        ("  breathing: {chest: [上半身, 首]}\n", 3, "breathing", "chest: expected a list of 1 bone name(s)"),
        ("  eyebrow_happy_left: {split: 瞳小左}\n  x: 1\n", 4, "x", "unknown parameter"),
    ],
)
def test_malformed_entries_are_one_line_errors_naming_file_line_and_key(
    tmp_path: Path, body: str, line: int, key: str, problem: str
) -> None:
    path = _write(tmp_path, "version: 1\nparams:\n" + body)
    with pytest.raises(ConfigError) as err:
        normalize(builtin_character(), overrides=path, pose_vector="tha3", discover=False)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"{path}:{line}: params.{key}: "), message
    assert problem in message, message


def test_a_split_of_a_morph_that_moves_nothing_is_an_error(tmp_path: Path) -> None:
    model = copy.deepcopy(builtin_character())
    still = model.morphs[model.morph_index("真面目")]
    still.values = np.zeros_like(still.values)
    path = _write(tmp_path, "params:\n  eyebrow_happy_left: {split: 真面目}\n")
    with pytest.raises(
        ConfigError, match=rf"^{path}:2: params.eyebrow_happy_left: split: morph '真面目' .*nothing to split"
    ):
        normalize(model, overrides=path, pose_vector="tha2", discover=False)


def test_params_section_must_be_a_mapping(tmp_path: Path) -> None:
    path = _write(tmp_path, "params: [mouth_delta]\n")
    with pytest.raises(ConfigError, match=rf"^{path}:1: params: expected a mapping"):
        normalize(builtin_character(), overrides=path, pose_vector="tha2", discover=False)


def test_the_documented_params_example_applies_to_gene(gene_pmx: Path, tmp_path: Path) -> None:
    """docs/overrides.md's `params` example is a working override for Gene."""
    import re

    doc = (Path(__file__).parents[2] / "docs" / "overrides.md").read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```yaml\n(.*?)```", doc, re.S) if "params:\n" in b and "body_y" in b)
    path = _write(tmp_path, block)
    report = normalize(read_model(gene_pmx), overrides=path, pose_vector="tha3", discover=False)
    ext = report.extended
    assert {n for n, r in ext.params.items() if r.method == "override"} == {
        "eye_relaxed_left",
        "eye_relaxed_right",
        "eyebrow_serious_left",
        "eyebrow_serious_right",
        "mouth_delta",
        "mouth_smirk",
        "iris_rotation_x",
        "iris_rotation_y",
        "body_y",
        "body_z",
        "breathing",
    }
    assert ext.params["breathing"].bones == ("上半身2", "左肩", "右肩", "左腕", "右腕")
    assert ext.params["iris_rotation_y"].degrees == (12.0, 12.0)
    assert ext.params["eyebrow_serious_left"].availability == "derived"


def test_an_override_beside_the_model_is_found_by_rig_check_and_survey(
    gene_pmx: Path, tmp_path: Path
) -> None:
    import csv

    folder = tmp_path / "models"
    folder.mkdir()
    model_path = folder / "Gene_light.pmx"
    model_path.write_bytes(gene_pmx.read_bytes())
    override = folder / "Gene_light.thagen.yaml"
    override.write_text("params:\n  eye_relaxed_left: eye_downcast_geo_L\n", encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(
        cli, ["rig", "check", str(model_path), "--pose-vector", "tha2"], catch_exceptions=False
    )
    assert result.exit_code == 0 and f"override: {override}" in result.stdout
    out = tmp_path / "survey.csv"
    result = runner.invoke(
        cli,
        ["rig", "survey", str(folder), "--out", str(out), "--pose-vector", "tha2"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    (row,) = list(csv.DictReader(out.open(encoding="utf-8")))
    assert row["override"] == str(override)
    assert (row["avail_eye_relaxed_left"], row["avail_eye_relaxed_right"]) == ("exact", "missing")
    # a malformed override beside the model becomes that model's error row, naming file and line
    override.write_text("params:\n  eye_relaxed_left: nosuch\n", encoding="utf-8")
    runner.invoke(cli, ["rig", "survey", str(folder), "--out", str(out), "--pose-vector", "tha2"])
    (row,) = list(csv.DictReader(out.open(encoding="utf-8")))
    assert row["status"] == "error" and f"{override}:2: params.eye_relaxed_left" in row["reasons"]
