"""Identity in manifests and the survey: split by group, duplicates rendered once, the manual
group file (and its errors), dataset.yaml's identity section, `thagen rig survey` columns."""

from __future__ import annotations

import csv
import shutil
import zipfile
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from identity_variants import builtin_variant, gene_copy

from thagen.cli import cli
from thagen.errors import ConfigError
from thagen.render.identity.group_file import read_group_file
from thagen.render.identity.plan import identity_section
from thagen.render.manifest import expand_characters, load_manifest
from thagen.render.run.dataset_yaml import write_dataset_yaml
from thagen.rigs.builtin import write_builtin_character


def _manifest(folder: Path, body: dict) -> Path:
    path = folder / "m.yaml"
    path.write_text(yaml.safe_dump({"output": "out", "poses_per_character": 1, **body}), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def collection(tmp_path_factory: pytest.TempPathFactory, gene_pmx: Path, gene_pmd: Path) -> Path:
    """Gene PMX + PMD, the built-in character and its dense variant, in one folder."""
    root = tmp_path_factory.mktemp("identity-collection")
    shutil.copytree(gene_pmx.parent / "light", root / "gene" / "light")
    shutil.copy(gene_pmx, root / "gene" / gene_pmx.name)
    shutil.copy(gene_pmd, root / "gene" / gene_pmd.name)
    write_builtin_character(root / "builtin")
    write_builtin_character(root / "dense", name="builtin_dense", target_vertices=20000)
    return root


def _by_file(jobs) -> dict[str, object]:
    return {Path(j.model_path).name: j for j in jobs}


def test_duplicates_are_rendered_once_unless_kept(collection: Path, tmp_path: Path) -> None:
    chars = [{"glob": str(collection / "**" / "*.pmx")}, {"glob": str(collection / "**" / "*.pmd")}]
    jobs = expand_characters(load_manifest(_manifest(tmp_path, {"characters": chars})))
    by = _by_file(jobs)
    assert set(by) == {"Gene_light.pmx", "builtin.pmx", "builtin_dense.pmx"}
    gene = by["Gene_light.pmx"]
    assert len(gene.identity.duplicates) == 1 and "Gene_light.pmd" in gene.identity.duplicates[0]
    assert by["builtin.pmx"].identity.group == by["builtin_dense.pmx"].identity.group != gene.identity.group

    keep = {"characters": chars, "identity": {"keep_duplicates": True}}
    kept = _by_file(expand_characters(load_manifest(_manifest(tmp_path, keep))))
    assert set(kept) == {"Gene_light.pmx", "Gene_light.pmd", "builtin.pmx", "builtin_dense.pmx"}
    assert kept["Gene_light.pmd"].identity.duplicate_of == kept["Gene_light.pmx"].id
    assert kept["Gene_light.pmd"].split == kept["Gene_light.pmx"].split
    kept_section = identity_section(list(kept.values()))["duplicates"]
    assert kept_section == {
        kept["Gene_light.pmx"].id: [f"{kept['Gene_light.pmd'].id}: rendered too (keep_duplicates)"]
    }

    # dataset.yaml records each group's split, members and evidence, and the duplicates
    out = tmp_path / "out"
    out.mkdir()
    data = write_dataset_yaml(out, [j.id for j in jobs], {}, {}, identity=identity_section(jobs))
    section = yaml.safe_load((out / "dataset.yaml").read_text(encoding="utf-8"))["identity"]
    assert section == data["identity"]
    group = section["groups"][gene.identity.group]
    assert group["members"] == [gene.id] and "texture" in group["evidence"][0]
    assert list(section["duplicates"]) == [gene.id]


@pytest.mark.slow
def test_a_copy_in_another_zip_is_a_duplicate(collection: Path, tmp_path: Path, gene_pmx: Path) -> None:
    copy = gene_copy(gene_pmx, tmp_path / "copy", textures="jpeg", name="ジェネ / Gene (re-saved)")
    pack = tmp_path / "pack.zip"
    with zipfile.ZipFile(pack, "w") as zf:
        zf.write(copy, "gene/Gene_resaved.pmx")
        for png in sorted((copy.parent / "light").iterdir()):
            zf.write(png, f"gene/light/{png.name}")
    body = {"characters": [str(collection / "gene" / "Gene_light.pmx"), {"zip": str(pack)}]}
    (job,) = expand_characters(load_manifest(_manifest(tmp_path, body)))
    assert Path(job.model_path).name == "Gene_light.pmx"
    (dup,) = job.identity.duplicates
    assert "pack.zip:gene/Gene_resaved.pmx" in dup and "same mesh" in dup


def test_split_lists_may_name_groups_and_a_group_never_divides(collection: Path, tmp_path: Path) -> None:
    chars = [{"glob": str(collection / "**" / "*.pmx")}, {"glob": str(collection / "**" / "*.pmd")}]
    base = {"characters": chars, "identity": {"keep_duplicates": True}}
    jobs = expand_characters(load_manifest(_manifest(tmp_path, base)))
    builtin_group = _by_file(jobs)["builtin.pmx"].identity.group
    splits = {"train": {"ratio": 1}, "test": {"characters": [builtin_group]}}
    by = _by_file(expand_characters(load_manifest(_manifest(tmp_path, {**base, "splits": splits}))))
    assert by["builtin.pmx"].split == by["builtin_dense.pmx"].split == "test"
    assert by["Gene_light.pmx"].split == by["Gene_light.pmd"].split == "train"
    # naming one member puts the whole group there; two members in two splits is an error
    splits = {"train": {"ratio": 1}, "val": {"characters": [str(collection / "gene" / "Gene_light.pmd")]}}
    by = _by_file(expand_characters(load_manifest(_manifest(tmp_path, {**base, "splits": splits}))))
    assert by["Gene_light.pmx"].split == "val"
    splits["test"] = {"characters": [str(collection / "gene" / "Gene_light.pmx")]}
    with pytest.raises(ConfigError, match="a group stays in one split"):
        expand_characters(load_manifest(_manifest(tmp_path, {**base, "splits": splits})))


@pytest.mark.slow
def test_ratio_split_keeps_groups_whole_and_ignores_added_models(tmp_path: Path) -> None:
    models = tmp_path / "models"
    for character in range(10):
        for outfit in range(4):
            builtin_variant(models / "set", character, outfit, jpeg=outfit == 3)
    body = {
        "characters": [{"glob": "models/set/**/*.pmx"}],
        "splits": {"train": {"ratio": 0.5}, "val": {"ratio": 0.25}, "test": {"ratio": 0.25}},
        "split_seed": 7,
    }
    jobs = expand_characters(load_manifest(_manifest(tmp_path, body)))
    assert len(jobs) == 40
    groups: dict[str, set[str]] = {}
    for job in jobs:
        groups.setdefault(job.identity.group, set()).add(job.split)
    assert len(groups) == 10 and all(len(s) == 1 for s in groups.values())
    folders = {
        Path(j.model_path).parent.parent.name for j in jobs if j.identity.group == jobs[0].identity.group
    }
    assert len(folders) == 1  # a group is one character's four outfits
    assert len({next(iter(s)) for s in groups.values()}) >= 2  # the ratios really split
    before = {j.id: (j.split, j.identity.group) for j in jobs}

    for character in range(10, 20):
        builtin_variant(models / "more", character, 0)
    body["characters"].append({"glob": "models/more/**/*.pmx"})
    after = expand_characters(load_manifest(_manifest(tmp_path, body)))
    assert len(after) == 50
    assert {j.id: (j.split, j.identity.group) for j in after if j.id in before} == before
    assert len({j.identity.group for j in after if j.id not in before}) == 10


def test_manual_group_file_overrides_the_automatic_grouping(collection: Path, tmp_path: Path) -> None:
    groups = tmp_path / "groups.yaml"
    rel = Path("..") / collection.name
    groups.write_text(
        "version: 1\ngroups:\n"
        f"  odd-pair:\n    - {collection / 'gene' / 'Gene_light.pmx'}\n    - {collection / 'builtin' / 'builtin.pmx'}\n"
        f"  dense-alone:\n    - {rel / 'dense' / 'builtin_dense.pmx'}\n",
        encoding="utf-8",
    )
    chars = [{"glob": str(collection / "**" / "*.pmx")}, {"glob": str(collection / "**" / "*.pmd")}]
    body = {"characters": chars, "identity": {"groups": "groups.yaml", "keep_duplicates": True}}
    by = _by_file(expand_characters(load_manifest(_manifest(tmp_path, body))))
    assert by["Gene_light.pmx"].identity.group == by["builtin.pmx"].identity.group == "odd-pair"
    assert by["Gene_light.pmd"].identity.group == "odd-pair"  # unlisted: follows its evidence
    assert by["builtin_dense.pmx"].identity.group == "dense-alone"  # despite sharing the atlas
    assert by["Gene_light.pmx"].split == by["builtin.pmx"].split
    assert any("group file" in e for e in by["builtin.pmx"].identity.evidence)


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("version: 1\ngroups:\n  gene:\n    - a\n  Bad Name:\n    - b\n", 5, "group name"),
        ("groups:\n  g:\n    - {x: 1}\n", 3, "character id or a path"),
        ("groups:\n  g: [a\n", 3, "invalid YAML"),
        ("groups:\n  a:\n    - m1\n  b:\n    - m1\n", 5, "already in group 'a' (line 3)"),
        ("groups:\n  a: []\n", 2, "non-empty list"),
        ("version: 1\ncolour: 1\n", 2, "unknown key"),
        ("version: 2\ngroups: {}\n", 1, "version 1"),
    ],
)
def test_malformed_group_file_names_file_and_line(tmp_path: Path, text: str, line: int, problem: str) -> None:
    path = tmp_path / "groups.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        read_group_file(path)
    assert str(info.value).startswith(f"{path}: line {line}: ") and problem in str(info.value)


