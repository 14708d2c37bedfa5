"""The one-node Slurm cluster fixture itself: a real array job and a dependent job run in order."""

from __future__ import annotations

from pathlib import Path

from slurm_cluster import SlurmCluster, parse_job_line

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
