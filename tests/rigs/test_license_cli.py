"""Licenses on the command line: `thagen inspect`, `thagen rig check` and `thagen rig survey`
show each model's license record (docs/licenses.md), read from the model, the files beside it
(up to the survey's input folder; the model's own folder for inspect and check) and its
override file's `license:` section, which wins."""

from __future__ import annotations

import csv
import json
import shutil
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from license_models import BOB_README, DORA_CREDIT, GENE_CREDIT, GENE_PMX, make_collection

from thagen.cli import cli
from thagen.rigs.builtin.vrm import builtin_vrm_bytes
from thagen.rigs.licenses import LicenseInputs, LicenseRecord, license_inputs
from thagen.rigs.reader import read_model


def run(args: list[str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_collection(tmp_path_factory.mktemp("licensed"))


def test_inspect_prints_and_embeds_gene_license() -> None:
    code, out, err = run(["inspect", str(GENE_PMX)])
    assert code == 0, err
    assert "license      CC BY 4.0" in out
    assert f"credit     required: {GENE_CREDIT}" in out  # the whole line, to copy
    assert "redistribution=allow modification=allow commercial=forbid" in out
    code, out, err = run(["inspect", str(GENE_PMX), "--json"])
    record = LicenseRecord.from_json(json.loads(out)["license"])
    assert record.credit_line == GENE_CREDIT and record.license_name == "CC BY 4.0"
    assert {s.source for s in record.sources} == {"pmx comment", "README.md", "README.ja.md"}


def test_inspect_reads_the_vrm_meta(tmp_path: Path) -> None:
    """VRM 1.0 meta as the file states it: the spec's defaults for keys it leaves out."""
    path = tmp_path / "avatar.vrm"
    path.write_bytes(builtin_vrm_bytes("1.0"))
    model = read_model(path)
    assert model.vrm is not None and model.vrm.meta["authors"] == ["thagen"]
    code, out, err = run(["inspect", str(path), "--json"])
    assert code == 0, err
    record = LicenseRecord.from_json(json.loads(out)["license"])
    assert record.license_name == "VRM Public License 1.0" and record.author == "thagen"
    assert record.redistribution.value == "forbid"  # allowRedistribution defaults to false
    assert record.avatar_use == "author_only"
    assert record.evidence_for("redistribution")[0].source == "vrm meta"


def test_rig_check_shows_the_readme_and_the_override_wins(models: dict[str, Path]) -> None:
    code, out, err = run(["rig", "check", str(models["bob"])])
    assert code == 0, err
    assert "redistribution=forbid" in out and "sources    pmx comment, pmx comment 2, readme.txt" in out
    code, out, _ = run(["rig", "check", str(models["bob"]), "--json"])
    (entry,) = json.loads(out)
    record = LicenseRecord.from_json(entry["license"])
    assert record.redistribution.value == "forbid"
    assert any(e.source == "readme.txt" and "再配布" in e.text for e in record.evidence_for("redistribution"))
    assert record.sources[-1].text == BOB_README  # the full record: texts kept verbatim
    # a person's word (the override file's license section) beats the readme
    override = models["bob"].with_name("bob.thagen.yaml")
    override.write_text("license:\n  redistribution: allow\n  note: asked the author by mail\n")
    try:
        code, out, err = run(["rig", "check", str(models["bob"]), "--json"])
        assert code == 0, err
        record = LicenseRecord.from_json(json.loads(out)[0]["license"])
        assert record.redistribution.value == "allow"
        assert record.evidence_for("redistribution")[0].source == f"override {override}"
        assert any("asked the author by mail" in note for note in record.notes)
        override.write_text("license:\n  commercial: maybe\n")
        code, out, err = run(["rig", "check", str(models["bob"])])
        assert code == 1 and "license.commercial: expected one of allow, forbid, unknown" in out + err
    finally:
        override.unlink()


def test_inspect_a_zip_reads_the_model_folder_inside_it(tmp_path: Path, models: dict[str, Path]) -> None:
    pack = tmp_path / "pack.zip"
    with zipfile.ZipFile(pack, "w") as zf:
        for file in models["bob"].parent.iterdir():
            zf.write(file, f"bob/{file.name}")
    code, out, err = run(["inspect", str(pack), "--json", "--cache-dir", str(tmp_path / "cache")])
    assert code == 0, err
    record = LicenseRecord.from_json(json.loads(out)["license"])
    assert record.redistribution.value == "forbid"
    assert "pack.zip:bob/readme.txt" in {s.source for s in record.sources}


def test_license_inputs_round_trip_with_zip_members(tmp_path: Path, models: dict[str, Path]) -> None:
    model = read_model(models["bob"])
    inputs = license_inputs(model, "bob/bob.pmx")  # as if extracted from a zip's bob/ folder
    assert inputs.comments and inputs.zip_members == (("bob/readme.txt", BOB_README.encode()),)
    assert LicenseInputs.from_json(json.loads(json.dumps(inputs.to_json()))) == inputs


def test_survey_has_license_columns_and_a_summary(tmp_path: Path, models: dict[str, Path]) -> None:
    root = models["alice"].parents[1]
    out_csv = tmp_path / "survey.csv"
    code, out, err = run(["rig", "survey", str(root), "--out", str(out_csv)])
    assert code == 0, err
    rows = {Path(r["source"]).stem: r for r in csv.DictReader(out_csv.open(encoding="utf-8"))}
    columns = [
        "license_name",
        "redistribution",
        "modification",
        "commercial",
        "credit",
        "credit_line",
        "author",
    ]
    assert all(c in rows["alice"] for c in columns)
    assert [rows["alice"][c] for c in columns[:5]] == ["CC0", "allow", "allow", "allow", "not_required"]
    assert rows["bob"]["redistribution"] == "forbid"
    assert rows["carol"]["license_name"] == "" and rows["carol"]["credit"] == "unknown"
    # pack/ReadMe.txt lies above dora's folder but inside the survey's input folder: read
    assert (rows["dora"]["credit"], rows["dora"]["credit_line"]) == ("required", DORA_CREDIT)
    assert (
        "licenses: 4 models: 2 allow redistribution, 3 allow commercial use, 1 need credit, "
        "1 unknown (no license terms found)"
    ) in out
    # surveyed from its own folder, the pack's readme is above the root: not read
    code, out, err = run(["rig", "survey", str(models["dora"].parent), "--out", str(out_csv)])
    (row,) = csv.DictReader(out_csv.open(encoding="utf-8"))
    assert row["credit"] == "not_required" and row["credit_line"] == ""


def test_survey_keeps_the_license_of_an_unreadable_model(tmp_path: Path) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "x.pmx").write_bytes(b"PMX \x00\x00\x00@garbage")
    shutil.copy(GENE_PMX.with_name("README.md"), folder / "README.md")
    out_csv = tmp_path / "survey.csv"
    code, out, err = run(["rig", "survey", str(folder), "--out", str(out_csv)])
    (row,) = csv.DictReader(out_csv.open(encoding="utf-8"))
    assert row["status"] == "error" and row["credit_line"] == GENE_CREDIT