def test_malformed_group_file_fails_the_manifest(collection: Path, tmp_path: Path) -> None:
    (tmp_path / "groups.yaml").write_text("groups:\n  g:\n    - [1, 2]\n", encoding="utf-8")
    body = {
        "characters": [str(collection / "builtin" / "builtin.pmx")],
        "identity": {"groups": "groups.yaml"},
    }
    with pytest.raises(ConfigError, match=r"groups\.yaml: line 3: "):
        expand_characters(load_manifest(_manifest(tmp_path, body)))
    with pytest.raises(ConfigError, match=r"identity\.keep_duplicates: expected true or false"):
        load_manifest(_manifest(tmp_path, {**body, "identity": {"keep_duplicates": "yes"}}))


def test_survey_shows_groups_and_writes_a_group_file(collection: Path, tmp_path: Path) -> None:
    coll = tmp_path / "coll"
    shutil.copytree(collection, coll)
    (coll / "broken.pmx").write_bytes(b"PMX \x00 nothing")
    out, groups = tmp_path / "survey.csv", tmp_path / "groups.yaml"
    result = CliRunner().invoke(
        cli,
        ["rig", "survey", str(coll), "--out", str(out), "--groups-out", str(groups)],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.stderr
    assert "identity: 4 models, 2 groups (2 with several models), 1 duplicates" in result.stdout
    assert "largest groups:" in result.stdout
    with out.open(encoding="utf-8", newline="") as fh:
        rows = {Path(r["source"]).name: r for r in csv.DictReader(fh)}
    assert rows["broken.pmx"]["status"] == "error" and rows["broken.pmx"]["group"] == ""
    pmx, pmd = rows["Gene_light.pmx"], rows["Gene_light.pmd"]
    assert pmx["group"] == pmd["group"] and pmx["group_size"] == "2"
    assert pmd["duplicate_of"] == pmx["id"] and "same mesh" in pmd["duplicate_reason"]
    assert rows["builtin.pmx"]["group"] == rows["builtin_dense.pmx"]["group"] != pmx["group"]
    assert "texture" in rows["builtin.pmx"]["group_evidence"]
    # the written group file reads back, and a manifest using it groups the same way
    parsed = read_group_file(groups)
    assert sorted(len(m) for m in parsed.groups.values()) == [2, 2]
    body = {
        "characters": [{"glob": "coll/*/*.pmx"}, {"glob": "coll/*/*.pmd"}],
        "identity": {"groups": str(groups), "auto": False},  # the file alone decides
    }
    jobs = expand_characters(load_manifest(_manifest(tmp_path, body)))
    assert len(jobs) == 4 and {j.identity.group for j in jobs} == {pmx["group"], rows["builtin.pmx"]["group"]}
