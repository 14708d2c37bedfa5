"""The one-node Slurm cluster fixture itself: a real array job and a dependent job run in order."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from slurm_cluster import SlurmCluster, parse_job_line
from slurm_processes import clean_leftovers, cmdline, processes_of

pytestmark = pytest.mark.slow  # a real Slurm cluster

TASK_SCRIPT = """#!/bin/bash
set -eu
sleep 1
echo "$SLURM_ARRAY_TASK_ID $SLURM_ARRAY_TASK_COUNT $SLURM_ARRAY_JOB_ID" > "task-$SLURM_ARRAY_TASK_ID.txt"
"""

# Fails (and so the test fails) if it ran before both array tasks had written their files.
AFTER_SCRIPT = """#!/bin/bash
set -eu
cat task-0.txt task-1.txt > after.txt
"""


def test_array_then_dependent_job(slurm: SlurmCluster, tmp_path: Path) -> None:
    (tmp_path / "task.sh").write_text(TASK_SCRIPT)
    (tmp_path / "after.sh").write_text(AFTER_SCRIPT)
    logs = f"--output={tmp_path}/%x_%A_%a.log"
    array_id = slurm.sbatch(
        "--array=0-1", "--cpus-per-task=1", "--job-name=task", logs, "task.sh", cwd=tmp_path
    )
    after_id = slurm.sbatch(
        f"--dependency=afterok:{array_id}", "--job-name=after", logs, "after.sh", cwd=tmp_path
    )
    records = slurm.wait([array_id, after_id], timeout=60)

    tasks = records[array_id]
    assert sorted(r.array_task_id for r in tasks) == ["0", "1"]
    assert {r.state for r in tasks} == {"COMPLETED"}
    (after,) = records[after_id]
    assert after.state == "COMPLETED", slurm.diagnostics()
    assert after.fields["Dependency"] == "(null)"  # met and cleared, not pending
    # the dependent job started only when the last task had ended
    assert after.fields["StartTime"] >= max(r.fields["EndTime"] for r in tasks)

    for task_id in (0, 1):
        line = (tmp_path / f"task-{task_id}.txt").read_text().split()
        assert line == [str(task_id), "2", array_id]
    assert (tmp_path / "after.txt").read_text().splitlines() == [f"0 2 {array_id}", f"1 2 {array_id}"]


def test_the_node_is_back_to_idle_and_has_every_cpu(slurm: SlurmCluster) -> None:
    proc = slurm.command("sinfo", "-h", "-N", "-o", "%N %c %t %P")
    assert proc.stdout.split() == [slurm.node, str(slurm.cpus), "idle", f"{slurm.partition}*"]


def test_parse_job_line_reads_array_fields() -> None:
    line = (
        "JobId=12 ArrayJobId=11 ArrayTaskId=1 JobName=x JobState=RUNNING Reason=None "
        "Dependency=(null) Requeue=1 Restarts=2 ExitCode=0:0 Command=/a b/c.sh"
    )
    rec = parse_job_line(line)
    assert (rec.job_id, rec.array_job_id, rec.array_task_id) == ("12", "11", "1")
    assert (rec.state, rec.restarts, rec.exit_code, rec.finished) == ("RUNNING", 2, "0:0", False)


CRASHING_SESSION = """
import os, signal, sys, time
from pathlib import Path
sys.path.insert(0, {tests!r})
from slurm_cluster import slurm_cluster
with slurm_cluster(parent=Path(sys.argv[1])) as cluster:
    job = cluster.sbatch("--output=/dev/null", "--wrap", "sleep 300")
    while cluster.jobs(job)[0].state != "RUNNING":
        time.sleep(0.1)
    print(cluster.root, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # no clean-up runs
"""


def test_a_crashed_sessions_cluster_is_cleaned_up_and_a_live_one_kept(slurm: SlurmCluster) -> None:
    # its own parent folder (not named like a cluster), so only that cluster is in it
    parent = Path(tempfile.mkdtemp(prefix="thagen-crash-", dir="/tmp"))
    parent.chmod(0o755)  # munged runs as user munge
    try:
        script = CRASHING_SESSION.format(tests=str(Path(__file__).parents[1]))
        proc = subprocess.run(
            [sys.executable, "-c", script, str(parent)], capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == -9, proc.stderr
        root = Path(proc.stdout.strip())
        deadline = time.monotonic() + 20
        while b"sleep" not in (names := b" ".join(cmdline(pid) for pid in processes_of(root))):
            assert time.monotonic() < deadline, names  # the job script starts a moment after RUNNING
            time.sleep(0.1)
        for part in (b"munged", b"slurmctld", b"slurmd", b"sleep"):
            assert part in names, names  # the daemons and the running job outlived their session

        assert clean_leftovers(parent) == [root]
        assert processes_of(root) == [] and not root.exists()
    finally:
        clean_leftovers(parent)
        parent.rmdir()
    # a cluster whose session is alive (this one's) is never taken for a leftover
    assert slurm.root not in clean_leftovers(slurm.root.parent)
    assert slurm.node_state() == "idle"


def test_requeue_starts_a_killed_task_again(slurm: SlurmCluster, tmp_path: Path) -> None:
    """The helper the farm's requeue test uses: a running array task is killed, started again
    soon (not after Slurm's half-minute hold) and then completes; so does the other one."""
    script = tmp_path / "attempt.sh"
    script.write_text(
        '#!/bin/bash\necho "$SLURM_RESTART_COUNT" >> "attempts-$SLURM_ARRAY_TASK_ID.txt"\nsleep 2\n'
    )
    array_id = slurm.sbatch(
        "--array=0-1", "--cpus-per-task=1", "--output=/dev/null", str(script), cwd=tmp_path
    )
    deadline = time.monotonic() + 30
    while not all((tmp_path / f"attempts-{k}.txt").exists() for k in (0, 1)):
        assert time.monotonic() < deadline, slurm.diagnostics()
        time.sleep(0.05)
    started = time.monotonic()
    slurm.requeue(array_id)
    tasks = slurm.wait([array_id], timeout=60)[array_id]
    assert [(r.state, r.restarts) for r in tasks] == [("COMPLETED", 1)] * 2, slurm.diagnostics()
    assert time.monotonic() - started < 20  # Slurm alone would hold them for about 27 s
    for k in (0, 1):  # SLURM_RESTART_COUNT is unset on the first attempt, 1 on the second
        assert (tmp_path / f"attempts-{k}.txt").read_text().splitlines() == ["", "1"]
