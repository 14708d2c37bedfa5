"""`--part K/N` runs side by side into one OUT, `thagen status`, `thagen merge`: the merged
dataset equals a serial run's sample for sample (keys, pose records, PNG bytes)."""

from __future__ import annotations

import hashlib
import json
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from dataset_digest import sample_digests
from farm_common import THAGEN, serial_output, thagen, write_manifest

from thagen.errors import ConfigError
from thagen.render.output.jsonl import read_jsonl
from thagen.render.output.layout import output_lock
from thagen.render.run.partition import assign_parts, parse_part

pytestmark = pytest.mark.slow  # real renders


def test_assign_parts_is_balanced_and_order_free() -> None:
    costs = {f"c{i:02d}": 1 + (i * 37) % 11 for i in range(40)}
    parts = assign_parts(costs, 4)
    assert sorted(c for p in parts for c in p) == sorted(costs)  # every character exactly once
    shuffled = dict(sorted(costs.items(), key=lambda kv: hashlib.sha256(kv[0].encode()).digest()))
    assert assign_parts(shuffled, 4) == parts
    loads = [sum(costs[c] for c in p) for p in parts]
    assert max(loads) - min(loads) <= max(costs.values())
    assert assign_parts({"a": 5, "b": 3, "c": 3}, 2) == [["a"], ["b", "c"]]


def test_parse_part() -> None:
    assert parse_part("2/5") == (2, 5)
    env = {"SLURM_ARRAY_TASK_ID": "11", "SLURM_ARRAY_TASK_MIN": "10", "SLURM_ARRAY_TASK_COUNT": "3"}
    assert parse_part("slurm", env) == (1, 3)
    for bad in ("5/5", "x/2", "3", "-1/2"):
        with pytest.raises(ConfigError, match="--part"):
            parse_part(bad)
    with pytest.raises(ConfigError, match="SLURM_ARRAY_TASK_ID"):
        parse_part("slurm", {})


@pytest.mark.slow
def test_parts_side_by_side_then_merge_equal_serial(tmp_path: Path, tmp_path_factory, gene_pmx: Path) -> None:
    serial = serial_output(tmp_path_factory.getbasetemp(), gene_pmx)
    manifest = write_manifest(tmp_path, gene_pmx)
    out = tmp_path / "farm"
    procs = [
        subprocess.Popen(
            [*THAGEN, "render", str(manifest), "--out", str(out), "--part", f"{k}/2", "--threads", "1"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for k in range(2)
    ]
    errs = [p.communicate(timeout=600)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errs
    # each part kept its own journal; none wrote the whole-manifest one
    assert not (out / "journal.jsonl").exists()
    per_part = [read_jsonl(out / f"journal-part-{k}-of-2.jsonl") for k in range(2)]
    assert sorted(len(j) for j in per_part) == [1, 1]
    # the part that finished last found everything done and merged (a merge lock keeps two apart)
    assert any("merged into" in e for e in errs), errs
    assert (out / "index.json").exists()
    (out / "index.json").unlink()

    merged = thagen("merge", str(out))
    assert merged.returncode == 0, merged.stderr + merged.stdout
    assert sample_digests(out) == sample_digests(serial)
    index = json.loads((out / "index.json").read_text())
    assert index == json.loads((serial / "index.json").read_text())
    for shard in index["shards"]:
        assert hashlib.sha256((out / shard["path"]).read_bytes()).hexdigest() == shard["sha256"]
    assert index["samples"] == 4 and len(index["shards"]) == 4
    ds, ds_serial = (yaml.safe_load((o / "dataset.yaml").read_text()) for o in (out, serial))
    assert ds["characters"] == ds_serial["characters"] and ds["splits"] == ds_serial["splits"]
    assert ds["pending"] == [] and ds["failures"] == []

    # a half-finished output: part 1 as if it had been killed before journalling anything
    half = tmp_path / "half"
    shutil.copytree(out, half)
    (half / "journal-part-1-of-2.jsonl").unlink()
    (half / "index.json").unlink()
    (missing_id,) = [r["id"] for r in per_part[1]]
    status = thagen("status", str(half))
    assert status.returncode == 0, status.stderr
    assert f"missing: {missing_id}" in status.stdout
    assert (
        "part 0/2: 1/1 done" in status.stdout and "part 1/2: 0/1 done, 0 failed, 1 missing" in status.stdout
    )
    assert "total: 1/2 done" in status.stdout and "images/s" in status.stdout and "ETA" in status.stdout
    with output_lock(half, (1, 2)):  # as a live part 1 holds it: status tells, and offers no command
        busy = thagen("status", str(half))
    assert "part 1/2 (rendering now): 0/1 done" in busy.stdout and "--part 1/2" not in busy.stdout
    refused = thagen("merge", str(half))
    assert refused.returncode != 0 and f"missing: {missing_id}" in refused.stderr
    # the command status prints finishes it
    (command,) = [line.strip() for line in status.stdout.splitlines() if line.strip().endswith("--part 1/2")]
    words = shlex.split(command)
    assert words[:2] == ["thagen", "render"]
    finish = thagen(*words[1:])
    assert finish.returncode == 0, finish.stderr
    assert (half / "index.json").exists()  # it finished the last part: merged by itself
    assert thagen("merge", str(half)).returncode == 0
    assert sample_digests(half) == sample_digests(serial)
    assert "complete" in thagen("status", str(half)).stdout


def test_locks_let_parts_run_side_by_side_only(tmp_path: Path) -> None:
    """Real flocks: two parts together, never the same part twice, never a whole run beside a part."""
    from thagen.errors import ThagenError

    with output_lock(tmp_path, (0, 2)), output_lock(tmp_path, (1, 2)):
        with pytest.raises(ThagenError, match="part 0/2 is already being rendered"):
            with output_lock(tmp_path, (0, 2)):
                pass
        with pytest.raises(ThagenError, match="another thagen render is writing here"):
            with output_lock(tmp_path, None):
                pass
    with output_lock(tmp_path, None):
        with pytest.raises(ThagenError, match="whole-manifest thagen render"):
            with output_lock(tmp_path, (1, 2)):
                pass
