"""examples/slurm on a real one-node Slurm cluster: the parts of a job array plus the merge job
make the same dataset as one serial `thagen render` (keys, pose records, PNG bytes), every
sample exactly once, also when Slurm requeues the running parts in the middle of a render."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest
import yaml
from slurm_cluster import JobRecord, SlurmCluster

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "slurm"
THAGEN = Path(sys.executable).with_name("thagen")
PARTS = 2

pytestmark = pytest.mark.slow  # real renders

# split -> sample key -> member ("rest.png", "pose.json", ...) -> sha256 (images) or the record (json)
Digest = dict[str, dict[str, dict[str, object]]]


def farm_cli_missing() -> str | None:
    """The Slurm example needs `render --part` and `merge` (the farm branch); None when present."""
    render = subprocess.run([str(THAGEN), "render", "--help"], capture_output=True, text=True)
    if "--part" not in render.stdout:
        return "thagen render has no --part yet (farm branch not merged)"
    merge = subprocess.run([str(THAGEN), "merge", "--help"], capture_output=True, text=True)
    if merge.returncode != 0:
        return "thagen has no merge command yet (farm branch not merged)"
    return None


@pytest.fixture(scope="module")
def farm_cli() -> None:
    reason = farm_cli_missing()
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory, gene_pmx: Path) -> Path:
    """The built-in character and Gene, 2 poses each, 64 px, 1 spp, in two split folders."""
    data = {
        "version": 1,
        "seed": 11,
        "output": "out",
        "image_size": 64,
        "render": {"engine": "cycles", "device": "cpu", "samples": 1},
        "characters": [{"builtin": True, "split": "val"}, {"path": str(gene_pmx), "split": "train"}],
        "splits": {
            "train": {"ratio": 1, "poses_per_character": 2},
            "val": {"ratio": 0, "poses_per_character": 2},
        },
    }
    path = tmp_path_factory.mktemp("slurm-manifest") / "manifest.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture(scope="module")
def serial(farm_cli: None, manifest: Path, tmp_path_factory: pytest.TempPathFactory) -> Digest:
    """The reference: one plain `thagen render` of the manifest."""
    out = tmp_path_factory.mktemp("slurm-serial") / "out"
    proc = subprocess.run(
        [str(THAGEN), "render", str(manifest), "--out", str(out), "--threads", "1"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = digest(out)
    assert sorted(result) == ["train", "val"] and all(len(keys) == 2 for keys in result.values())
    return result


def digest(out: Path) -> Digest:
    """Every sample in the tar shards under OUT's split folders; a sample member seen twice fails."""
    result: Digest = {}
    for shard in sorted(out.glob("*/*.tar")):
        with tarfile.open(shard) as tar:
            for member in tar:
                if not member.isfile():
                    continue
                folder, _, base = member.name.rpartition("/")
                index, _, part = base.partition(".")
                key = f"{folder}/{index}" if folder else index
                data = tar.extractfile(member).read()
                value = json.loads(data) if part.endswith(".json") else hashlib.sha256(data).hexdigest()
                sample = result.setdefault(shard.parent.name, {}).setdefault(key, {})
                assert part not in sample, f"{key}.{part} twice (second in {shard})"
                sample[part] = value
    return result


def assert_complete(out: Path, serial: Digest) -> None:
    """Equal to the serial run, no temporary file left, index.json names every shard on disk."""
    assert digest(out) == serial
    assert not [p for p in out.rglob("*") if ".tmp-" in p.name]
    assert (out / "dataset.yaml").is_file()
    on_disk = {p.relative_to(out).as_posix(): p for p in out.glob("*/*.tar")}
    listed = index_shards(out)
    assert set(listed) == set(on_disk)
    for rel, record in listed.items():
        assert record["sha256"] == hashlib.sha256(on_disk[rel].read_bytes()).hexdigest(), rel
        assert record["samples"] == len(shard_keys(on_disk[rel])), rel


def shard_keys(shard: Path) -> set[str]:
    with tarfile.open(shard) as tar:
        return {m.name.partition(".")[0] for m in tar if m.isfile()}


def index_shards(out: Path) -> dict[str, dict[str, object]]:
    """index.json's shard records ({split, path relative to OUT, samples, sha256, ...}) by path."""
    listed: dict[str, dict[str, object]] = {}
    for record in json.loads((out / "index.json").read_text())["shards"]:
        rel = str(record["path"])
        assert rel not in listed, f"index.json lists {rel} twice"
        assert rel.split("/")[0] == record["split"], record
        listed[rel] = record
    return listed


