"""Manifests: schema validation, character ids and discovery, splits, pose counts, jobs.

Discovery only hashes files, so most tests use small files with distinct bytes as models;
the id/zip tests use the real Gene model.
"""

from __future__ import annotations

import logging
import pickle
import re
import shutil
import zipfile
from pathlib import Path

import pytest
import yaml

from thagen.errors import ConfigError
from thagen.render.discovery import characters as chars
from thagen.render.manifest import expand_characters, load_manifest, parse_manifest
from thagen.render.poses.sampling import sample_poses

REPO = Path(__file__).resolve().parents[2]
MANIFESTS = REPO / "manifests"


def write_manifest(folder: Path, data: dict, name: str = "m.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def make_models(folder: Path, names: list[str]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in names:
        p = folder / name
        p.write_bytes(f"model bytes of {name}".encode())
        paths.append(p)
    return paths


def base(**extra) -> dict:
    return {"seed": 1, "output": "out", "characters": [{"glob": "models/*.pmx"}], **extra}


# ---------------------------------------------------------------- the shipped examples


@pytest.mark.parametrize("name", ["demo", "tha1", "dmv"])
def test_examples_load_and_round_trip(name: str) -> None:
    m = load_manifest(MANIFESTS / f"{name}.yaml")
    again = parse_manifest(yaml.safe_load(yaml.safe_dump(m.to_dict(), sort_keys=False)), m.path)
    assert again == m
    # relative outputs resolve from the manifest's folder (all examples write beside the repo's files)
    assert m.output_dir.is_absolute() and MANIFESTS not in m.output_dir.parents
    assert m.output_dir == (MANIFESTS / m.output).resolve()


def test_example_settings() -> None:
    demo = load_manifest(MANIFESTS / "demo.yaml")
    assert demo.output_dir == REPO / "demo-out"
    assert demo.characters[0].builtin
    tha1 = load_manifest(MANIFESTS / "tha1.yaml")
    assert {s.name: s.poses for s in tha1.splits} == {"train": 500_000, "val": 10_000, "test": 10_000}
    assert {s.name: s.ratio for s in tha1.splits} == {"train": 7881, "val": 79, "test": 72}
    assert tha1.lighting.ambient_range == (0.5, 1.2) and tha1.rest_pose_values["mouth"] == 1.0
    dmv = load_manifest(MANIFESTS / "dmv.yaml")
    assert dmv.lighting.preset == "point" and dmv.split("train").poses_per_character == 2000


def test_demo_expands_to_the_builtin_character() -> None:
    jobs = expand_characters(load_manifest(MANIFESTS / "demo.yaml"))
    assert len(jobs) == 1
    job = jobs[0]
    assert job.builtin and job.model_path is None and job.pose_count == 8 and job.split == "train"
    assert re.fullmatch(r"builtin-[0-9a-f]{8}", job.id)
    assert pickle.loads(pickle.dumps(job)) == job
    assert job.poses() == sample_poses(job.pose_spec, job.seed, job.id, 8)
    assert job.rest_pose["mouth"] == 1.0 and job.image_size == 256 and job.render.samples == 4


def test_tha1_pose_arithmetic_in_its_comment() -> None:
    train = chars.distribute_exactly(500_000, [f"c-{i:08x}" for i in range(7881)])
    counts = sorted(train.values())
    assert sum(counts) == 500_000 and counts.count(64) == 3497 and counts.count(63) == 4384
    val = chars.distribute_exactly(10_000, [f"v-{i:08x}" for i in range(79)])
    assert sum(val.values()) == 10_000 and list(val.values()).count(127) == 46
    test = chars.distribute_exactly(10_000, [f"t-{i:08x}" for i in range(72)])
    assert sum(test.values()) == 10_000 and list(test.values()).count(139) == 64


# ---------------------------------------------------------------- validation errors


def error_for(tmp_path: Path, data: dict | str) -> str:
    path = tmp_path / "bad.yaml"
    path.write_text(
        data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False), encoding="utf-8"
    )
    with pytest.raises(ConfigError) as info:
        load_manifest(path)
    message = str(info.value)
    assert str(path) in message
    return message


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"colour": "red"}, "colour"),
        ({"render": {"engine": "cycles", "threads": 2}}, "render.threads"),
        ({"render": {"samples": "four"}}, "render.samples"),
        ({"render": {"samples": 0}}, "render.samples"),
        ({"render": {"device": "tpu"}}, "render.device"),
        ({"render": {"engine": "eevee_legacy"}}, "render.engine"),
        ({"seed": "one"}, "seed"),
        ({"seed": -1}, "seed"),
        ({"seed": True}, "seed"),
        ({"image_size": 250}, "image_size"),
        ({"image_size": 256.0}, "image_size"),
        ({"shard_size": 0}, "shard_size"),
        ({"lighting": {"preset": "flat"}}, "lighting.preset"),
        ({"lighting": {"ambient": -0.1}}, "lighting.ambient"),
        ({"lighting": {"ambient_range": [1.2, 0.5]}}, "lighting.ambient_range"),
        ({"lighting": {"ambient_range": [0.5]}}, "lighting.ambient_range"),
        ({"rest_pose": "tha3"}, "rest_pose"),
        ({"rest_pose": {"mouth": 2}}, "rest_pose.mouth"),
        ({"rest_pose": {"jaw": 1}}, "rest_pose.jaw"),
        ({"pose_sampling": {"head_x": {"dist": "uniform", "low": -2}}}, "pose_sampling.head_x.low"),
        (
            {"pose_sampling": {"mouth": {"dist": "uniform", "low": 0.9, "high": 0.1}}},
            "pose_sampling.mouth.low",
        ),
        ({"pose_sampling": {"mouth": {"dist": "beta", "a": -1, "b": 2}}}, "pose_sampling.mouth.a"),
        ({"pose_sampling": {"mouth": {"dist": "fixed"}}}, "pose_sampling.mouth.value"),
        ({"pose_sampling": {"mouth": 1.5}}, "pose_sampling.mouth.value"),
        ({"pose_sampling": {"mouth": {"dist": "uniform", "a": 2}}}, "pose_sampling.mouth.a"),
        ({"pose_sampling": {"left_eye": {"snap": {"p0": 1.5}}}}, "pose_sampling.left_eye.snap.p0"),
        ({"pose_sampling": {"left_eye": {"snap": {"p0": 0.7, "p1": 0.7}}}}, "pose_sampling.left_eye.snap"),
        ({"pose_sampling": {"head_y": {"snap": {"p0": 0.1}}}}, "pose_sampling.head_y.snap"),
        ({"pose_sampling": {"mouth": {"dist": "normal"}}}, "pose_sampling.mouth.dist"),
        ({"pose_sampling": {"jaw": {"dist": "uniform"}}}, "pose_sampling.jaw"),
        ({"poses_per_character": -5}, "poses_per_character"),
        ({"splits": {"train": {"ratio": -1}}}, "splits.train.ratio"),
        ({"splits": {"train": {"ratio": 0}}}, "splits"),
        ({"splits": {"train": {"ratio": 1, "poses": 10, "poses_per_character": 2}}}, "splits.train"),
        ({"splits": {"Train Set": {"ratio": 1}}}, "splits.Train Set"),
        ({"splits": {"train": {"ratio": 1, "characters": "a"}}}, "splits.train.characters"),
        ({"splits": []}, "splits"),
        ({"qa": {"exclude_flagged": "yes"}}, "qa.exclude_flagged"),
        ({"version": 2}, "version"),
        ({"characters": []}, "characters"),
    ],
)
def test_bad_values_name_the_field_and_file(tmp_path: Path, change: dict, field: str) -> None:
    message = error_for(tmp_path, base(**change))
    assert f": {field}: " in message, message


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ({"path": "a.pmx", "annotation": 5}, "characters[2].annotation"),
        ({"path": "a.pmx", "annotaton": "a.yaml"}, "characters[2].annotaton"),
        ({"path": "a.pmx", "glob": "*.pmx"}, "characters[2]"),
        ({"member": "a.pmx"}, "characters[2]"),
        ({"path": "a.pmx", "member": "a.pmx"}, "characters[2].member"),
        ({"glob": "*.pmx", "annotation": "a.yaml"}, "characters[2].annotation"),
        ({"zip": "a.zip", "rig_override": "a.yaml"}, "characters[2].rig_override"),
        ({"builtin": False}, "characters[2].builtin"),
        ({"builtin": "yes"}, "characters[2].builtin"),
        ({"path": "a.pmx", "poses": 1.5}, "characters[2].poses"),
        ({"path": "a.pmx", "split": "holdout"}, "characters[2].split"),
        ({"path": "a.pmx", "lighting": {"ambient_range": [2, 1]}}, "characters[2].lighting.ambient_range"),
        ({"path": "a.pmx", "lighting": {"colour": 1}}, "characters[2].lighting.colour"),
        (["a.pmx"], "characters[2]"),
    ],
)
def test_bad_character_entries_name_the_entry(tmp_path: Path, entry, field: str) -> None:
    data = base()
    data["characters"] = [{"builtin": True}, "m.pmx", entry]
    message = error_for(tmp_path, data)
    assert f": {field}: " in message, message


