"""`thagen render` with a THA2 parameter override: the manifest's `rig_override` makes Gene
usable where a required parameter was missing, and a malformed override fails only its own
character, with a one-line message naming the file, line and key. 64 px, 1 sample, 1 pose."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import yaml

from thagen.pose_vectors import pose_vector_def
from thagen.render.character import RunSettings
from thagen.render.manifest import expand_characters, load_manifest
from thagen.render.output.shards import iter_shard
from thagen.render.run.runner import JOURNAL, read_jsonl, run_jobs

pytestmark = pytest.mark.slow  # real renders

NAMES = pose_vector_def("tha2").names


def test_render_uses_the_override_and_a_bad_one_fails_only_its_character(
    tmp_path: Path, gene_pmx: Path
) -> None:
    (tmp_path / "gene.thagen.yaml").write_text(
        "params:\n  eye_relaxed_left: eye_downcast_geo_L\n  eye_relaxed_right: eye_downcast_geo_R\n",
        encoding="utf-8",
    )
    (tmp_path / "bad.thagen.yaml").write_text("params:\n  mouth_delta: nosuchmorph\n", encoding="utf-8")
    data = {
        "seed": 0,
        "output": "out",
        "image_size": 64,
        "render": {"samples": 1},
        "pose_vector": "tha2",
        "poses_per_character": 1,
        "required_parameters": ["eye_relaxed_left", "eye_relaxed_right"],  # Gene lacks them alone
        "characters": [
            {"builtin": True, "rig_override": "bad.thagen.yaml"},
            {"path": str(gene_pmx), "rig_override": "gene.thagen.yaml"},
        ],
    }
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    m = load_manifest(path)
    jobs = expand_characters(m)
    summary = run_jobs(
        jobs,
        m.output_dir,
        RunSettings.from_manifest(m, qa=False),
        manifest_dict=m.to_dict(),
        progress_stream=io.StringIO(),
    )
    assert summary.done == 1 and summary.failed == 1
    failure = read_jsonl(m.output_dir / "failures.jsonl")[0]
    assert failure["stage"] == "rig" and "\n" not in failure["message"]
    assert (
        f"{tmp_path / 'bad.thagen.yaml'}:2: params.mouth_delta: morph: no morph named" in failure["message"]
    )
    (rec,) = read_jsonl(m.output_dir / JOURNAL)
    (sample,) = [s for rel in rec["shards"] for s in iter_shard(m.output_dir / rel)]
    vec = json.loads(sample["pose.json"])["vector"]
    avail = dict(zip(NAMES, vec["availability"]))
    assert avail["eye_relaxed_left"] == avail["eye_relaxed_right"] == "exact"
    assert avail["mouth_delta"] == "missing"
    report = json.loads((m.output_dir / "characters" / rec["id"] / "rig_report.json").read_text())
    params = report["rig"]["extended"]["params"]
    assert params["eye_relaxed_left"]["method"] == "override"
    assert params["eye_relaxed_left"]["morph"] == "eye_downcast_geo_L"
