"""thagen.rigs.licenses: per-model license collection, read conservatively, with evidence.

Fixture texts are written into tmp_path by the tests themselves (in the encodings real readmes
use); the only vendored text read is Gene's real README (CC BY 4.0).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from thagen.errors import ConfigError
from thagen.rigs.licenses import (
    PERMISSION_FIELDS,
    TERMS,
    Credit,
    LicenseRecord,
    Permission,
    apply_license_override,
    collect_license,
    collect_url,
    interpret_text,
    load_license_file,
    meta_from_gltf,
)
from thagen.rigs.licenses.decode import MAX_KEPT_BYTES, decode_bytes
from thagen.rigs.licenses.merge import build_record
from thagen.rigs.licenses.terms import normalize

REPO = Path(__file__).resolve().parents[2]
GENE_README = REPO / "tests" / "data" / "gene" / "README.md"
GENE_CREDIT = (
    "CG-CA Gene (c) 2023 by Nagoya Institute of Technology, Moonshot R&D Goal 1 Avatar Symbiotic Society"
)
VROID_URL = (
    "https://hub.vroid.com/license?allowed_to_use_user=everyone&characterization_allowed_user=everyone"
    "&corporate_commercial_use=allow&credit=necessary&modification=allow&personal_commercial_use=profit"
    "&political_or_religious_usage=disallow&redistribution=allow&sexual_expression=disallow&version=1"
    "&violent_expression=disallow"
)
ALLOW, FORBID, UNKNOWN = Permission.ALLOW, Permission.FORBID, Permission.UNKNOWN


def model_in(folder: Path, name: str = "model.pmx") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(b"PMX \x00\x00\x00\x40")
    return path


def read_text(text: str) -> LicenseRecord:
    """A record from one text alone, as if it were a PMX comment."""
    reading = interpret_text(text, "text")
    return build_record(reading.findings, urls=reading.urls)


def fields(record: LicenseRecord) -> dict[str, str]:
    return {name: record.permission(name).value for name in PERMISSION_FIELDS}


def all_unknown(record: LicenseRecord) -> bool:
    return (
        all(record.permission(name) is UNKNOWN for name in PERMISSION_FIELDS)
        and record.credit is Credit.UNKNOWN
    )


# --- real text: Gene -------------------------------------------------------------------------


def test_gene_readme_is_cc_by_4_with_its_exact_credit_line(tmp_path: Path) -> None:
    model = model_in(tmp_path / "gene", "Gene.pmx")
    shutil.copyfile(GENE_README, model.parent / "README.md")
    record = collect_license(model, root=tmp_path)
    assert record.license_name == "CC BY 4.0"
    assert record.license_url == "https://creativecommons.org/licenses/by/4.0/deed.en"
    assert record.credit is Credit.REQUIRED
    assert record.credit_line == GENE_CREDIT
    assert record.redistribution is ALLOW
    assert record.modification is ALLOW
    # "Personal non-commercial usage" of the design; other commercial use needs a contact: forbid.
    assert record.commercial is FORBID
    assert any(ev.text == "non-commercial" for ev in record.evidence_for("commercial"))
    assert (record.sexual, record.violent, record.political_religious) == (UNKNOWN, UNKNOWN, UNKNOWN)
    credit = record.evidence_for("credit_line")[0]
    assert (credit.source, credit.line) == ("gene/README.md", 83)
    assert all(ev.source == "gene/README.md" for ev in record.evidence_for("redistribution"))
    assert record.sources[0].encoding == "utf-8" and not record.sources[0].truncated


def test_gene_vendored_folder_reads_both_readmes(testdata_dir: Path) -> None:
    record = collect_license(testdata_dir / "gene" / "Gene_light.pmx", root=testdata_dir / "gene")
    assert record.license_name == "CC BY 4.0"
    assert record.credit_line == GENE_CREDIT
    assert {source.source for source in record.sources} == {"README.md", "README.ja.md"}


# --- Japanese readmes, encodings, evidence ---------------------------------------------------


def test_shift_jis_readme_modification_allow_redistribution_forbid(tmp_path: Path) -> None:
    model = model_in(tmp_path / "pack" / "miku")
    text = "テストモデル ver1.0\r\n作者：山田\r\n\r\n■利用規約\r\n改変可・再配布禁止\r\n"
    (model.parent / "readme_読んでね.txt").write_bytes(text.encode("cp932"))
    record = collect_license(model, root=tmp_path)
    assert record.modification is ALLOW
    assert record.redistribution is FORBID
    assert record.evidence_for("modification")[0].source == "pack/miku/readme_読んでね.txt"
    assert record.evidence_for("modification")[0].line == 5
    assert record.evidence_for("modification")[0].text == "改変可"
    assert record.evidence_for("redistribution")[0].line == 5
    assert record.evidence_for("redistribution")[0].text == "再配布禁止"
    assert record.author == "山田"
    assert record.sources[0].encoding == "cp932"
    assert "改変可・再配布禁止" in record.sources[0].text
    assert record.license_name is None and record.commercial is UNKNOWN


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        ("\ufeff改変可".encode(), "utf-8-sig"),
        ("改変可".encode(), "utf-8"),
        ("\ufeff改変可".encode("utf-16-le"), "utf-16"),
        ("\ufeff改変可".encode("utf-16-be"), "utf-16"),
        ("改変可です。".encode("cp932"), "cp932"),
        ("改変可です。よろしくお願いします".encode("euc_jp"), "euc_jp"),
    ],
)
def test_decoding(data: bytes, encoding: str) -> None:
    decoded = decode_bytes(data)
    assert decoded.encoding == encoding
    assert decoded.text is not None and "改変可" in decoded.text


def test_readme_names_cc_by_nc_3(tmp_path: Path) -> None:
    model = model_in(tmp_path / "m")
    (model.parent / "README.md").write_text("# Model\n\nLicense: CC BY-NC 3.0\n", encoding="utf-8")
    record = collect_license(model, root=tmp_path)
    assert record.license_name == "CC BY-NC 3.0"
    assert record.license_url == "https://creativecommons.org/licenses/by-nc/3.0/"
    assert record.commercial is FORBID
    assert (record.credit, record.redistribution, record.modification) == (Credit.REQUIRED, ALLOW, ALLOW)
    assert record.evidence_for("commercial")[0].line == 3


@pytest.mark.parametrize(
    ("text", "name", "modification", "commercial"),
    [
        ("Creative Commons Attribution 4.0 International", "CC BY 4.0", ALLOW, UNKNOWN),
        ("Creative Commons Attribution-NonCommercial-NoDerivatives 4.0", "CC BY-NC-ND 4.0", FORBID, FORBID),
        ("see https://creativecommons.org/licenses/by-nc/3.0/", "CC BY-NC 3.0", ALLOW, FORBID),
        ("cc_by_sa 4.0", "CC BY-SA 4.0", ALLOW, UNKNOWN),
        ("クリエイティブ・コモンズ 表示 - 非営利 4.0 国際 ライセンス", "CC BY-NC 4.0", ALLOW, FORBID),
    ],
)
def test_creative_commons_spellings(
    text: str, name: str, modification: Permission, commercial: Permission
) -> None:
    record = read_text(text)
    assert record.license_name == name
    assert (record.modification, record.commercial, record.credit) == (
        modification,
        commercial,
        Credit.REQUIRED,
    )


def test_cc0_allows_everything_without_credit() -> None:
    record = read_text("Released under CC0 1.0 (https://creativecommons.org/publicdomain/zero/1.0/)")
    assert record.license_name == "CC0 1.0"
    assert record.credit is Credit.NOT_REQUIRED
    assert all(record.permission(name) is ALLOW for name in PERMISSION_FIELDS)


# --- VRoid Hub and VRM meta ------------------------------------------------------------------

VROID_EXPECTED = {
    "redistribution": "allow",
    "modification": "allow",
    "commercial": "allow",
    "sexual": "forbid",
    "violent": "forbid",
    "political_religious": "forbid",
}


def test_vroid_hub_url_spells_the_fields(tmp_path: Path) -> None:
    record = collect_url(VROID_URL)
    assert fields(record) == VROID_EXPECTED
    assert record.credit is Credit.REQUIRED
    assert record.avatar_use == "everyone"
    assert record.license_name == "VRoid Hub conditions (version 1)"
    assert record.license_url == VROID_URL
    model = model_in(tmp_path / "v", "a.vrm")
    (model.parent / "ReadMe.txt").write_text(f"利用条件はこちら\n{VROID_URL}\n", encoding="utf-8")
    from_file = collect_license(model, root=tmp_path)
    assert fields(from_file) == VROID_EXPECTED
    assert from_file.evidence_for("sexual")[0].line == 2
    assert VROID_URL in from_file.urls


def test_vroid_hub_personal_profit_only_is_commercial_forbid() -> None:
    url = VROID_URL.replace("corporate_commercial_use=allow", "corporate_commercial_use=disallow")
    assert collect_url(url).commercial is FORBID


VRM0_PRESETS = [
    ("CC0", "CC0", "not_required", "allow", "allow", "allow"),
    ("CC_BY", "CC BY", "required", "allow", "allow", "unknown"),
    ("CC_BY_NC", "CC BY-NC", "required", "allow", "allow", "forbid"),
    ("CC_BY_SA", "CC BY-SA", "required", "allow", "allow", "unknown"),
    ("CC_BY_NC_SA", "CC BY-NC-SA", "required", "allow", "allow", "forbid"),
    ("CC_BY_ND", "CC BY-ND", "required", "allow", "forbid", "unknown"),
    ("CC_BY_NC_ND", "CC BY-NC-ND", "required", "allow", "forbid", "forbid"),
    (
        "Redistribution_Prohibited",
        "VRM: Redistribution_Prohibited",
        "unknown",
        "forbid",
        "unknown",
        "unknown",
    ),
    ("Other", "VRM: Other", "unknown", "unknown", "unknown", "unknown"),
]


@pytest.mark.parametrize(
    ("preset", "name", "credit", "redistribution", "modification", "commercial"), VRM0_PRESETS
)
def test_vrm0_license_presets(
    tmp_path: Path,
    preset: str,
    name: str,
    credit: str,
    redistribution: str,
    modification: str,
    commercial: str,
) -> None:
    meta = {"title": "A", "author": "someone", "licenseName": preset, "otherLicenseUrl": ""}
    if preset == "Other":
        meta["otherLicenseUrl"] = "https://example.com/terms"
    record = collect_license(tmp_path / "a.vrm", vrm_meta=meta)
    assert record.license_name == name
    assert record.credit.value == credit
    assert (record.redistribution.value, record.modification.value, record.commercial.value) == (
        redistribution,
        modification,
        commercial,
    )
    assert record.author == "someone"
    assert record.evidence_for("license_name")[0].source == "vrm meta"
    assert record.evidence_for("license_name")[0].text == f"licenseName: {preset}"
    if preset == "Other":
        assert record.license_url == "https://example.com/terms"


def test_vrm0_usage_names(tmp_path: Path) -> None:
    meta = {
        "licenseName": "CC_BY",
        "allowedUserName": "OnlyAuthor",
        "commercialUssageName": "Allow",
        "sexualUssageName": "Disallow",
        "violentUssageName": "Disallow",
    }
    record = collect_license(tmp_path / "a.vrm", vrm_meta=meta)
    assert (record.commercial, record.sexual, record.violent) == (ALLOW, FORBID, FORBID)
    assert record.avatar_use == "author_only"
    assert record.political_religious is UNKNOWN


def test_vrm1_meta_fields(tmp_path: Path) -> None:
    gltf = {
        "extensions": {
            "VRMC_vrm": {
                "meta": {
                    "name": "A",
                    "authors": ["Alice", "Bob"],
                    "copyrightInformation": "(c) 2024 Alice",
                    "licenseUrl": "https://vrm.dev/licenses/1.0/",
                    "avatarPermission": "everyone",
                    "commercialUsage": "corporation",
                    "creditNotation": "unnecessary",
                    "allowRedistribution": True,
                    "modification": "allowModification",
                    "allowExcessivelySexualUsage": False,
                    "allowExcessivelyViolentUsage": True,
                    "allowPoliticalOrReligiousUsage": False,
                }
            }
        }
    }
    meta = meta_from_gltf(gltf)
    assert meta is not None
    record = collect_license(tmp_path / "a.vrm", vrm_meta=meta)
    assert record.license_name == "VRM Public License 1.0"
    assert record.license_url == "https://vrm.dev/licenses/1.0/"
    assert fields(record) == {
        "redistribution": "allow",
        "modification": "allow",
        "commercial": "allow",
        "sexual": "forbid",
        "violent": "allow",
        "political_religious": "forbid",
    }
    assert record.credit is Credit.NOT_REQUIRED
    assert record.author == "Alice, Bob"
    assert record.credit_line == "(c) 2024 Alice"
    assert record.avatar_use == "everyone"


def test_vrm1_absent_keys_take_the_restrictive_defaults(tmp_path: Path) -> None:
    record = collect_license(
        tmp_path / "a.vrm", vrm_meta={"licenseUrl": "https://vrm.dev/licenses/1.0/", "authors": []}
    )
    assert fields(record) == {name: "forbid" for name in PERMISSION_FIELDS}
    assert record.credit is Credit.REQUIRED
    assert record.avatar_use == "author_only"
    assert "absent" in record.evidence_for("commercial")[0].text


def test_vrm1_other_license_url_from_vroid_hub(tmp_path: Path) -> None:
    meta = {
        "licenseUrl": "https://vrm.dev/licenses/1.0/",
        "otherLicenseUrl": VROID_URL,
        "commercialUsage": "corporation",
    }
    record = collect_license(tmp_path / "a.vrm", vrm_meta=meta)
    # VRM 1.0 defaults (redistribution false, ...) and the VRoid Hub URL disagree: forbid wins.
    assert record.redistribution is FORBID
    assert {ev.source for ev in record.evidence_for("redistribution")} == {
        "vrm meta",
        "vrm meta otherLicenseUrl",
    }
    assert record.commercial is ALLOW


def test_hostile_vrm_meta_values_are_ignored(tmp_path: Path) -> None:
    meta = {"licenseName": ["CC0"], "commercialUssageName": 3, "author": {"x": 1}, "allowedUserName": None}
    record = collect_license(tmp_path / "a.vrm", vrm_meta=meta)
    assert all_unknown(record) and record.license_name is None and record.author is None


# --- unknown stays unknown --------------------------------------------------------------------


def test_thanks_for_downloading_is_all_unknown(tmp_path: Path) -> None:
    model = model_in(tmp_path / "m")
    (model.parent / "ReadMe.txt").write_text("Thanks for downloading!\nEnjoy.\n", encoding="utf-8")
    record = collect_license(model, root=tmp_path)
    assert all_unknown(record)
    assert record.license_name is None and record.credit_line is None and record.author is None
    assert len(record.sources) == 1 and record.sources[0].text.startswith("Thanks")
    assert "no license found" in record.summary()


def test_guideline_url_alone_stays_unknown_and_is_recorded() -> None:
    record = read_text(
        "Please follow the guideline at https://example.com/guideline.html.\n利用規約に従ってください。"
    )
    assert all_unknown(record)
    assert record.urls == ("https://example.com/guideline.html",)


def test_no_files_no_meta_is_all_unknown(tmp_path: Path) -> None:
    record = collect_license(model_in(tmp_path / "m"), root=tmp_path)
    assert all_unknown(record) and record.sources == ()


# --- negation and the term table -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "field", "value"),
    [
        ("改変不可", "modification", "forbid"),
        ("改造禁止", "modification", "forbid"),
        ("改変：可", "modification", "allow"),
        ("改変可能です", "modification", "allow"),
        ("改変可否：不可", "modification", "unknown"),
        ("改変可能ではありません", "modification", "unknown"),
        ("再配布不可", "redistribution", "forbid"),
        ("再配布可", "redistribution", "allow"),
        ("二次配布禁止", "redistribution", "forbid"),
        ("無断配布禁止", "redistribution", "forbid"),
        ("商用利用不可", "commercial", "forbid"),
        ("商用利用可", "commercial", "allow"),
        ("営利目的での使用禁止", "commercial", "forbid"),
        ("非商用に限ります", "commercial", "forbid"),
        ("No commercial use allowed.", "commercial", "forbid"),
        ("Non-commercial use allowed", "commercial", "forbid"),
        ("Commercial use: allowed", "commercial", "allow"),
        ("commercial use is not allowed", "commercial", "forbid"),
        ("Piano commercial usage", "commercial", "unknown"),
        ("Do not redistribute.", "redistribution", "forbid"),
        ("Redistribution allowed", "redistribution", "allow"),
        ("no modification", "modification", "forbid"),
        ("Modification allowed", "modification", "allow"),
        ("R-18禁止", "sexual", "forbid"),
        ("Ｒ－１８作品への使用禁止", "sexual", "forbid"),
        ("エロ禁止", "sexual", "forbid"),
        ("暴力表現禁止", "violent", "forbid"),
        ("政治・宗教利用禁止", "political_religious", "forbid"),
    ],
)
def test_terms_and_negation(text: str, field: str, value: str) -> None:
    assert read_text(text).permission(field).value == value


@pytest.mark.parametrize(
    ("text", "credit", "line"),
    [
        ("クレジット表記不要", Credit.NOT_REQUIRED, None),
        ("クレジット表記：不要", Credit.NOT_REQUIRED, None),
        ("クレジット表記 必須", Credit.REQUIRED, None),
        ("No credit needed.", Credit.NOT_REQUIRED, None),
        ("Credit required", Credit.REQUIRED, None),
        (
            "要クレジット\n表記例：モデル：ずんだもん（作者名）",
            Credit.REQUIRED,
            "モデル：ずんだもん（作者名）",
        ),
        ("Credit: Model by Alice", Credit.REQUIRED, "Model by Alice"),
        (
            "Copyright 2021 Alice. All rights reserved.",
            Credit.UNKNOWN,
            "Copyright 2021 Alice. All rights reserved.",
        ),
    ],
)
def test_credit(text: str, credit: Credit, line: str | None) -> None:
    record = read_text(text)
    assert record.credit is credit
    assert record.credit_line == line


def test_forbidden_things_list() -> None:
    text = (
        "■禁止事項■\n・再配布\n・R-18、グロ用途\n・政治、宗教目的での使用\n\n■その他\n改変はご自由にどうぞ\n"
    )
    record = read_text(text)
    assert (record.redistribution, record.sexual, record.violent, record.political_religious) == (FORBID,) * 4
    assert record.evidence_for("redistribution")[0].text == "禁止事項: 再配布"
    assert record.modification is UNKNOWN


def test_term_table_is_normalized_and_documented() -> None:
    doc = (REPO / "docs" / "licenses.md").read_text(encoding="utf-8")
    for pattern, field, value in TERMS:
        spaced, compact = normalize(pattern)
        assert pattern == (spaced if pattern.isascii() else compact), pattern
        assert field in (*PERMISSION_FIELDS, "credit") and value in (
            "allow",
            "forbid",
            "required",
            "not_required",
        )
        assert f"`{pattern}`" in doc, f"docs/licenses.md lacks {pattern!r}"


# --- conflicts and overrides -----------------------------------------------------------------


def test_conflict_is_forbid_and_keeps_both_pieces_of_evidence(tmp_path: Path) -> None:
    model = model_in(tmp_path / "pack" / "m")
    (model.parent / "ReadMe.txt").write_text("再配布可\n", encoding="utf-8")
    (tmp_path / "pack" / "利用規約.txt").write_bytes("再配布禁止です。\n".encode("cp932"))
    record = collect_license(model, root=tmp_path)
    assert record.redistribution is FORBID
    evidence = record.evidence_for("redistribution")
    assert {(ev.source, ev.text) for ev in evidence} == {
        ("pack/m/ReadMe.txt", "再配布可"),
        ("pack/利用規約.txt", "再配布禁止"),
    }


def test_vrm_cc0_conflicting_with_readme_is_forbid(tmp_path: Path) -> None:
    model = model_in(tmp_path / "m", "a.vrm")
    (model.parent / "LICENSE").write_text("Commercial use is prohibited.\n", encoding="utf-8")
    record = collect_license(model, root=tmp_path, vrm_meta={"licenseName": "CC0"})
    assert record.commercial is FORBID
    assert record.redistribution is ALLOW
    assert [ev.source for ev in record.evidence_for("commercial")] == ["vrm meta", "m/LICENSE"]


def test_override_wins_and_is_recorded() -> None:
    record = read_text("再配布禁止\nCC BY-NC 4.0")
    assert record.redistribution is FORBID and record.commercial is FORBID
    updated = apply_license_override(
        record,
        {
            "redistribution": "allow",
            "commercial": True,
            "credit_line": "Model: Alice",
            "license_name": "Custom",
        },
        source="models/a.thagen.yaml",
    )
    assert (updated.redistribution, updated.commercial) == (ALLOW, ALLOW)
    assert updated.credit_line == "Model: Alice" and updated.license_name == "Custom"
    first = updated.evidence_for("redistribution")[0]
    assert (first.source, first.text) == ("override models/a.thagen.yaml", "redistribution: allow")
    # the read evidence stays after the override's: 再配布禁止 and CC BY-NC (which allows it)
    assert [ev.text for ev in updated.evidence_for("redistribution")[1:]] == ["再配布禁止", "cc by-nc 4.0"]
    assert updated.modification is record.modification


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"redistribution": "maybe"}, "a.yaml.redistribution: expected one of allow, forbid, unknown"),
        ({"redistrib": "allow"}, "a.yaml: unknown field(s) redistrib"),
        ({"credit": "yes please"}, "a.yaml.credit: expected one of required, not_required, unknown"),
        ({"author": ["x"]}, "a.yaml.author: expected a non-empty string"),
        ({"avatar_use": True}, "a.yaml.avatar_use: expected one of everyone"),
        ("allow", "a.yaml: expected a mapping"),
    ],
)
def test_override_errors_name_the_field(mapping: object, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        apply_license_override(LicenseRecord(), mapping, source="a.yaml")
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_license_file_globs_and_folders(tmp_path: Path) -> None:
    path = tmp_path / "licenses.yaml"
    path.write_text(
        "version: 1\nmodels:\n"
        "  vroid/*.vrm: {credit: required, commercial: forbid}\n"
        "  mmd/pack: {redistribution: forbid}\n"
        "  mmd/pack/b.pmx: {redistribution: allow, author: Bob}\n",
        encoding="utf-8",
    )
    table = load_license_file(path)
    a = table.apply(LicenseRecord(), tmp_path / "vroid" / "a.vrm")
    assert (a.credit, a.commercial) == (Credit.REQUIRED, FORBID)
    assert a.evidence_for("commercial")[0].source == f"override {path}: models.vroid/*.vrm"
    assert table.apply(LicenseRecord(), tmp_path / "mmd" / "pack" / "a.pmx").redistribution is FORBID
    b = table.apply(LicenseRecord(), tmp_path / "mmd" / "pack" / "b.pmx")
    assert (b.redistribution, b.author) == (ALLOW, "Bob")
    assert table.rules_for(tmp_path / "other" / "c.pmx") == []
    assert table.rules_for(tmp_path.parent / "c.pmx") == []
    zipped = table.apply(LicenseRecord(), tmp_path / "mmd" / "pack.zip", member="pack/b.pmx")
    assert zipped.redistribution is UNKNOWN


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("models: {a.pmx: {commercial: perhaps}}\n", "models.a.pmx.commercial: expected one of allow"),
        ("models: {a.pmx: {comercial: allow}}\n", "models.a.pmx: unknown field(s) comercial"),
        ("models: {/abs/a.pmx: {commercial: allow}}\n", "models./abs/a.pmx: must be relative"),
        ("models: {../a.pmx: {commercial: allow}}\n", "models.../a.pmx: must be relative"),
        ("models: [a.pmx]\n", "models: expected a mapping"),
        ("modles: {}\n", "unknown key(s) modles"),
        ("version: 2\nmodels: {}\n", "version: expected 1"),
        ("models: {a: [\n", "not valid YAML at line"),
    ],
)
def test_license_file_errors_name_file_and_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "licenses.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_license_file(path)
    assert str(path) in str(info.value) and message in str(info.value)
    assert "\n" not in str(info.value)


# --- records ---------------------------------------------------------------------------------


def test_record_json_round_trip_and_summary(tmp_path: Path) -> None:
    model = model_in(tmp_path / "gene", "Gene.pmx")
    shutil.copyfile(GENE_README, model.parent / "README.md")
    record = collect_license(model, root=tmp_path, comments=["改変可"])
    data = json.loads(json.dumps(record.to_json()))
    assert LicenseRecord.from_json(data) == record
    assert data["redistribution"] == "allow" and data["evidence"]["credit_line"][0]["line"] == 83
    summary = record.summary()
    assert "\n" not in summary and summary.startswith("CC BY 4.0; credit required")
    with pytest.raises(ValueError, match="commercial"):
        LicenseRecord.from_json({**data, "commercial": "perhaps"})


def test_pmx_comments_and_zip_members(tmp_path: Path) -> None:
    members = [
        ("pack/ReadMe.txt", "商用利用不可\n".encode("cp932")),
        ("pack/tex/readme.png", b"\x89PNG\r\n\x1a\n\x00\x00"),
        ("pack/notes.txt", b"Modification allowed\n"),
    ]
    record = collect_license(
        tmp_path / "pack.zip",
        root=tmp_path,
        comments=["モデル：A\n作者：Bob", "Credit: Bob"],
        zip_members=members,
    )
    assert record.commercial is FORBID and record.modification is ALLOW
    assert record.evidence_for("commercial")[0].source == "pack.zip:pack/ReadMe.txt"
    assert record.author == "Bob" and record.evidence_for("author")[0].source == "pmx comment"
    assert record.credit_line == "Bob" and record.evidence_for("credit_line")[0].source == "pmx comment 2"
    assert any("readme.png: not a text file" in note for note in record.notes)


# --- hostile input ---------------------------------------------------------------------------


def timed_collect(model: Path, root: Path) -> tuple[LicenseRecord, float]:
    start = time.perf_counter()
    record = collect_license(model, root=root)
    return record, time.perf_counter() - start


def test_huge_sparse_file_is_skipped_as_binary_quickly(tmp_path: Path) -> None:
    model = model_in(tmp_path / "m")
    with open(model.parent / "readme.txt", "wb") as handle:
        handle.truncate(50 * 1024 * 1024)
    record, seconds = timed_collect(model, tmp_path)
    assert seconds < 2.0
    assert record.sources[0].size == 50 * 1024 * 1024 and record.sources[0].text == ""
    assert "binary" in (record.sources[0].note or "")
    assert all_unknown(record)


def test_huge_text_file_is_read_only_at_its_head(tmp_path: Path) -> None:
    model = model_in(tmp_path / "m")
    line = "改変可 and some filler text so that the line is long enough to matter\n".encode()
    with open(model.parent / "LICENSE.txt", "wb") as handle:
        handle.write(line * (50 * 1024 * 1024 // len(line)))
        handle.write("再配布禁止\n".encode())  # beyond the bound: never read
    record, seconds = timed_collect(model, tmp_path)
    assert seconds < 2.0
    assert record.modification is ALLOW and record.redistribution is UNKNOWN
    source = record.sources[0]
    assert source.truncated and source.size > 50_000_000
    assert len(source.text.encode()) <= MAX_KEPT_BYTES
    assert len(record.evidence_for("modification")) <= 5


def test_one_line_of_repeated_terms_is_bounded(tmp_path: Path) -> None:
    model = model_in(tmp_path / "m")
    (model.parent / "readme.txt").write_text("改変不可改変可 R-18 non-commercial " * 20000, encoding="utf-8")
    record, seconds = timed_collect(model, tmp_path)
    assert seconds < 2.0
    assert record.modification is FORBID and record.sexual is FORBID and record.commercial is FORBID


def test_binary_and_wrongly_encoded_files(tmp_path: Path) -> None:
    model = model_in(tmp_path / "m")
    (model.parent / "LICENSE").write_bytes(bytes(range(256)) * 100)
    (model.parent / "readme.txt").write_bytes(b"\x81\xff\xfe\xa0\x80\x85 garbage \xfd\xfc\xff\n" * 50)
    record, seconds = timed_collect(model, tmp_path)
    assert seconds < 2.0
    by_name = {source.source: source for source in record.sources}
    assert "binary" in (by_name["m/LICENSE"].note or "")
    assert "replacement" in (by_name["m/readme.txt"].note or "")
    assert "garbage" in by_name["m/readme.txt"].text
    assert all_unknown(record)


def test_many_license_files_are_bounded(tmp_path: Path) -> None:
    model = model_in(tmp_path / "m")
    for index in range(40):
        (model.parent / f"readme{index:02d}.txt").write_text("改変可 " * 40000, encoding="utf-8")
    record, seconds = timed_collect(model, tmp_path)
    assert seconds < 2.0
    assert record.modification is ALLOW
    assert len(record.sources) <= 24
    assert any("not read" in note for note in record.notes)


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="symlinks")
def test_symlinks_out_of_the_root_are_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("改変可\n再配布可\n", encoding="utf-8")
    root = tmp_path / "root"
    model = model_in(root / "m")
    (model.parent / "readme.txt").symlink_to(outside / "secret.txt")
    (model.parent / "LICENSE").symlink_to(outside)
    (root / "linked").symlink_to(outside, target_is_directory=True)
    record, seconds = timed_collect(model, root)
    assert seconds < 2.0
    assert all_unknown(record) and record.sources == ()
    assert any("symlink to outside the collection root" in note for note in record.notes)
    # a model reached through a symlinked folder that leads out of the root: nothing is read
    (outside / "a.pmx").write_bytes(b"PMX ")
    linked, _ = timed_collect(root / "linked" / "a.pmx", root)
    assert linked.sources == () and any("outside the collection root" in note for note in linked.notes)
    # inside the root, a symlink is fine
    (root / "m" / "license.md").symlink_to(root / "shared.md")
    (root / "shared.md").write_text("改変可\n", encoding="utf-8")
    assert collect_license(model, root=root).modification is ALLOW


def test_files_above_the_root_are_never_read(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("再配布禁止\n", encoding="utf-8")
    root = tmp_path / "collection"
    model = model_in(root / "a" / "b")
    (root / "a" / "readme.txt").write_text("再配布可\n", encoding="utf-8")
    record = collect_license(model, root=root)
    assert record.redistribution is ALLOW
    assert [source.source for source in record.sources] == ["a/readme.txt"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs")
def test_fifo_named_readme_does_not_block(tmp_path: Path) -> None:
    model = model_in(tmp_path / "m")
    os.mkfifo(model.parent / "readme.txt")
    record, seconds = timed_collect(model, tmp_path)
    assert seconds < 2.0 and record.sources == ()
