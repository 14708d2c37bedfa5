"""Identity groups keep the split an output rendered them in (render/identity/pins.py), and
signing many models runs in parallel with a progress line (render/identity/sign.py).

The first test renders for real (the built-in character's variants, 64 px, one pose each); the
others write journal lines the way the runner does (append_jsonl of {"id", "split", ...}),
since only the plan is under test there.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from identity_variants import builtin_variant

from thagen.cli import cli
from thagen.errors import ConfigError
from thagen.render.discovery import characters as chars
from thagen.render.identity.plan import ref_key
from thagen.render.identity.sign import sign_models
from thagen.render.manifest import expand_characters, load_manifest
from thagen.render.manifest.splits import pin_to_output
from thagen.render.output.jsonl import append_jsonl, read_jsonl
from thagen.render.output.layout import JOURNAL
from thagen.render.run.runner import write_run_json
from thagen.render.settings import RunSettings
from thagen.rigs.formats.pmx.reader import read_pmx, write_pmx

RATIOS = {"test": 0.5, "train": 0.5}


def _manifest(folder: Path, collection: Path, **extra: object) -> Path:
    data = {
        "version": 1,
        "seed": 7,
        "output": "out",
        "image_size": 64,
        "render": {"engine": "cycles", "device": "cpu", "samples": 1},
        "characters": [{"glob": str(collection / "**" / "*.pmx")}],
        "splits": {name: {"ratio": r, "poses_per_character": 1} for name, r in RATIOS.items()},
        **extra,
    }
    path = folder / "m.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _move_model(path: Path, dest: Path) -> Path:
    """Move a variant's folder (model and textures) into the collection: its id is unchanged."""
    shutil.move(str(path.parent), str(dest))
    return dest / path.name


def _renamed(path: Path, name: str, model_name: str | None = None) -> Path:
    """The model at `path` saved under `name` beside its textures (its own bytes, its own id)."""
    model = read_pmx(path.read_bytes(), path)
    model.name = model_name or model.name
    new = path.with_name(name)
    write_pmx(model, new)
    path.unlink()
    return new


def _ids(paths: list[Path]) -> list[str]:
    return [chars.ref_for_file(p).id for p in paths]


def _growing_group(tmp_path: Path) -> tuple[Path, Path, Path, int]:
    """(collection, its one model, a later outfit of it with a smaller id outside the collection,
    a split seed under which the two ids hash to different splits)."""
    collection = tmp_path / "collection"
    collection.mkdir()
    first = builtin_variant(collection, 4, 0)
    later = _renamed(builtin_variant(tmp_path / "later", 4, 1), "a_swimsuit.pmx")
    first_id, later_id = _ids([first, later])
    assert later_id < first_id  # the new outfit would become the group's id
    seed = next(
        s
        for s in range(100)
        if chars.split_by_ratio(s, first_id, RATIOS) != chars.split_by_ratio(s, later_id, RATIOS)
    )
    return collection, first, later, seed


