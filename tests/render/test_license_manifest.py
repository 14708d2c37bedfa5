"""A manifest's `licenses:` section: parsing (errors name the field), the filter's verdicts with
their evidence, the licenses file and override files that correct a record, and the plan files
a render leaves in OUT. No rendering: expansion only reads the models."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import yaml
from license_models import GENE_CREDIT, GENE_PMX, make_collection

from thagen.errors import ConfigError
from thagen.render.discovery import licenses as discovery_licenses
from thagen.render.manifest import expand_characters, load_manifest, parse_manifest
from thagen.render.manifest.licenses import (
    FORBID_CONDITIONS,
    LICENSES_KEYS,
    LicenseExclusion,
    LicenseOptions,
    license_reasons,
)
from thagen.render.output.licenses import LICENSE_EXCLUDED, add_license_sections, write_license_plan
from thagen.rigs.licenses import PERMISSION_FIELDS, Credit, LicenseRecord, Permission

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def collection(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("collection")
    make_collection(root)
    return root


def manifest_at(root: Path, licenses: object = None, name: str = "m.yaml", **extra: object) -> Path:
    data: dict = {
        "version": 1,
        "output": "out",
        "image_size": 64,
        "characters": [{"glob": "models/**/*.pmx"}, {"path": str(GENE_PMX)}],
        "splits": {"train": {"ratio": 1, "poses_per_character": 1}},
        "identity": {"auto": False},
        **extra,
    }
    if licenses is not None:
        data["licenses"] = licenses
    path = root / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def stems(jobs: list) -> list[str]:
    return sorted(j.id.rsplit("-", 1)[0] for j in jobs)


# --------------------------------------------------------------------------- parsing


def parse(licenses: object) -> LicenseOptions:
    data = {"characters": [{"builtin": True}], "licenses": licenses}
    return parse_manifest(data, REPO / "m.yaml").licenses


def test_parse_and_round_trip() -> None:
    options = parse(
        {"require": ["redistribution", "modification"], "forbid": "credit_required", "unknown": "include"}
    )
    assert options == LicenseOptions(
        None, None, ("redistribution", "modification"), ("credit_required",), "include"
    )
    manifest = parse_manifest(
        {"characters": [{"builtin": True}], "licenses": options.to_dict()}, REPO / "m.yaml"
    )
    assert manifest.licenses == options
    assert parse_manifest(manifest.to_dict(), REPO / "m.yaml") == manifest
    plain = parse_manifest({"characters": [{"builtin": True}]}, REPO / "m.yaml")
    assert "licenses" not in plain.to_dict()  # provenance of manifests without the section unchanged


@pytest.mark.parametrize(
    ("licenses", "message"),
    [
        ({"require": ["redistribute"]}, "licenses.require[0]: expected one of redistribution, modification"),
        ({"forbid": ["credit_required", "nc"]}, "licenses.forbid[1]: expected one of credit_required"),
        ({"unknown": "allow"}, "licenses.unknown: expected one of exclude, include"),
        ({"requires": ["commercial"]}, "licenses.requires: unknown key"),
        ({"file": 3}, "licenses.file: expected a string"),
        ({"require": {"commercial": True}}, "licenses.require: expected a list"),
        (["redistribution"], "licenses: expected a mapping"),
    ],
)
def test_parse_errors_name_the_field(licenses: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse(licenses)


def test_schema_lists_the_section() -> None:
    schema = yaml.safe_load((REPO / "manifests" / "schema.yaml").read_text(encoding="utf-8"))
    section = schema["properties"]["licenses"]["properties"]
    assert set(section) == set(LICENSES_KEYS)
    assert section["require"]["items"]["enum"] == list(PERMISSION_FIELDS)
    assert section["forbid"]["items"]["enum"] == list(FORBID_CONDITIONS)


# --------------------------------------------------------------------------- verdicts


def test_reasons_follow_require_forbid_and_unknown() -> None:
    record = LicenseRecord(
        license_name="CC BY-NC 4.0",
        credit=Credit.REQUIRED,
        redistribution=Permission.ALLOW,
        commercial=Permission.FORBID,
    )
    assert license_reasons(LicenseOptions(require=("redistribution",)), record) == []
    (reason,) = license_reasons(LicenseOptions(require=("commercial",)), record)
    assert reason.startswith("commercial: forbid (licenses.require")
    (reason,) = license_reasons(LicenseOptions(require=("modification",)), record)
    assert reason == "modification: unknown (licenses.require, and licenses.unknown is exclude)"
    assert license_reasons(LicenseOptions(require=("modification",), unknown="include"), record) == []
    forbid = LicenseOptions(forbid=("credit_required", "non_commercial_only", "no_license_found"))
    reasons = license_reasons(forbid, record)
    assert [r.split(" (")[0] for r in reasons] == [
        "the author requires credit",
        "commercial use is forbidden",
    ]
    assert license_reasons(forbid, LicenseRecord()) == [
        "no license terms were found (licenses.forbid: no_license_found)"
    ]


# --------------------------------------------------------------------------- expansion


def test_without_a_section_nothing_is_excluded_and_every_job_has_its_record(collection: Path) -> None:
    excluded: list[LicenseExclusion] = []
    jobs = expand_characters(load_manifest(manifest_at(collection)), license_excluded=excluded)
    assert stems(jobs) == ["alice", "bob", "carol", "dora", "gene-light"] and excluded == []
    by = {j.id.rsplit("-", 1)[0]: LicenseRecord.from_json(j.license) for j in jobs}
    assert by["gene-light"].credit_line == GENE_CREDIT
    assert by["dora"].credit is Credit.REQUIRED  # models/pack/ReadMe.txt: below the glob's root
    assert by["carol"].nothing_found
    assert all(s.text == "" for r in by.values() for s in r.sources)  # compact: no verbatim texts


def test_require_redistribution_excludes_with_evidence(
    collection: Path, caplog: pytest.LogCaptureFixture
) -> None:
    excluded: list[LicenseExclusion] = []
    with caplog.at_level(logging.INFO, logger="thagen.render.manifest"):
        jobs = expand_characters(
            load_manifest(manifest_at(collection, {"require": ["redistribution"]})), license_excluded=excluded
        )
    assert stems(jobs) == ["alice", "dora", "gene-light"]
    reasons = {e.model_file: e.reasons for e in excluded}
    assert set(reasons) == {"bob.pmx", "carol.pmx"}
    assert "再配布禁止" in reasons["bob.pmx"][0] and reasons["bob.pmx"][0].startswith(
        "redistribution: forbid"
    )
    assert reasons["carol.pmx"] == (
        "redistribution: unknown (licenses.require, and licenses.unknown is exclude)",
    )
    assert "bob.pmx) not rendered: redistribution: forbid" in caplog.text
    assert "licenses: 5 models: 3 allow redistribution" in caplog.text
    jobs = expand_characters(
        load_manifest(manifest_at(collection, {"require": ["redistribution"], "unknown": "include"}))
    )
    assert stems(jobs) == ["alice", "carol", "dora", "gene-light"]


def test_forbid_conditions(collection: Path) -> None:
    licenses = {"forbid": ["credit_required", "non_commercial_only", "no_license_found"]}
    excluded: list[LicenseExclusion] = []
    jobs = expand_characters(load_manifest(manifest_at(collection, licenses)), license_excluded=excluded)
    assert stems(jobs) == ["alice", "bob"]
    reasons = {e.model_file: e.reasons for e in excluded}
    assert reasons["Gene_light.pmx"][0].startswith(
        "the author requires credit (licenses.forbid: credit_required"
    )
    assert reasons["Gene_light.pmx"][1].startswith("commercial use is forbidden")
    assert reasons["carol.pmx"][0].startswith("no license terms were found")


def test_licenses_file_and_override_correct_the_record(collection: Path) -> None:
    """The collection-wide file corrects what was read; a model's own override wins over it."""
    (collection / "models" / "licenses.yaml").write_text(
        "version: 1\nmodels:\n  bob: {redistribution: allow}\n  carol/carol.pmx: {license_name: CC BY 4.0, redistribution: allow}\n",
        encoding="utf-8",
    )
    options = {"require": ["redistribution"], "file": "models/licenses.yaml"}
    jobs = expand_characters(load_manifest(manifest_at(collection, options)))
    assert stems(jobs) == ["alice", "bob", "carol", "dora", "gene-light"]
    carol = LicenseRecord.from_json(next(j.license for j in jobs if j.id.startswith("carol")))
    assert carol.license_name == "CC BY 4.0"
    assert carol.evidence_for("redistribution")[0].source.endswith("licenses.yaml: models.carol/carol.pmx")
    override = collection / "models" / "bob" / "bob.thagen.yaml"
    override.write_text("license:\n  redistribution: forbid\n  note: the author said no\n", encoding="utf-8")
    try:
        excluded: list[LicenseExclusion] = []
        jobs = expand_characters(load_manifest(manifest_at(collection, options)), license_excluded=excluded)
        assert stems(jobs) == ["alice", "carol", "dora", "gene-light"]
        assert f"override {override}" in excluded[0].reasons[0]
    finally:
        override.unlink()
        (collection / "models" / "licenses.yaml").unlink()


