"""`thagen rig check` / `thagen rig survey` on real model files (synthetic ones written as PMX, and Gene)."""

from __future__ import annotations

import csv
import json
import shutil
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_normalize import Rig, make_model, standard_model, vmorph

from thagen.cli import cli
from thagen.rigs.formats.pmx.reader import write_pmx
from thagen.rigs.model import MorphKind
from thagen.rigs.normalize import normalize
from thagen.rigs.reader import read_model


def run(args: list[str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A good synthetic model, one without a mouth morph, a blink-only one and a corrupt file."""
    root = tmp_path_factory.mktemp("models")
    rig = Rig()
    paths = {
        "good": root / "good.pmx",
        "nomouth": root / "nomouth.pmx",
        "blinkonly": root / "sub" / "blinkonly.pmx",
        "corrupt": root / "corrupt.pmx",
    }
    paths["blinkonly"].parent.mkdir()
    write_pmx(standard_model(rig), paths["good"])
    write_pmx(make_model(rig, [vmorph("まばたき", rig.blink())]), paths["nomouth"])
    write_pmx(
        make_model(rig, [vmorph("まばたき", rig.blink()), vmorph("あ", rig.mouth())]), paths["blinkonly"]
    )
    paths["corrupt"].write_bytes(b"PMX \x00\x00\x00@garbage")
    return paths


# --------------------------------------------------------------------------- check


def test_check_good_model_table(models: dict[str, Path]) -> None:
    code, out, err = run(["rig", "check", str(models["good"])])
    assert code == 0, err
    assert "OK" in out.splitlines()[0]
    assert "ウィンク２" in out and "geometry" in out and "ｳｨﾝｸ２右" in out
    assert "mouth_open*" in out


def test_check_missing_mouth_fails(models: dict[str, Path]) -> None:
    code, out, err = run(["rig", "check", str(models["good"]), str(models["nomouth"])])
    assert code != 0
    assert f"error: {models['nomouth']}: missing required roles: mouth_open" in err
    assert str(models["good"]) not in err
    assert "NOT USABLE" in out


def test_check_json_and_fallback(models: dict[str, Path]) -> None:
    code, out, _ = run(["rig", "check", "--json", str(models["blinkonly"])])
    assert code == 0
    data = json.loads(out)
    assert len(data) == 1 and data[0]["path"] == str(models["blinkonly"])
    report = data[0]["report"]
    assert report["ok"] is True
    assert report["matches"]["eye_close_left"]["method"] == "fallback"
    assert report["synthetic_morphs"]["eye_close_right"]["name"] == "thagen:eye_close_right"


def test_check_corrupt_file_fails_with_its_name(models: dict[str, Path]) -> None:
    code, _, err = run(["rig", "check", str(models["corrupt"])])
    assert code != 0
    assert str(models["corrupt"]) in err


def test_check_override_option(models: dict[str, Path], tmp_path: Path) -> None:
    good = tmp_path / "o.yaml"
    good.write_text("roles:\n  mouth_open: absent\n", encoding="utf-8")
    code, out, err = run(["rig", "check", "--override", str(good), str(models["good"])])
    assert code != 0 and "missing required roles: mouth_open" in err
    assert f"override: {good}" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text("roles:\n  nose: 鼻\n", encoding="utf-8")
    code, _, err = run(["rig", "check", "--override", str(bad), str(models["good"])])
    assert code != 0
    assert str(bad) in err and "roles.nose: unknown role" in err


# --------------------------------------------------------------------------- survey


def _zip(path: Path, files: dict[str, Path]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for arcname, src in files.items():
            zf.write(src, arcname)
    return path


def test_survey_collection(models: dict[str, Path], tmp_path: Path) -> None:
    coll = tmp_path / "coll"
    coll.mkdir()
    for key in ("good", "nomouth", "corrupt"):
        shutil.copy(models[key], coll / models[key].name)
    _zip(coll / "pack.zip", {"a/good.pmx": models["good"], "b/blink.pmx": models["blinkonly"]})
    (coll / "broken.zip").write_bytes(b"PK\x03\x04 not really a zip")
    (coll / "readme.txt").write_text("not a model")
    (coll / "good.thagen.yaml").write_text("roles:\n  eyes: absent\n", encoding="utf-8")
    out = tmp_path / "res" / "survey.csv"
    code, stdout, err = run(
        ["rig", "survey", str(coll), "--out", str(out), "--cache-dir", str(tmp_path / "cache")]
    )
    assert code == 0, err
    with out.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    by = {(Path(r["source"]).name, r["member"]): r for r in rows}
    assert set(by) == {
        ("good.pmx", ""),
        ("nomouth.pmx", ""),
        ("corrupt.pmx", ""),
        ("pack.zip", "a/good.pmx"),
        ("pack.zip", "b/blink.pmx"),
        ("broken.zip", ""),
    }
    assert by[("good.pmx", "")]["status"] == "usable"
    assert by[("good.pmx", "")]["eye_close_left"] == "ウィンク２"
    assert by[("good.pmx", "")]["override"] == str(coll / "good.thagen.yaml")
    assert by[("good.pmx", "")]["eyes_method"] == "absent"
    # a member named good.pmx inside a zip takes good.thagen.yaml beside the zip; blink.pmx has none
    assert by[("pack.zip", "a/good.pmx")]["override"] == str(coll / "good.thagen.yaml")
    assert by[("pack.zip", "b/blink.pmx")]["override"] == ""
    assert float(by[("good.pmx", "")]["eye_close_left_score"]) > 0.99
    assert by[("nomouth.pmx", "")]["status"] == "unusable"
    assert by[("nomouth.pmx", "")]["reasons"] == "missing mouth_open"
    assert by[("corrupt.pmx", "")]["status"] == "error"
    assert "ModelFormatError" in by[("corrupt.pmx", "")]["reasons"]
    assert by[("broken.zip", "")]["status"] == "error"
    assert by[("pack.zip", "b/blink.pmx")]["eye_close_right"] == "thagen:eye_close_right"
    assert by[("pack.zip", "b/blink.pmx")]["eye_close_right_method"] == "fallback"
    assert "6 models: 3 usable, 1 missing roles, 2 unreadable" in stdout
    assert "missing mouth_open" in stdout
    assert list(out.parent.iterdir()) == [out]  # no temporary file left behind


def test_survey_parallel_matches_serial(models: dict[str, Path], tmp_path: Path) -> None:
    args = [str(models["good"]), str(models["nomouth"]), str(models["corrupt"])]
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    assert run(["rig", "survey", *args, "--out", str(a)])[0] == 0
    assert run(["rig", "survey", *args, "--out", str(b), "--jobs", "2"])[0] == 0

    def strip(p: Path) -> list[dict[str, str]]:
        with p.open(encoding="utf-8", newline="") as fh:
            return [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader(fh)]

    assert strip(a) == strip(b)
    assert [r["status"] for r in strip(a)] == ["error", "usable", "unusable"]


def test_survey_nothing_found(tmp_path: Path) -> None:
    code, _, err = run(["rig", "survey", str(tmp_path), "--out", str(tmp_path / "s.csv")])
    assert code != 0 and "no .pmx" in err


# --------------------------------------------------------------------------- the real Gene model


@pytest.mark.parametrize("which", ["gene_pmx", "gene_pmd"])
def test_gene(which: str, request: pytest.FixtureRequest) -> None:
    path: Path = request.getfixturevalue(which)
    model = read_model(path)
    report = normalize(model)
    assert report.ok, report.missing_required
    m = report.matches
    assert (m["head"].name, m["head"].method) == ("頭", "exact")
    assert m["neck"].name == "首"
    assert (m["eyes"].name, m["eye_left"].name, m["eye_right"].name) == ("両目", "左目", "右目")
    assert m["eye_close_both"].name == "まばたき"
    assert m["mouth_open"].name == "あ"
    # Gene's normal one-eye closes copy the blink's halves; the smile winks do not
    assert m["eye_close_left"].name in {"まば左", "ウィンク２", "eyeBlinkLeft"}
    assert m["eye_close_right"].name in {"まば右", "ｳｨﾝｸ２右", "eyeBlinkRight"}
    for side in ("left", "right"):
        match = m[f"eye_close_{side}"]
        assert match.method == "geometry" and match.score is not None and match.score > 0.99
    assert report.synthetic_morphs == {}
    # the side comes from geometry: the chosen left close moves vertices at +X of the head
    left = model.morphs[m["eye_close_left"].index]
    assert model.positions[left.indices, 0].mean() > report.head_x
    assert 2.0 < report.head_height < 5.0


def test_gene_check_cli(gene_pmx: Path) -> None:
    code, out, err = run(["rig", "check", str(gene_pmx)])
    assert code == 0, err
    assert "頭" in out and "まばたき" in out and "geometry" in out


def test_gene_mirrored_swaps_sides(gene_pmx: Path) -> None:
    """Mirror Gene in x: the same morphs now close the other eye, and geometry follows."""
    model = read_model(gene_pmx)
    model.positions[:, 0] *= -1
    for bone in model.bones:
        bone.position = bone.position * [-1, 1, 1]
    for morph in model.morphs:
        if morph.kind == MorphKind.VERTEX:
            morph.values = morph.values * [-1, 1, 1]
    report = normalize(model)
    assert report.ok
    assert report.matches["eye_close_right"].name in {"まば左", "ウィンク２", "eyeBlinkLeft"}
    assert report.matches["eye_close_left"].name in {"まば右", "ｳｨﾝｸ２右", "eyeBlinkRight"}
    assert any("closes the character's right eye" in w for w in report.warnings)
    # the eye bones keep their names, so the side check flags them
    assert any(w.startswith("eye_left: bone '左目'") for w in report.warnings)