@pytest.mark.slow
def test_a_joining_variant_with_a_smaller_id_moves_nothing(tmp_path: Path) -> None:
    collection, first, later, seed = _growing_group(tmp_path)
    first_id, later_id = _ids([first, later])
    # a re-saved copy with JPEG re-encoded textures: a duplicate, never rendered
    copy = _renamed(builtin_variant(tmp_path / "copy", 4, 0, jpeg=True), "emiri_copy.pmx", "Emiri ver2")
    (copy_id,) = _ids([_move_model(copy, collection / "copy")])
    manifest = _manifest(tmp_path, collection, split_seed=seed)
    runner = CliRunner()
    result = runner.invoke(cli, ["render", str(manifest), "--no-qa", "--workers", "1"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "out"
    (rec,) = read_jsonl(out / JOURNAL)
    rendered_split = rec["split"]
    assert rendered_split == chars.split_by_ratio(seed, first_id, RATIOS)

    _move_model(later, collection / "later")
    # without the output's pins the grown group would hash to the other split: the old leak
    unpinned = {j.id: j.split for j in expand_characters(load_manifest(manifest))}
    assert unpinned[first_id] == unpinned[later_id] != rendered_split

    result = runner.invoke(cli, ["render", str(manifest), "--no-qa", "--workers", "1"])
    assert result.exit_code == 0, result.output
    journal = {r["id"]: r["split"] for r in read_jsonl(out / JOURNAL)}
    assert journal == {first_id: rendered_split, later_id: rendered_split}
    data = yaml.safe_load((out / "dataset.yaml").read_text(encoding="utf-8"))
    (group,) = data["identity"]["groups"].values()
    assert group["split"] == rendered_split and group["members"] == sorted([first_id, later_id])
    (listed,) = data["identity"]["duplicates"][first_id]
    assert listed.startswith(copy_id)
    assert sorted(p.name.split("-0000")[0] for p in (out / rendered_split).glob("*.tar")) == sorted(
        [first_id, later_id]
    )


def test_a_part_keeps_the_plan_of_run_json(tmp_path: Path) -> None:
    """A part starting after the collection grew keeps the groups the other parts render by
    run.json's plan; a whole-manifest run (OUT to itself) re-plans what is not rendered yet."""
    collection, first, later, seed = _growing_group(tmp_path)
    first_id, later_id = _ids([first, later])
    manifest = load_manifest(_manifest(tmp_path, collection, split_seed=seed))
    jobs = expand_characters(manifest)
    out = tmp_path / "out"
    out.mkdir()
    settings = RunSettings.from_manifest(manifest, threads=1, qa=False, cache_dir=str(out / ".cache"))
    write_run_json(
        out, jobs, settings, manifest.to_dict(), manifest_path=None, part_count=2, render_options=[]
    )
    planned = jobs[0].split
    _move_model(later, collection / "later")
    part = {j.id: j.split for j in expand_characters(pin_to_output(manifest, out, part=(1, 2)))}
    assert part == {first_id: planned, later_id: planned}
    whole = {j.id: j.split for j in expand_characters(pin_to_output(manifest, out))}
    assert whole[first_id] == whole[later_id] != planned


def _journal(out: Path, splits: dict[str, str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for cid, split in splits.items():
        append_jsonl(out / JOURNAL, {"id": cid, "split": split, "samples": 1, "shards": []})


def test_two_rendered_groups_linked_by_a_new_model_are_an_error(tmp_path: Path) -> None:
    collection = tmp_path / "collection"
    x = builtin_variant(collection, 5, 0)  # Fuuka
    y = builtin_variant(collection, 6, 0)  # Grace: another face, head and name
    manifest = _manifest(tmp_path, collection)
    before = {j.id: j.identity.group for j in expand_characters(load_manifest(manifest))}
    x_id, y_id = _ids([x, y])
    assert before[x_id] != before[y_id]
    out = tmp_path / "out"
    _journal(out, {x_id: "train", y_id: "test"})

    # Fuuka's face and head with Grace's name: evidence for both groups
    z = builtin_variant(tmp_path / "z", 5, 2)
    model = read_pmx(z.read_bytes(), z)
    model.name = "Grace 水着"
    write_pmx(model, z)
    _move_model(z, collection / "z")
    with pytest.raises(ConfigError) as err:
        expand_characters(pin_to_output(load_manifest(manifest), out))
    text = str(err.value)
    assert x_id in text and y_id in text and "'train'" in text and "'test'" in text
    assert "group file" in text and JOURNAL in text

    # the resolution the message names: a group file keeping them apart
    (tmp_path / "groups.yaml").write_text(
        f"version: 1\ngroups:\n  fuuka:\n    - {x_id}\n  grace:\n    - {y_id}\n", encoding="utf-8"
    )
    manifest = _manifest(tmp_path, collection, identity={"groups": "groups.yaml"})
    jobs = {j.id: j for j in expand_characters(pin_to_output(load_manifest(manifest), out))}
    assert jobs[x_id].split == "train" and jobs[y_id].split == "test"
    (z_id,) = set(jobs) - {x_id, y_id}
    assert jobs[z_id].identity.group in ("fuuka", "grace")
    assert jobs[z_id].split == {"fuuka": "train", "grace": "test"}[jobs[z_id].identity.group]

    # a restart clears OUT: nothing is pinned, and the three are one group again
    restarted = expand_characters(
        pin_to_output(load_manifest(_manifest(tmp_path, collection)), out, resume=False)
    )
    assert len({j.identity.group for j in restarted}) == 1


def test_a_pinned_group_against_a_split_list_is_an_error(tmp_path: Path) -> None:
    collection = tmp_path / "collection"
    x = builtin_variant(collection, 7, 0)
    (x_id,) = _ids([x])
    out = tmp_path / "out"
    _journal(out, {x_id: "train"})
    splits = {"train": {"ratio": 0.5}, "test": {"ratio": 0.5, "characters": [x_id]}}
    manifest = _manifest(tmp_path, collection, splits=splits)
    with pytest.raises(ConfigError, match=r"splits\.test\.characters\[0\] puts .* in split 'test'.*'train'"):
        expand_characters(pin_to_output(load_manifest(manifest), out))
    # on a fresh output the split list decides
    (job,) = expand_characters(pin_to_output(load_manifest(manifest), tmp_path / "fresh"))
    assert job.split == "test"
    # a split the manifest no longer has pins nothing
    gone = tmp_path / "gone"
    _journal(gone, {x_id: "val"})
    (job,) = expand_characters(pin_to_output(load_manifest(manifest), gone))
    assert job.split == "test"


def test_a_rendered_duplicate_stays_the_rendered_one(tmp_path: Path, gene_pmx: Path, gene_pmd: Path) -> None:
    collection = tmp_path / "collection"
    shutil.copytree(gene_pmx.parent / "light", collection / "light")
    pmd = collection / gene_pmd.name
    shutil.copy(gene_pmd, pmd)
    shutil.copy(gene_pmx, collection / gene_pmx.name)
    manifest = _manifest(tmp_path, collection)
    data = yaml.safe_load(manifest.read_text(encoding="utf-8"))
    data["characters"] = [{"glob": str(collection / "*.pm?")}]
    manifest.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    pmd_id, pmx_id = _ids([pmd, collection / gene_pmx.name])
    (fresh,) = expand_characters(load_manifest(manifest))
    assert fresh.id == pmx_id  # a PMX before a PMD
    out = tmp_path / "out"
    _journal(out, {pmd_id: "test"})  # the PMD alone was rendered first
    (job,) = expand_characters(pin_to_output(load_manifest(manifest), out))
    assert job.id == pmd_id and job.split == "test"
    assert len(job.identity.duplicates) == 1 and pmx_id in job.identity.duplicates[0]


@pytest.mark.slow
def test_parallel_signing_equals_serial_and_reports_progress(tmp_path: Path) -> None:
    paths = [builtin_variant(tmp_path, c, o) for c in range(3) for o in range(3)]
    refs = [chars.ref_for_file(p) for p in paths]
    todo = [(ref_key(r), r) for r in refs]
    stream = io.StringIO()
    parallel = sign_models(todo, jobs=2, stream=stream, interval=0.0)
    serial = sign_models(todo, jobs=1, stream=io.StringIO())
    assert parallel == serial and set(parallel) == {r.id for r in refs}
    assert all(not s.problem for s in parallel.values())
    lines = stream.getvalue().splitlines()
    assert "signing 9 models" in lines[0] and "2 processes" in lines[0]
    assert lines[-1].startswith(f"[thagen] identity: signed {len(refs)}/{len(refs)} models (")
    assert "models/s" in lines[-1]