def test_mistakes_name_the_field(collection: Path) -> None:
    with pytest.raises(ConfigError, match=r"licenses\.file: no such file"):
        expand_characters(load_manifest(manifest_at(collection, {"file": "nowhere.yaml"})))
    chars = {"characters": [{"glob": "models/[bc]*/*.pmx"}]}
    with pytest.raises(ConfigError, match=r"licenses: every model was excluded \(e\.g\. bob-"):
        expand_characters(load_manifest(manifest_at(collection, {"require": ["redistribution"]}, **chars)))


def test_path_entries_read_only_their_folder_unless_root_is_set(collection: Path) -> None:
    dora = collection / "models" / "pack" / "dora" / "dora.pmx"
    chars = {"characters": [{"path": str(dora)}]}
    (job,) = expand_characters(load_manifest(manifest_at(collection, None, "p.yaml", **chars)))
    assert LicenseRecord.from_json(job.license).credit is Credit.NOT_REQUIRED  # pack/ReadMe.txt not read
    (job,) = expand_characters(load_manifest(manifest_at(collection, {"root": "models"}, "p.yaml", **chars)))
    assert LicenseRecord.from_json(job.license).credit is Credit.REQUIRED


def test_a_second_plan_reads_no_model(collection: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expand_characters(load_manifest(manifest_at(collection)))  # fills the cache
    reads: list[object] = []
    monkeypatch.setattr(discovery_licenses, "_read_inputs", lambda ref: reads.append(ref))
    jobs = expand_characters(load_manifest(manifest_at(collection)))
    assert reads == [] and all(j.license for j in jobs)


def test_plan_files_and_dataset_yaml_sections(collection: Path, tmp_path: Path) -> None:
    excluded: list[LicenseExclusion] = []
    manifest = load_manifest(manifest_at(collection, {"require": ["redistribution"]}))
    jobs = expand_characters(manifest, license_excluded=excluded)
    write_license_plan(tmp_path, jobs, excluded)
    lines = (tmp_path / LICENSE_EXCLUDED).read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["model_file"] for line in lines] == ["bob.pmx", "carol.pmx"]
    data = {"characters": {j.id: {"split": "train"} for j in jobs}}
    add_license_sections(tmp_path, data)
    gene = next(v for k, v in data["characters"].items() if k.startswith("gene"))
    assert gene["model_file"] == "Gene_light.pmx" and gene["license"]["credit_line"] == GENE_CREDIT
    assert [e["model_file"] for e in data["licenses"]["excluded"]] == ["bob.pmx", "carol.pmx"]
    assert data["licenses"]["counts"]["models"] == 3
    write_license_plan(tmp_path, jobs, [])  # a later plan without exclusions drops the old list
    assert not (tmp_path / LICENSE_EXCLUDED).exists()