def test_yaml_problems_are_config_errors(tmp_path: Path) -> None:
    assert "line 3" in error_for(tmp_path, "seed: 1\ncharacters: [\n")
    assert "duplicate key 'seed'" in error_for(tmp_path, "seed: 1\nseed: 2\ncharacters: [{builtin: true}]\n")
    assert "expected a mapping" in error_for(tmp_path, "- 1\n- 2\n")
    with pytest.raises(ConfigError, match="no such file"):
        load_manifest(tmp_path / "missing.yaml")


def test_defaults_fill_everything(tmp_path: Path) -> None:
    m = load_manifest(write_manifest(tmp_path, {"characters": [{"builtin": True}]}))
    d = m.to_dict()
    assert d["image_size"] == 256 and d["render"] == {"engine": "cycles", "device": "cpu", "samples": 4}
    assert d["lighting"] == {"preset": "phong", "ambient": 0.5, "diffuse": 0.5, "ambient_range": None}
    assert d["rest_pose"] == "tha1" and d["seed"] == 0 and d["shard_size"] == 1000
    assert d["pose_sampling"]["head_x"] == {"dist": "tha1_linear", "low": -1.0, "high": 1.0}
    assert d["splits"] == {"train": {"ratio": 1.0}} and d["qa"] == {"exclude_flagged": True}
    assert m.output_dir == tmp_path / "m-out"