def logs_of(out: Path) -> str:
    return "\n".join(
        f"--- {p.name}\n{p.read_text(errors='replace')[-2000:]}" for p in sorted(out.rglob("*.log"))
    )


def assert_all_completed(records: list[JobRecord], out: Path, slurm: SlurmCluster) -> None:
    assert {r.state for r in records} == {"COMPLETED"}, f"{records}\n{logs_of(out)}\n{slurm.diagnostics()}"


def test_submit_array_and_merge_equal_a_serial_render(
    slurm: SlurmCluster, serial: Digest, manifest: Path, tmp_path: Path
) -> None:
    out = tmp_path / "farm"
    proc = slurm.command(
        str(EXAMPLES / "submit.sh"),
        str(manifest),
        str(out),
        str(PARTS),
        f"--cpus-per-task={slurm.cpus // PARTS or 1}",
        cwd=tmp_path,
        extra_env={"THAGEN": str(THAGEN)},
    )
    ids = dict(line.split() for line in proc.stdout.splitlines())
    assert sorted(ids) == ["merge", "render"], proc.stdout
    records = slurm.wait([ids["render"], ids["merge"]], timeout=600)

    tasks = records[ids["render"]]
    assert sorted(r.array_task_id for r in tasks) == [str(k) for k in range(PARTS)]
    assert_all_completed(tasks + records[ids["merge"]], out, slurm)
    assert_complete(out, serial)
    logs = sorted(p.name for p in (out / "slurm-logs").iterdir())
    expected = [f"thagen-render_{ids['render']}_{k}.log" for k in range(PARTS)]
    assert logs == sorted([f"thagen-merge_{ids['merge']}.log", *expected])


def test_requeued_parts_resume_and_end_complete_exactly_once(
    slurm: SlurmCluster, serial: Digest, manifest: Path, tmp_path: Path
) -> None:
    """The sbatch script directly (`--part slurm`). Once a part is in the middle of a character
    (some samples rendered, its shard not yet closed) every part is requeued, as preemption
    would; the parts start again, resume, and every sample ends up in the output exactly once."""
    out = tmp_path / "farm"
    logs = tmp_path / "logs"
    logs.mkdir()
    env = {**slurm.env, "MANIFEST": str(manifest), "OUT": str(out), "THAGEN": str(THAGEN)}
    env.pop("PARTS", None)
    submitted = subprocess.run(
        [
            "sbatch",
            "--parsable",
            f"--array=0-{PARTS - 1}",
            "--cpus-per-task=1",
            f"--output={logs}/%x_%A_%a.log",
            str(EXAMPLES / "render_array.sbatch"),
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    array_id = submitted.stdout.strip().split(";")[0]
    running = wait_for_shard_in_progress(slurm, array_id, out)
    slurm.requeue(array_id)
    tasks = slurm.wait([array_id], timeout=600)[array_id]

    assert_all_completed(tasks, logs, slurm)
    assert [r.restarts for r in tasks] == [1] * PARTS
    task_logs = [(logs / f"thagen-render_{array_id}_{k}.log").read_text() for k in range(PARTS)]
    for log in task_logs:
        assert "attempt 1" in log and "attempt 2" in log, log
    # the part caught writing its shard was killed by the requeue (not requeued after it ended)
    assert running and any("DUE TO JOB REQUEUE" in log for log in task_logs), task_logs
    merged = subprocess.run([str(THAGEN), "merge", str(out)], capture_output=True, text=True, timeout=120)
    assert merged.returncode == 0, merged.stderr
    assert_complete(out, serial)


def wait_for_shard_in_progress(
    slurm: SlurmCluster, array_id: str, out: Path, timeout: float = 300
) -> set[str]:
    """Until a part is between the first and the last sample of a character (its shard is still a
    temporary file); returns the array tasks running then. The files are polled every 10 ms,
    Slurm's job states every half second."""
    deadline = time.monotonic() + timeout
    next_check = 0.0
    while time.monotonic() < deadline:
        if any(out.glob("*/*.tmp-*")):
            return {r.array_task_id for r in slurm.jobs(array_id) if r.state == "RUNNING"}
        if time.monotonic() > next_check:
            records = slurm.jobs(array_id)
            assert {r.state for r in records} <= {"PENDING", "RUNNING", "COMPLETED"}, records
            assert not (len(records) == PARTS and all(r.finished for r in records)), (
                f"every part ended before one was seen writing a shard: {records}"
            )
            next_check = time.monotonic() + 0.5
        time.sleep(0.01)
    raise AssertionError(
        f"no part of {array_id} wrote a shard within {timeout:.0f} s: {slurm.jobs(array_id)}"
    )
