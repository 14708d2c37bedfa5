"""The dataset card (OUT/README.md) and OUT/CREDITS.md: the header a model hub reads, the
characters table, every credit line verbatim; and, with real renders, a manifest's license
filter carried through to dataset.yaml and the card, equal for a serial run and merged parts."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import yaml
from license_models import GENE_CREDIT, GENE_PMX, make_collection

from thagen.render.run.api import render_manifest
from thagen.render.run.dataset_card import CREDITS, README, credits_text, front_matter, readme_text
from thagen.render.run.merge import merge_output
from thagen.rigs.licenses import Credit, LicenseRecord, Permission


def character(record: LicenseRecord | None, split: str = "train", **extra: object) -> dict:
    return {
        "split": split,
        "samples": 2,
        "excluded": False,
        "model_file": "m.pmx",
        "license": None if record is None else record.to_json(texts=False),
        **extra,
    }


def dataset(characters: dict) -> dict:
    return {
        "thagen_version": "0.1.0",
        "blender_version": "4.5.0",
        "manifest": {"name": "tiny", "image_size": 64},
        "splits": {"train": {"characters": len(characters), "samples": 4, "images": 10}},
        "characters": characters,
    }


def header(text: str) -> dict:
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def test_header_names_one_cc_license_by_its_hub_id_else_other() -> None:
    cc_by = LicenseRecord(license_name="CC BY 4.0", credit=Credit.REQUIRED, credit_line="Model: A")
    data = dataset({"a-1": character(cc_by), "b-2": character(cc_by)})
    head = front_matter(data, {"samples": 4})
    assert head["license"] == "cc-by-4.0" and "license_name" not in head
    assert head["configs"] == [
        {"config_name": "default", "data_files": [{"split": "train", "path": "train/*.tar"}]}
    ]
    assert head["size_categories"] == ["n<1K"] and head["thagen"]["pose_vector"] == "tha1"
    assert head["thagen"]["pose_parameters"] == [
        "left_eye",
        "right_eye",
        "mouth",
        "head_x",
        "head_y",
        "neck_z",
    ]
    data["characters"]["c-3"] = character(LicenseRecord(license_name="CC0"))
    data["characters"]["d-4"] = character(None)
    head = header(readme_text(data, {"samples": 4}))
    assert (head["license"], head["license_name"], head["license_link"]) == (
        "other",
        "per-character-licenses",
        CREDITS,
    )
    assert head["thagen"]["licenses"] == {"CC BY 4.0": 2, "CC0": 1}
    assert head["thagen"]["characters_without_license_record"] == 1


def test_credit_lines_are_verbatim_and_table_cells_escaped() -> None:
    tricky = "Art by `me` | ```fenced``` (c) 2024"
    record = LicenseRecord(
        license_name="CC BY 4.0",
        author="A | B",
        credit=Credit.REQUIRED,
        credit_line=tricky,
        commercial=Permission.FORBID,
    )
    no_line = LicenseRecord(credit=Credit.REQUIRED, author="Someone")
    data = dataset({"a-1": character(record), "b-2": character(no_line), "c-3": character(None)})
    credits = credits_text(data)
    assert f"````text\n{tricky}\n````" in credits  # a fence longer than any backtick run in the line
    assert "`b-2` (m.pmx; license unknown): credit the author, Someone" in credits
    assert "`c-3` (m.pmx; license unknown): author unknown" in credits
    readme = readme_text(data, {})
    row = next(line for line in readme.splitlines() if line.startswith("| `a-1`"))
    assert "A \\| B" in row and row.endswith("| unknown | unknown | forbid |")


# --------------------------------------------------------------------------- real renders


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A manifest requiring redistribution over alice (CC0), bob (再配布禁止) and Gene (CC BY
    4.0): rendered serially, and as two parts merged."""
    root = tmp_path_factory.mktemp("card")
    models = make_collection(root)
    manifest = {
        "version": 1,
        "name": "license card test",
        "image_size": 64,
        "render": {"samples": 1},
        "characters": [{"path": str(models["alice"])}, {"path": str(models["bob"])}, {"path": str(GENE_PMX)}],
        "splits": {"train": {"ratio": 1, "poses_per_character": 1}},
        "identity": {"auto": False},
        "licenses": {"require": ["redistribution"]},
    }
    path = root / "m.yaml"
    path.write_text(yaml.safe_dump(manifest, allow_unicode=True), encoding="utf-8")
    serial, parts = root / "serial", root / "parts"
    assert render_manifest(path, out=serial, progress_stream=io.StringIO()).merged
    render_manifest(path, out=parts, part="0/2", progress_stream=io.StringIO())
    render_manifest(path, out=parts, part="1/2", progress_stream=io.StringIO())
    assert merge_output(parts).ok
    return {"serial": serial, "parts": parts}