def test_number_shorthand_is_fixed(tmp_path: Path) -> None:
    m = load_manifest(write_manifest(tmp_path, base(pose_sampling={"mouth": 0.5})))
    assert m.pose_sampling.params["mouth"].kind == "fixed" and m.pose_sampling.params["mouth"].value == 0.5


# ---------------------------------------------------------------- ids and discovery


def test_slug_and_id_format() -> None:
    assert chars.slugify("Gene_light") == "gene-light"
    assert chars.slugify("Hatsune Miku v2.1 (Append)") == "hatsune-miku-v2-1-append"
    assert chars.slugify("初音ミク") == "model"
    assert chars.slugify("Café") == "cafe"
    cid = chars.make_id("初音ミク", "ab" * 32)
    assert cid == "model-abababab" and chars.is_valid_id(cid)
    assert chars.make_id("初音ミク.v2", "ab" * 32) == "v2-abababab"
    assert "." not in chars.make_id("a.b.c", "0" * 64) and "/" not in chars.make_id("a/b", "0" * 64)


def test_gene_id_comes_from_its_bytes(
    tmp_path: Path, gene_pmx: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import hashlib

    sha = hashlib.sha256(gene_pmx.read_bytes()).hexdigest()
    (tmp_path / "models").mkdir()
    a = tmp_path / "models" / "Gene_light.pmx"
    shutil.copy(gene_pmx, a)
    (tmp_path / "other").mkdir()
    shutil.copy(gene_pmx, tmp_path / "other" / "Gene_light.pmx")  # the same file twice
    data = {
        "characters": [{"path": "other/Gene_light.pmx"}, {"glob": "models/*.pmx"}, {"path": str(gene_pmx)}]
    }
    with caplog.at_level(logging.WARNING):
        jobs = expand_characters(load_manifest(write_manifest(tmp_path, data)))
    assert [j.id for j in jobs] == [f"gene-light-{sha[:8]}"]
    assert jobs[0].sha256 == sha and jobs[0].model_path == tmp_path / "other" / "Gene_light.pmx"
    assert sum("same model" in r.message for r in caplog.records) == 2


def test_zip_members_get_ids_and_are_found_by_glob(tmp_path: Path, gene_pmx: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    with zipfile.ZipFile(models / "pack.zip", "w", zipfile.ZIP_STORED) as z:
        z.write(gene_pmx, "gene/Gene_light.pmx")
        z.writestr("ミク/ミク.pmx", b"another model's bytes")
        z.writestr("readme.txt", "not a model")
    jobs = expand_characters(
        load_manifest(write_manifest(tmp_path, {"characters": [{"glob": "models/**/*.zip"}]}))
    )
    by_member = {j.zip_member: j for j in jobs}
    assert set(by_member) == {"gene/Gene_light.pmx", "ミク/ミク.pmx"}
    gene = by_member["gene/Gene_light.pmx"]
    assert gene.sha256 == chars.file_sha256(gene_pmx)  # the member's bytes, as if it were loose
    assert gene.id == chars.ref_for_file(gene_pmx).id
    assert by_member["ミク/ミク.pmx"].id.startswith("pack-")  # no ASCII in the stem: the zip's name
    assert all(j.model_path == models / "pack.zip" for j in jobs)
    one = expand_characters(
        load_manifest(
            write_manifest(tmp_path, {"characters": [{"zip": "models/pack.zip", "member": "ミク.pmx"}]})
        )
    )
    assert [j.id for j in one] == [by_member["ミク/ミク.pmx"].id]
    # the same model loose and zipped is one character
    both = {"characters": [{"path": str(gene_pmx)}, {"zip": "models/pack.zip"}]}
    jobs = expand_characters(load_manifest(write_manifest(tmp_path, both)))
    assert sorted(j.zip_member or "" for j in jobs) == ["", "ミク/ミク.pmx"]


def test_distinct_models_sharing_an_id_get_longer_ids(caplog: pytest.LogCaptureFixture) -> None:
    a = chars.ModelRef("gene-abcdef01", "abcdef01" + "0" * 56, Path("/a/gene.pmx"))
    b = chars.ModelRef("gene-abcdef01", "abcdef01" + "1" * 56, Path("/b/gene.pmx"))
    c = chars.ModelRef("gene-abcdef01", a.sha256, Path("/c/gene.pmx"))  # a's bytes again
    with caplog.at_level(logging.WARNING):
        out = chars.dedupe([a, b, c])
    assert [r.id for r in out] == ["gene-abcdef0100000000", "gene-abcdef0111111111"]
    assert all(chars.is_valid_id(r.id) for r in out)
    assert any("same model" in r.message for r in caplog.records)


def test_missing_files_name_the_entry(tmp_path: Path) -> None:
    make_models(tmp_path / "models", ["a.pmx"])
    for entry, field in [
        ({"path": "models/nope.pmx"}, "characters[0].path"),
        ({"path": "models/a.pmx", "annotation": "a.annotation.yaml"}, "characters[0].annotation"),
        ({"path": "models/a.pmx", "rig_override": "a.thagen.yaml"}, "characters[0].rig_override"),
        ({"zip": "models/nope.zip"}, "characters[0].zip"),
    ]:
        m = load_manifest(write_manifest(tmp_path, {"characters": [entry]}))
        with pytest.raises(ConfigError, match=re.escape(f"{m.path}: {field}: no such file")):
            expand_characters(m)


def test_annotation_and_override_files(tmp_path: Path) -> None:
    a, b = make_models(tmp_path / "models", ["a.pmx", "b.pmx"])
    (tmp_path / "models" / "a.annotation.yaml").write_text("head_top: [0, 2, 0]\nchin: [0, 1, 0]\n")
    (tmp_path / "b-ann.yaml").write_text("head_top: [0, 2, 0]\nchin: [0, 1, 0]\n")
    (tmp_path / "models" / "b.thagen.yaml").write_text("roles: {}\n")
    data = {"characters": [{"path": "models/a.pmx"}, {"path": "models/b.pmx", "annotation": "b-ann.yaml"}]}
    jobs = {j.model_path.name: j for j in expand_characters(load_manifest(write_manifest(tmp_path, data)))}
    assert jobs["a.pmx"].annotation_path == tmp_path / "models" / "a.annotation.yaml"
    assert jobs["b.pmx"].annotation_path == tmp_path / "b-ann.yaml"
    assert jobs["a.pmx"].override_path is None
    assert jobs["b.pmx"].override_path == tmp_path / "models" / "b.thagen.yaml"


# ---------------------------------------------------------------- splits and pose counts


def test_ratio_splits_are_stable_when_characters_are_added() -> None:
    ratios = {"train": 0.8, "val": 0.1, "test": 0.1}
    ids = [f"char-{i:08x}" for i in range(3000)]
    first = {cid: chars.split_by_ratio(5, cid, ratios) for cid in ids[:1000]}
    more = {cid: chars.split_by_ratio(5, cid, ratios) for cid in ids}
    assert all(more[cid] == first[cid] for cid in first)
    share = {s: sum(v == s for v in more.values()) / len(more) for s in ratios}
    assert abs(share["train"] - 0.8) < 0.03 and abs(share["val"] - 0.1) < 0.02
    reseeded = {cid: chars.split_by_ratio(6, cid, ratios) for cid in ids}
    assert reseeded != more


def test_expansion_is_stable_when_adding_and_reordering(tmp_path: Path) -> None:
    make_models(tmp_path / "models", [f"m{i:02d}.pmx" for i in range(30)])
    splits = {
        "train": {"ratio": 0.6, "poses_per_character": 5},
        "val": {"ratio": 0.4, "poses_per_character": 3},
    }
    first = expand_characters(
        load_manifest(
            write_manifest(
                tmp_path,
                {
                    "characters": ["models/m00.pmx"] + [{"glob": "models/m0*.pmx"}],
                    "splits": splits,
                    "seed": 3,
                },
            )
        )
    )
    make_models(tmp_path / "models", ["m50.pmx", "m51.pmx"])
    later = expand_characters(
        load_manifest(
            write_manifest(
                tmp_path, {"characters": [{"glob": "models/*.pmx"}][::-1], "splits": splits, "seed": 3}
            )
        )
    )
    by_id = {j.id: j for j in later}
    assert len(first) == 10 and len(later) == 32
    for job in first:
        other = by_id[job.id]
        assert (other.split, other.pose_count, other.poses()) == (job.split, job.pose_count, job.poses())
    assert {j.split for j in later} == {"train", "val"}
    assert [j.split for j in later] == sorted((j.split for j in later), key=["train", "val"].index)


def test_split_totals_are_exact(tmp_path: Path) -> None:
    make_models(tmp_path / "models", [f"m{i}.pmx" for i in range(7)])
    data = {
        "characters": [{"glob": "models/*.pmx"}, {"path": "models/m3.pmx", "poses": 50}],
        "splits": {"train": {"ratio": 1, "poses": 1000}},
    }
    jobs = expand_characters(load_manifest(write_manifest(tmp_path, data)))
    counts = {j.model_path.name: j.pose_count for j in jobs}
    # m3 is found twice (the glob first): one character; the glob entry carries no pose override
    assert len(jobs) == 7 and sum(counts.values()) == 1000
    assert max(counts.values()) - min(counts.values()) <= 1
    data["characters"] = [{"path": "models/m3.pmx", "poses": 50}, {"glob": "models/*.pmx"}]
    jobs = expand_characters(load_manifest(write_manifest(tmp_path, data)))
    counts = {j.model_path.name: j.pose_count for j in jobs}
    assert counts.pop("m3.pmx") == 50 and sum(counts.values()) == 950
    assert set(counts.values()) == {158, 159}
    data["characters"][0]["poses"] = 2000
    with pytest.raises(ConfigError, match="splits.train.poses"):
        expand_characters(load_manifest(write_manifest(tmp_path, data)))


@pytest.mark.slow
def test_explicit_split_lists(tmp_path: Path) -> None:
    make_models(tmp_path / "models", [f"m{i}.pmx" for i in range(8)])
    ids = {p.name: chars.ref_for_file(p).id for p in sorted((tmp_path / "models").glob("*.pmx"))}
    data = {
        "characters": [{"glob": "models/*.pmx"}, {"path": "models/m7.pmx", "split": "test"}],
        "splits": {
            "train": {"ratio": 1, "poses_per_character": 4},
            "val": {"characters": [ids["m1.pmx"], "models/m2.pmx"], "poses": 9},
            "test": {"poses_per_character": 2},
        },
    }
    jobs = {j.model_path.name: j for j in expand_characters(load_manifest(write_manifest(tmp_path, data)))}
    assert {n for n, j in jobs.items() if j.split == "val"} == {"m1.pmx", "m2.pmx"}
    assert sum(j.pose_count for j in jobs.values() if j.split == "val") == 9
    # m7's first entry (the glob) has no split; the path entry is a duplicate, so it stays in train
    assert all(
        j.split == "train" and j.pose_count == 4 for n, j in jobs.items() if n not in ("m1.pmx", "m2.pmx")
    )
    data["characters"] = [{"path": "models/m7.pmx", "split": "test"}, {"glob": "models/*.pmx"}]
    jobs = {j.model_path.name: j for j in expand_characters(load_manifest(write_manifest(tmp_path, data)))}
    assert jobs["m7.pmx"].split == "test" and jobs["m7.pmx"].pose_count == 2
    data["splits"]["test"]["characters"] = ["models/m1.pmx"]
    with pytest.raises(ConfigError, match=r"splits\.test\.characters\[0\].*already put in split 'val'"):
        expand_characters(load_manifest(write_manifest(tmp_path, data)))


def test_characters_outside_every_split(tmp_path: Path) -> None:
    make_models(tmp_path / "models", ["a.pmx"])
    data = {"characters": [{"glob": "models/*.pmx"}], "splits": {"val": {"characters": []}}}
    with pytest.raises(ConfigError, match="in no split"):
        expand_characters(load_manifest(write_manifest(tmp_path, data)))
    data = {"characters": [{"glob": "models/none-*.pmx"}]}
    with pytest.raises(ConfigError, match="no model found"):
        expand_characters(load_manifest(write_manifest(tmp_path, data)))


def test_lighting_overrides_and_ambient(tmp_path: Path) -> None:
    make_models(tmp_path / "models", ["a.pmx", "b.pmx"])
    data = {
        "lighting": {"preset": "toon", "ambient": 0.4, "ambient_range": [0.5, 1.2]},
        "characters": [
            {"path": "models/a.pmx", "lighting": {"ambient_range": None, "diffuse": 0.7}},
            "models/b.pmx",
        ],
        "poses_per_character": 6,
    }
    jobs = {j.model_path.name: j for j in expand_characters(load_manifest(write_manifest(tmp_path, data)))}
    a, b = jobs["a.pmx"], jobs["b.pmx"]
    assert (a.lighting.preset, a.lighting.ambient, a.lighting.diffuse, a.lighting.ambient_range) == (
        "toon",
        0.4,
        0.7,
        None,
    )
    assert b.lighting.ambient_range == (0.5, 1.2)
    assert "ambient" not in a.poses()[0]
    amb = [p["ambient"] for p in b.poses()]
    assert len(amb) == 6 and all(0.5 <= v <= 1.2 for v in amb) and len(set(amb)) == 6


def test_qa_flagged_characters_are_excluded(tmp_path: Path) -> None:
    make_models(tmp_path / "models", [f"m{i}.pmx" for i in range(4)])
    data = {"characters": [{"glob": "models/*.pmx"}], "splits": {"train": {"ratio": 1, "poses": 12}}}
    all_jobs = expand_characters(load_manifest(write_manifest(tmp_path, data)))
    flagged = {all_jobs[0].id}
    data["qa"] = {"exclude_flagged": False}
    kept = expand_characters(load_manifest(write_manifest(tmp_path, data)), flagged=flagged)
    assert len(kept) == 4
    del data["qa"]  # exclude_flagged defaults to true
    kept = expand_characters(load_manifest(write_manifest(tmp_path, data)), flagged=flagged)
    assert [j.id for j in kept] == [j.id for j in all_jobs[1:]]
    assert sum(j.pose_count for j in kept) == 12


def test_jobs_carry_the_run_settings(tmp_path: Path) -> None:
    make_models(tmp_path / "models", ["a.pmx"])
    data = {
        "seed": 42,
        "output": "/tmp/thagen-abs-out",
        "image_size": 512,
        "render": {"device": "gpu", "samples": 16},
        "rest_pose": "tha2",
        "shard_size": 3,
        "poses_per_character": 7,
        "characters": ["models/a.pmx"],
    }
    (job,) = expand_characters(load_manifest(write_manifest(tmp_path, data)))
    assert (job.image_size, job.render.device, job.render.samples, job.seed) == (512, "gpu", 16, 42)
    assert job.rest_pose["mouth"] == 0.0 and job.output_dir == Path("/tmp/thagen-abs-out")
    assert [len(r) for r in job.shard_ranges()] == [3, 3, 1] and job.shard_count == 3
    assert "characters[0]" in job.source


@pytest.mark.parametrize("vector", ["tha2", "tha3"])
def test_explicit_extended_rest_pose_expands(tmp_path: Path, vector: str) -> None:
    # an explicit rest pose of an extended vector names its own parameters (mouth_aaa), which
    # THA1's rest pose does not know: expansion once resolved it as THA1's and failed
    data = {"seed": 5, "pose_vector": vector, "rest_pose": {"mouth_aaa": 0.5, "head_x": -0.25}}
    data |= {"poses_per_character": 2, "characters": [{"builtin": True}]}
    (job,) = expand_characters(load_manifest(write_manifest(tmp_path, data)))
    assert job.rest_pose["mouth_aaa"] == 0.5 and job.rest_pose["head_x"] == -0.25
    assert set(job.rest_pose) == set(job.poses()[0]) - {"ambient"}


def test_schema_yaml_lists_the_same_fields_as_the_code() -> None:
    from thagen.render import manifest as mf

    schema = yaml.safe_load((MANIFESTS / "schema.yaml").read_text(encoding="utf-8"))
    defs = schema["$defs"]
    assert set(schema["properties"]) == set(mf.TOP_KEYS)
    assert set(schema["properties"]["render"]["properties"]) == set(mf.RENDER_KEYS)
    assert set(schema["properties"]["qa"]["properties"]) == set(mf.QA_KEYS)
    assert set(defs["lighting"]["properties"]) == set(mf.LIGHTING_KEYS)
    assert set(defs["character"]["properties"]) == set(mf.CHARACTER_KEYS)
    assert set(defs["split"]["properties"]) == set(mf.SPLIT_KEYS)
    all_dist_keys = set().union(*map(set, mf.DIST_KEYS.values()))
    assert set(defs["expression_dist"]["oneOf"][1]["properties"]) == all_dist_keys
    assert set(defs["rotation_dist"]["oneOf"][1]["properties"]) == all_dist_keys - {"snap"}
    assert set(defs["lighting"]["properties"]["preset"]["enum"]) == set(mf.LIGHTING_PRESETS)
    assert schema["properties"]["render"]["properties"]["samples"]["default"] == mf.RenderSettings().samples
