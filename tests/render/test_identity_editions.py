"""Releases of one character on real model files: version-suffixed names give one identity group
per character (`thagen rig survey`), and of a duplicate pair the release that can show more THA3
parameters (a perfect-sync re-release) is rendered.

Every model is a PMX written from the built-in character. Each release has its own face drawing
and head proportions (as tests/identity_variants.py makes characters), so only its name can say
whose release it is; the perfect-sync pair is one mesh with one texture set, the re-release
with extra expression morphs.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from identity_variants import character_atlas, head_mask
from PIL import Image

from thagen.cli import cli
from thagen.render.identity import shown as shown_module
from thagen.render.identity.grouping import ShownParameters, group_models
from thagen.render.identity.shown import shown_counts
from thagen.render.identity.signals import ModelSignals, signals_for_file
from thagen.render.manifest import discover_characters, expand_characters, load_manifest
from thagen.rigs.builtin import ATLAS_NAME, TOON_NAME, builtin_character, builtin_textures
from thagen.rigs.formats.pmx.writer import write_pmx
from thagen.rigs.model import Model, Morph

# file -> (character drawing and head, group it belongs to)
RELEASES = {
    "rin/鏡音リン.pmx": (1, "rin"),
    "rin_act2/鏡音リンact2.pmx": (2, "rin"),
    "alice/Alice.pmx": (3, "alice"),
    "alice2/Alice_ver2.0.pmx": (4, "alice"),
    "bob/Bob.pmx": (5, "bob"),
    "bob_ps/Bob_perfectsync.pmx": (5, "bob"),  # same mesh and textures, more morphs
    "twob/2B.pmx": (6, "2b"),
    "twob2/2B_ver1.1.pmx": (7, "2b"),
    "oli/Oli.pmx": (8, "oli"),  # "Oliver2" must not lose "ver2" and join Oli
    "oliver/Oliver2.pmx": (9, "oliver"),
}
# ARKit names a perfect-sync release adds, each built from an existing morph's motion; "▲" is
# THA3's mouth_delta, which the plain built-in character lacks
EXTRA_MORPHS = {"▲": "あ", "mouthPucker": "う", "mouthFunnel": "お", "cheekPuff": "い", "tongueOut": "え"}


def _with_extra_morphs(model: Model) -> Model:
    by_name = {m.name: m for m in model.morphs}
    for name, source in EXTRA_MORPHS.items():
        base = by_name[source]
        model.morphs.append(
            Morph(name, panel=base.panel, indices=base.indices.copy(), values=base.values * 0.6)
        )
    return model


def write_release(root: Path, file: str, character: int, *, extra_morphs: bool = False) -> Path:
    """A PMX of `character` (own face drawing and head proportions) named like its file."""
    path = root / file
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(character_atlas(character)).save(path.parent / ATLAS_NAME)
    Image.fromarray(builtin_textures()[TOON_NAME]).save(path.parent / TOON_NAME)
    model = builtin_character()
    head = head_mask(model)
    origin = model.bones[model.bone_index("頭")].position.astype(np.float64)
    pos = model.positions.astype(np.float64)
    pos[head, 0] = origin[0] + (pos[head, 0] - origin[0]) * (1 + 0.06 * character)
    model.positions = pos.astype(np.float32)
    model.name = path.stem
    if extra_morphs:
        _with_extra_morphs(model)
    write_pmx(model, path)
    return path


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("releases")
    for file, (character, _) in RELEASES.items():
        write_release(root, file, character, extra_morphs="perfectsync" in file)
    return root


def _survey(folder: Path, out: Path, *extra: str) -> dict[str, dict[str, str]]:
    result = CliRunner().invoke(
        cli,
        ["rig", "survey", str(folder), "--out", str(out / "survey.csv"), *extra],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    with (out / "survey.csv").open(encoding="utf-8", newline="") as fh:
        return {str(Path(r["source"]).relative_to(folder)): r for r in csv.DictReader(fh)}


def test_survey_gives_one_group_per_character(releases: Path, tmp_path: Path) -> None:
    groups_file = tmp_path / "groups.yaml"
    t0 = time.monotonic()
    rows = _survey(releases, tmp_path, "--groups-out", str(groups_file))
    print(f"survey of {len(rows)} models: {time.monotonic() - t0:.1f} s")
    assert set(rows) == set(RELEASES)
    found: dict[str, set[str]] = {}
    for file, (_, character) in RELEASES.items():
        found.setdefault(character, set()).add(rows[file]["group"])
    assert all(len(groups) == 1 for groups in found.values()), found  # no character split
    assert len({next(iter(g)) for g in found.values()}) == len(found)  # no two characters merged
    # the releases joined by their names alone (own drawings and heads)
    rin = rows["rin_act2/鏡音リンact2.pmx"]["group_evidence"]
    assert "name key '鏡音リン'" in rin and "texture" not in rin and "geometry" not in rin
    assert "name key 'alice'" in rows["alice/Alice.pmx"]["group_evidence"]
    assert rows["oli/Oli.pmx"]["group_size"] == rows["oliver/Oliver2.pmx"]["group_size"] == "1"
    # the group file has one group per character
    written = yaml.safe_load(groups_file.read_text(encoding="utf-8"))["groups"]
    assert sorted(len(members) for members in written.values()) == [1, 1, 2, 2, 2, 2]


def test_survey_with_tha3_names_the_perfect_sync_release_as_kept(releases: Path, tmp_path: Path) -> None:
    plain, rich = "bob/Bob.pmx", "bob_ps/Bob_perfectsync.pmx"
    rows = _survey(releases / "bob", tmp_path / "a")  # THA1: the current rule (smaller id)
    assert rows["Bob.pmx"]["id"] < _survey(releases / "bob_ps", tmp_path / "b")["Bob_perfectsync.pmx"]["id"]
    both = tmp_path / "both"
    for file in (plain, rich):
        (both / file).parent.mkdir(parents=True)
        for f in (releases / file).parent.iterdir():
            (both / file).parent.joinpath(f.name).write_bytes(f.read_bytes())
    tha1 = _survey(both, tmp_path / "c")
    assert tha1[rich]["duplicate_of"] == tha1[plain]["id"] and not tha1[plain]["duplicate_of"]
    tha3 = _survey(both, tmp_path / "d", "--pose-vector", "tha3")
    assert tha3[rich]["avail_mouth_delta"] == "exact" and tha3[plain]["avail_mouth_delta"] == "missing"
    assert tha3[plain]["duplicate_of"] == tha3[rich]["id"] and not tha3[rich]["duplicate_of"]
    assert "the kept one shows 45 tha3 parameters, this one 44" in tha3[plain]["duplicate_reason"]


def _manifest(folder: Path, body: dict) -> Path:
    path = folder / "m.yaml"
    doc = {"output": "out", "poses_per_character": 1, **body}
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize(("vector", "kept"), [("tha3", "Bob_perfectsync.pmx"), ("tha1", "Bob.pmx")])
def test_a_manifest_renders_the_duplicate_showing_the_most_parameters(
    releases: Path, tmp_path: Path, vector: str, kept: str
) -> None:
    body = {
        "characters": [
            {"path": str(releases / "bob" / "Bob.pmx")},
            {"glob": str(releases / "bob_ps" / "*.pmx")},
        ],
        "pose_vector": vector,
    }
    jobs = expand_characters(load_manifest(_manifest(tmp_path, body)))
    assert [j.model_path.name for j in jobs if j.model_path is not None] == [kept]
    assert jobs[0].identity is not None
    (dropped,) = jobs[0].identity.duplicates
    assert "same mesh" in dropped
    assert ("shows 45 tha3 parameters, this one 44" in dropped) == (vector == "tha3")


def test_parameter_counts_are_cached_and_follow_the_override(
    releases: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = load_manifest(
        _manifest(tmp_path, {"characters": [{"glob": str(releases / "bob*" / "*.pmx")}]})
    )
    refs = discover_characters(manifest)
    counts = shown_counts(refs, "tha3", jobs=1)
    assert sorted(counts.values()) == [44, 45]

    def fail(*args: object) -> int:
        raise AssertionError("counted again")

    monkeypatch.setattr(shown_module, "count_shown", fail)
    assert shown_counts(refs, "tha3", jobs=1) == counts  # from the cache: no model read
    override = releases / "bob" / "Bob.thagen.yaml"  # a person marks one parameter of it missing
    override.write_text("params:\n  mouth_smirk: absent\n", encoding="utf-8")
    try:
        with pytest.raises(AssertionError, match="counted again"):  # a new override: counted again
            shown_counts(refs, "tha3", jobs=1)
        monkeypatch.undo()
        assert sorted(shown_counts(refs, "tha3", jobs=1).values()) == [43, 45]
    finally:
        override.unlink()


@pytest.fixture(scope="module")
def bob_signals(releases: Path) -> dict[str, ModelSignals]:
    return {
        "bob": signals_for_file(releases / "bob" / "Bob.pmx")[0],
        "bob-ps": signals_for_file(releases / "bob_ps" / "Bob_perfectsync.pmx")[0],
    }


def test_the_rendered_duplicate_stays_kept_whatever_the_counts(bob_signals: dict[str, ModelSignals]) -> None:
    asked: list[list[str]] = []

    def count(ids: Sequence[str]) -> dict[str, int]:
        asked.append(sorted(ids))
        return {"bob": 44, "bob-ps": 45}

    shown = ShownParameters("tha3", count)
    assert group_models(bob_signals, shown=shown).duplicate_of["bob"][0] == "bob-ps"
    assert asked == [["bob", "bob-ps"]]  # only the members of duplicate sets are counted
    pinned = group_models(bob_signals, prefer={"bob"}, shown=shown)
    assert pinned.duplicate_of["bob-ps"][0] == "bob" and len(asked) == 1  # a pinned set: not counted
    # equal counts: the current rule (a PMX, more textures, the smaller id)
    even = ShownParameters("tha3", lambda ids: {"bob": 45, "bob-ps": 45})
    assert group_models(bob_signals, shown=even).duplicate_of["bob-ps"][0] == "bob"