@pytest.mark.slow
def test_filter_renders_only_allowed_characters_and_lists_the_others(rendered: dict[str, Path]) -> None:
    out = rendered["serial"]
    data = yaml.safe_load((out / "dataset.yaml").read_text(encoding="utf-8"))
    assert sorted(cid.rsplit("-", 1)[0] for cid in data["characters"]) == ["alice", "gene-light"]
    assert sorted(p.name.rsplit("-", 2)[0] for p in (out / "train").glob("*.tar")) == ["alice", "gene-light"]
    (bob,) = data["licenses"]["excluded"]
    assert bob["model_file"] == "bob.pmx" and "再配布禁止" in bob["reasons"][0]
    (line,) = (out / "license-excluded.jsonl").read_text(encoding="utf-8").splitlines()
    assert json.loads(line)["id"] == bob["id"]
    records = {
        cid.rsplit("-", 1)[0]: LicenseRecord.from_json(c["license"]) for cid, c in data["characters"].items()
    }
    assert records["gene-light"].credit_line == GENE_CREDIT and records["alice"].license_name == "CC0"
    readme = (out / README).read_text(encoding="utf-8")
    head = header(readme)
    assert head["license"] == "other" and head["thagen"]["licenses"] == {"CC BY 4.0": 1, "CC0": 1}
    assert head["thagen"]["samples"] == 2 and head["thagen"]["models_excluded_by_license_filter"] == 1
    assert head["thagen"]["splits"] == {"train": {"characters": 2, "samples": 2, "images": 6}}
    assert "| Gene_light.pmx | - | CC BY 4.0 | required (CREDITS.md) | allow | allow | forbid |" in readme
    assert "| alice.pmx | - | CC0 | not required | allow | allow | allow |" in readme
    credits = (out / CREDITS).read_text(encoding="utf-8")
    assert f"```text\n{GENE_CREDIT}\n```" in credits


@pytest.mark.slow
def test_merged_parts_give_the_same_records_and_card(rendered: dict[str, Path]) -> None:
    serial, parts = (yaml.safe_load((rendered[k] / "dataset.yaml").read_text()) for k in ("serial", "parts"))
    assert serial["licenses"] == parts["licenses"]
    for key in ("license", "model_file"):
        assert {c: v[key] for c, v in serial["characters"].items()} == {
            c: v[key] for c, v in parts["characters"].items()
        }
    for name in (README, CREDITS, "licenses.json", "license-excluded.jsonl"):
        assert (rendered["serial"] / name).read_bytes() == (rendered["parts"] / name).read_bytes(), name


def test_a_users_readme_in_out_is_never_overwritten_or_removed(tmp_path: Path) -> None:
    """The card is written as README.md only where thagen wrote the one there (its marker);
    --restart removes thagen's card and leaves a person's README.md alone."""
    import yaml

    from thagen.render.output.layout import CARD_MARKER, clear_output
    from thagen.render.run.dataset_card import write_dataset_card

    (tmp_path / "dataset.yaml").write_text(yaml.safe_dump({"characters": {}, "thagen_version": "x"}))
    (tmp_path / "README.md").write_text("my notes\n")
    write_dataset_card(tmp_path)
    assert (tmp_path / "README.md").read_text() == "my notes\n"
    assert CARD_MARKER in (tmp_path / "DATASET_README.md").read_text()
    assert CARD_MARKER in (tmp_path / "CREDITS.md").read_text()
    (tmp_path / "README.md").unlink()
    write_dataset_card(tmp_path)
    assert CARD_MARKER in (tmp_path / "README.md").read_text()
    (tmp_path / "notes.md").write_text("keep\n")
    clear_output(tmp_path, ["train"])
    assert not (tmp_path / "README.md").exists() and not (tmp_path / "CREDITS.md").exists()
    assert (tmp_path / "notes.md").read_text() == "keep\n"
