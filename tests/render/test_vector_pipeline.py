"""`pose_vector: tha3` end to end: the built-in character and Gene rendered into shards whose
records carry the 45 named parameters and the availability mask; the THA1 trainer's reader
still reads its six from them. Tiny images (64 px, 1 sample), 2 poses per character."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from thagen.pose_vectors import pose_vector_def
from thagen.render.character import RunSettings
from thagen.render.character.qa_checks import changed_mask, decode_png
from thagen.render.manifest import expand_characters, load_manifest
from thagen.render.output.shards import POSE_NAMES, iter_shard
from thagen.render.run.runner import JOURNAL, read_jsonl, run_jobs

pytestmark = pytest.mark.slow  # real renders

NAMES = pose_vector_def("tha3").names


@pytest.fixture(scope="module")
def tha3_run(tmp_path_factory: pytest.TempPathFactory, gene_pmx: Path):
    tmp = tmp_path_factory.mktemp("tha3")
    data = {
        "seed": 3,
        "output": "out",
        "image_size": 64,
        "render": {"samples": 1},
        "pose_vector": "tha3",
        "poses_per_character": 2,
        "shard_size": 2,
        "required_parameters": ["eye_wink_left", "mouth_aaa"],
        "images": "tha3_stages",
        "characters": [{"builtin": True}, {"path": str(gene_pmx)}],
    }
    path = tmp / "m.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    m = load_manifest(path)
    jobs = expand_characters(m)
    summary = run_jobs(
        jobs,
        m.output_dir,
        RunSettings.from_manifest(m),
        manifest_dict=m.to_dict(),
        progress_stream=io.StringIO(),
    )
    return m, jobs, m.output_dir, summary


def test_tha3_records_carry_the_named_vector_and_mask(tha3_run) -> None:
    m, jobs, out, summary = tha3_run
    assert summary.done == 2 and summary.failed == 0
    missing_by_model = {}
    for rec in read_jsonl(out / JOURNAL):
        job = next(j for j in jobs if j.id == rec["id"])
        expected = job.poses()
        samples = [s for rel in rec["shards"] for s in iter_shard(out / rel)]
        assert len(samples) == 2
        for i, s in enumerate(samples):
            pose = json.loads(s["pose.json"])
            vec = pose["vector"]
            assert vec["name"] == "tha3" and vec["names"] == list(NAMES) and len(vec["values"]) == 45
            assert len(vec["available"]) == 45 and len(vec["rest_values"]) == 45
            missing = [n for n, a in zip(NAMES, vec["available"]) if not a]
            missing_by_model[job.id] = missing
            for n, v, a in zip(NAMES, vec["values"], vec["available"]):
                assert v == (expected[i][n] if a else 0.0), n  # a missing parameter is always 0
            # THA1's six are the matching parameters, so the THA1 trainer reads extended data
            assert pose["pose"] == {k: expected[i][k] for k in POSE_NAMES}
            assert pose["pose"]["left_eye"] == vec["values"][NAMES.index("eye_wink_left")]
            assert changed_mask(decode_png(s["expr.png"]), decode_png(s["rot.png"])).sum() > 0
            # tha3_stages: the eyebrow stage and the face (no body) stage come with every sample
            brows = sum(v for n, v in zip(NAMES, vec["values"]) if n.startswith("eyebrow_"))
            eyebrow_changed = changed_mask(decode_png(s["rest.png"]), decode_png(s["eyebrow.png"])).sum()
            assert (eyebrow_changed > 0) == (brows > 0.05), (brows, eyebrow_changed)
            body = abs(vec["values"][NAMES.index("body_y")]) + abs(vec["values"][NAMES.index("body_z")])
            assert (changed_mask(decode_png(s["face.png"]), decode_png(s["rot.png"])).sum() > 0) == (
                body > 0.05
            )
        report = json.loads((out / "characters" / job.id / "rig_report.json").read_text())
        assert set(report["rig"]["extended"]["params"]) == set(NAMES)  # (the file sorts keys)
    by_name = {("builtin" if j.builtin else "gene"): missing_by_model[j.id] for j in jobs}
    ds = yaml.safe_load((out / "dataset.yaml").read_text())
    # rest + (expr, rot, eyebrow, face, eyebrow_layer, face_no_eyebrow) x 2
    assert ds["splits"]["train"]["images"] == 2 * (1 + 6 * 2)
    assert ds["manifest"]["images"] == "tha3_stages"
    assert by_name == {
        "builtin": ["mouth_delta"],
        "gene": ["eye_relaxed_left", "eye_relaxed_right", "mouth_delta"],
    }


def test_the_tha1_trainer_reads_its_six_from_tha3_shards(tha3_run) -> None:
    from thagen.train.data import parse_pose

    _, _, out, _ = tha3_run
    shard = sorted((out / "train").glob("*.tar"))[0]
    sample = next(iter_shard(shard))
    vec, character = parse_pose(sample["pose.json"], str(shard))
    assert vec.shape == (6,) and character in shard.name
    rec = json.loads(sample["pose.json"])
    np.testing.assert_allclose(vec, [rec["pose"][n] for n in POSE_NAMES], rtol=1e-6)


def test_a_required_parameter_the_model_lacks_fails_only_that_character(
    tmp_path: Path, gene_pmx: Path
) -> None:
    data = {
        "seed": 0,
        "output": "out",
        "image_size": 64,
        "render": {"samples": 1},
        "pose_vector": "tha2",
        "poses_per_character": 1,
        "required_parameters": ["eye_relaxed_left"],  # Gene has no relaxed eyes; the built-in has
        "characters": [{"builtin": True}, {"path": str(gene_pmx)}],
    }
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    m = load_manifest(path)
    summary = run_jobs(
        expand_characters(m),
        m.output_dir,
        RunSettings.from_manifest(m, qa=False),
        manifest_dict=m.to_dict(),
        progress_stream=io.StringIO(),
    )
    assert summary.done == 1 and summary.failed == 1
    failures = read_jsonl(m.output_dir / "failures.jsonl")
    assert len(failures) == 1 and failures[0]["stage"] == "rig"
    assert "eye_relaxed_left" in failures[0]["message"]


def test_resume_refuses_another_pose_vector(tmp_path: Path) -> None:
    from thagen.errors import ConfigError
    from thagen.render.run.runner import DATASET_YAML, check_same_settings

    out = tmp_path / "out"
    out.mkdir()
    (out / DATASET_YAML).write_text(yaml.safe_dump({"manifest": {"seed": 0, "pose_vector": "tha2"}}))
    with pytest.raises(ConfigError, match="pose_vector"):
        check_same_settings(out, {"seed": 0, "pose_vector": "tha3"})
    with pytest.raises(ConfigError, match="pose_vector"):
        check_same_settings(out, {"seed": 0})  # a THA1 manifest into a THA2 output
    check_same_settings(out, {"seed": 0, "pose_vector": "tha2"})
