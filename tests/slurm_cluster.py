"""A real one-node Slurm cluster (munged, slurmctld, slurmd from Debian's slurm-wlm) for tests.

`slurm_cluster()` is a context manager and `slurm` a session-scoped pytest fixture (registered in
tests/conftest.py). As root it makes a private folder `/tmp/thagen-slurm-XXXX` holding everything
the cluster owns: a fresh munge key, munged's socket / pid / log / seed files, slurm.conf, the
controller's state, slurmd's spool, pid files and logs. Nothing under /etc, /run or /var is used,
so it cannot clash with a system cluster or with another test session's cluster; the two Slurm
ports are picked free at run time. Slurm commands reach it through SLURM_CONF (`cluster.env`).

Why these slurm.conf choices (they are what runs in a container without systemd or cgroup
delegation): SlurmUser=root (no slurm account needed), proctrack/linuxproc and task/none (no
cgroups), jobacct_gather/none and accounting_storage/none (no slurmdbd), select/cons_tres with
CR_Core (cores are the consumable; memory is not tracked, so jobs need no --mem). cred_expire is
short because Slurm holds a requeued job back for that long before it may start again.

Stopping cancels every job, stops the daemons by their pid files and then kills any process
still carrying the cluster's SLURM_CONF in its environment (job scripts, slurmstepd). A cluster
left behind by a crashed session (its owner process gone) is cleaned up the same way before a
new one starts. Not root, or slurm-wlm / munge not installed: the fixture skips with the reason.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from slurm_processes import OWNER_FILE, PREFIX, alive, clean_leftovers, pid_from, start_time, stop_cluster

DAEMON_PATH = "/usr/sbin:/sbin:/usr/bin:/bin"
PORT_ATTEMPTS = 3
REQUEUE_DELAY = 2  # seconds between a requeue and the task's new start (see requeue)
PROGRAMS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo", "scontrol", "scancel")
TERMINAL_STATES = frozenset(
    {
        "COMPLETED",
        "FAILED",
        "CANCELLED",
        "TIMEOUT",
        "NODE_FAIL",
        "PREEMPTED",
        "OUT_OF_MEMORY",
        "BOOT_FAIL",
        "DEADLINE",
    }
)


class SlurmClusterError(RuntimeError):
    """The cluster did not come up, or a job did not finish in time (message has the log tails)."""


@dataclass(frozen=True)
class JobRecord:
    """One line of `scontrol show job -o`: a plain job, or one task of an array."""

    job_id: str
    array_job_id: str
    array_task_id: str
    state: str
    exit_code: str
    reason: str
    restarts: int
    fields: dict[str, str] = field(repr=False)

    @property
    def finished(self) -> bool:
        return self.state in TERMINAL_STATES


@dataclass(frozen=True)
class SlurmCluster:
    """A running one-node cluster; `env` points Slurm's commands at it."""

    root: Path
    conf: Path
    node: str
    partition: str
    cpus: int
    env: dict[str, str]

    def command(
        self,
        *args: str,
        check: bool = True,
        timeout: float = 30,
        cwd: Path | None = None,
        extra_env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run one command (sbatch, squeue, a submit script, ...) against this cluster."""
        proc = subprocess.run(
            list(args),
            env={**self.env, **(extra_env or {})},
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise SlurmClusterError(
                f"{' '.join(args)} exited {proc.returncode}: {proc.stderr.strip() or proc.stdout.strip()}"
            )
        return proc

    def sbatch(self, *args: str, cwd: Path | None = None) -> str:
        """Submit with `sbatch --parsable ARGS`; returns the job id (of the array, for an array)."""
        out = self.command("sbatch", "--parsable", *args, cwd=cwd).stdout.strip()
        return out.split(";", 1)[0]

    def jobs(self, job_id: str) -> list[JobRecord]:
        """Every record Slurm still holds for JOB_ID (an array gives one per task, pending ones merged)."""
        proc = self.command("scontrol", "show", "job", "-o", job_id, check=False)
        if proc.returncode != 0:
            raise SlurmClusterError(f"scontrol show job {job_id}: {proc.stderr.strip()}")
        return [parse_job_line(line) for line in proc.stdout.splitlines() if line.startswith("JobId=")]

    def wait(self, job_ids: Sequence[str], timeout: float = 120) -> dict[str, list[JobRecord]]:
        """Wait until every job (all tasks of an array) reached a final state; returns their records.

        A job whose dependency can never be met fails at once rather than waiting out the timeout.
        """
        deadline = time.monotonic() + timeout
        while True:
            records = {job_id: self.jobs(job_id) for job_id in job_ids}
            if all(recs and all(r.finished for r in recs) for recs in records.values()):
                return records
            never = [r for recs in records.values() for r in recs if "DependencyNeverSatisfied" in r.reason]
            if never:
                raise SlurmClusterError(f"dependency never satisfied: {never[0]}\n{self.diagnostics()}")
            if time.monotonic() > deadline:
                raise SlurmClusterError(
                    f"jobs {', '.join(job_ids)} not finished after {timeout:.0f} s: "
                    f"{[(r.job_id, r.state, r.reason) for recs in records.values() for r in recs]}\n"
                    f"{self.diagnostics()}"
                )
            time.sleep(0.5)

    def requeue(self, job_id: str, timeout: float = 60) -> None:
        """`scontrol requeue JOB_ID` (every task of an array), as preemption would, and let the
        tasks start again soon. Slurm holds a requeued job back (Reason=BeginTime) for
        cred_expire + about 17 s, which only slows a test down. A task started again within the
        second it was killed is refused, though ("Job credential revoked": a credential's time
        has whole seconds), so the tasks are released REQUEUE_DELAY seconds after they were
        all stopped and held; the release itself makes the scheduler run at once."""
        self.command("scontrol", "requeue", job_id)
        deadline = time.monotonic() + timeout
        while not (
            (records := self.jobs(job_id))
            and all(r.state == "PENDING" and r.reason == "BeginTime" for r in records)
        ):
            if time.monotonic() > deadline:
                raise SlurmClusterError(
                    f"requeued {job_id}: its tasks not all held after {timeout:.0f} s: {records}\n"
                    f"{self.diagnostics()}"
                )
            time.sleep(0.1)
        time.sleep(REQUEUE_DELAY)
        for rec in records:
            self.command("scontrol", "update", f"JobId={rec.job_id}", "StartTime=now")

    def node_state(self) -> str:
        try:
            proc = self.command("sinfo", "-h", "-N", "-n", self.node, "-o", "%t", check=False, timeout=5)
        except subprocess.TimeoutExpired:
            return "(sinfo got no answer in 5 s)"
        return proc.stdout.strip() if proc.returncode == 0 else f"(sinfo: {proc.stderr.strip()})"

    def diagnostics(self, lines: int = 25) -> str:
        """squeue and the tail of every daemon log: what a failure message needs."""
        queue = self.command("squeue", "-a", check=False, timeout=10)
        return f"squeue:\n{queue.stdout}{queue.stderr}\n{log_tails(self.root, lines)}"


def parse_job_line(line: str) -> JobRecord:
    """`scontrol show job -o` prints KEY=VALUE pairs separated by spaces; values have no spaces
    except in a few free-text fields we do not read, so a split on ' KEY=' boundaries is enough."""
    fields = dict(re.findall(r"(?:^|\s)([A-Za-z:/]+)=(\S*)", line))
    return JobRecord(
        job_id=fields.get("JobId", ""),
        array_job_id=fields.get("ArrayJobId", ""),
        array_task_id=fields.get("ArrayTaskId", ""),
        state=fields.get("JobState", ""),
        exit_code=fields.get("ExitCode", ""),
        reason=fields.get("Reason", ""),
        restarts=int(fields.get("Restarts", "0") or 0),
        fields=fields,
    )


# --------------------------------------------------------------------------- availability


def skip_reason() -> str | None:
    """Why a real cluster cannot start here, or None when it can."""
    if os.geteuid() != 0:
        return "a real Slurm cluster needs root (munged runs as user munge, slurmd as root)"
    path = f"{os.environ.get('PATH', '')}:{DAEMON_PATH}"
    missing = [p for p in PROGRAMS if shutil.which(p, path=path) is None]
    if missing:
        return f"{', '.join(missing)} not installed (apt-get install slurm-wlm munge; make test-deps)"
    try:
        pwd.getpwnam("munge")
    except KeyError:
        return "no 'munge' user (the munge package creates it)"
    return None


# --------------------------------------------------------------------------- configuration


def _free_ports(count: int) -> list[int]:
    """Ports free right now: bound together so the kernel hands out distinct ones."""
    socks = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for s in socks:
            s.bind(("", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def slurm_conf_text(root: Path, *, node: str, cpus: int, ports: tuple[int, int], partition: str) -> str:
    ctld_port, slurmd_port = ports
    return f"""# one-node test cluster, written by tests/slurm_cluster.py
ClusterName=thagentest
SlurmctldHost={node}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={root}/munge/munge.socket,cred_expire=10
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
PlugStackConfig={root}/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
ReturnToService=2
MinJobAge=600
KillWait=5
InactiveLimit=0
SlurmdTimeout=60
NodeName={node} NodeAddr=127.0.0.1 CPUs={cpus} State=UNKNOWN
PartitionName={partition} Nodes={node} Default=YES MaxTime=INFINITE State=UP
"""


def _write(path: Path, text: str | bytes, mode: int) -> None:
    data = text.encode() if isinstance(text, str) else text
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with closing(os.fdopen(fd, "wb")) as f:
        f.write(data)


def log_tails(root: Path, lines: int = 25) -> str:
    parts = []
    for name in ("munge/munged.log", "slurmctld.log", "slurmd.log"):
        path = root / name
        text = path.read_text(errors="replace").splitlines()[-lines:] if path.is_file() else ["(no log)"]
        parts.append(f"--- {name} (last {lines} lines)\n" + "\n".join(text))
    return "\n".join(parts)


def _start_munged(root: Path) -> None:
    """munged as user munge with its key, socket, pid, log and seed all in ROOT/munge."""
    munge = pwd.getpwnam("munge")
    mdir = root / "munge"
    mdir.mkdir(mode=0o755)
    os.chown(mdir, munge.pw_uid, munge.pw_gid)
    key = mdir / "munge.key"
    _write(key, os.urandom(1024), 0o400)
    os.chown(key, munge.pw_uid, munge.pw_gid)
    args = [
        shutil.which("munged", path=DAEMON_PATH) or "munged",
        f"--socket={mdir}/munge.socket",
        f"--key-file={key}",
        f"--pid-file={mdir}/munged.pid",
        f"--log-file={mdir}/munged.log",
        f"--seed-file={mdir}/munged.seed",
        "--num-threads=2",
    ]
    proc = subprocess.run(
        args, user=munge.pw_uid, group=munge.pw_gid, extra_groups=[], capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise SlurmClusterError(f"munged failed ({proc.returncode}): {proc.stderr.strip()}")
    _wait_for(lambda: (mdir / "munge.socket").exists(), 10, "munged's socket", root)


def _wait_for(ready: Callable[[], bool], timeout: float, what: str, root: Path) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise SlurmClusterError(f"{what} not ready after {timeout:.0f} s\n{log_tails(root)}")
        time.sleep(0.1)


def _start_slurm(root: Path, conf: Path, node: str, env: dict[str, str]) -> None:
    """slurmctld, then slurmd as NODE; both fork into the background and write their pid files."""
    for daemon, extra in (("slurmctld", []), ("slurmd", ["-N", node])):
        exe = shutil.which(daemon, path=DAEMON_PATH) or daemon
        proc = subprocess.run(
            [exe, "-f", str(conf), *extra], env=env, capture_output=True, text=True, timeout=30
        )
        if proc.returncode != 0:
            raise SlurmClusterError(
                f"{daemon} failed to start ({proc.returncode}): {proc.stderr.strip()}\n{log_tails(root)}"
            )


# --------------------------------------------------------------------------- the cluster


def _start(root: Path, *, partition: str, timeout: float) -> SlurmCluster:
    """Write the configuration into ROOT, start munged, slurmctld and slurmd, wait for idle."""
    root.chmod(0o755)  # munged (user munge) must reach its folder inside
    _write(root / OWNER_FILE, f"{os.getpid()} {start_time(os.getpid())}\n", 0o644)
    for sub in ("state", "spool"):
        (root / sub).mkdir(mode=0o700)
    _write(root / "plugstack.conf", "", 0o644)
    node = socket.gethostname().split(".")[0]
    cpus = len(os.sched_getaffinity(0))
    conf = root / "slurm.conf"
    ports = _free_ports(2)
    text = slurm_conf_text(root, node=node, cpus=cpus, ports=(ports[0], ports[1]), partition=partition)
    _write(conf, text, 0o644)
    env = {**os.environ, "SLURM_CONF": str(conf), "PATH": f"{os.environ.get('PATH', '')}:{DAEMON_PATH}"}
    for name in list(env):
        if name.startswith(("SLURM_", "SBATCH_", "SQUEUE_", "SINFO_", "SRUN_")) and name != "SLURM_CONF":
            del env[name]  # a test session inside a Slurm job must not pass that job's settings on
    _start_munged(root)
    _start_slurm(root, conf, node, env)
    cluster = SlurmCluster(root=root, conf=conf, node=node, partition=partition, cpus=cpus, env=env)
    deadline = time.monotonic() + timeout
    while True:
        for daemon in ("slurmctld", "slurmd"):
            pid = pid_from(root / f"{daemon}.pid")
            if pid is not None and not alive(pid):
                raise SlurmClusterError(f"{daemon} exited while starting\n{log_tails(root)}")
        if (state := cluster.node_state()) == "idle":
            return cluster
        if time.monotonic() > deadline:
            raise SlurmClusterError(
                f"node {node} is '{state}', not idle, after {timeout:.0f} s\n{log_tails(root)}"
            )
        time.sleep(0.2)


def _shutdown(root: Path, partition: str) -> None:
    """Cancel the jobs (so slurmd ends them as Slurm would), then stop everything in ROOT."""
    conf = root / "slurm.conf"
    if conf.is_file() and (root / "slurmctld.pid").is_file():
        try:
            subprocess.run(
                ["scancel", "--full", f"--partition={partition}"],
                env={
                    **os.environ,
                    "SLURM_CONF": str(conf),
                    "PATH": f"{os.environ.get('PATH', '')}:{DAEMON_PATH}",
                },
                capture_output=True,
                timeout=15,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            pass  # the controller is gone or hung: _stop kills the jobs anyway
    stop_cluster(root)


@contextmanager
def slurm_cluster(
    *, parent: Path | None = None, timeout: float = 60, partition: str = "debug"
) -> Iterator[SlurmCluster]:
    """Start a one-node cluster, yield it, and stop every daemon and job afterwards (always).

    PARENT defaults to /tmp rather than $TMPDIR: munged's socket path must stay short (a Unix
    socket path has at most 107 bytes); user munge must be able to enter it. A port taken between choosing it and a daemon binding
    it (other programs pick free ports too) means a fresh start on new ports, up to 3 times.
    """
    parent = parent or Path("/tmp")
    reason = skip_reason()
    if reason:
        raise SlurmClusterError(reason)
    clean_leftovers(parent)
    for attempt in range(1, PORT_ATTEMPTS + 1):
        root = Path(tempfile.mkdtemp(prefix=PREFIX, dir=parent))
        try:
            cluster = _start(root, partition=partition, timeout=timeout)
            break
        except BaseException as exc:
            _shutdown(root, partition)
            if attempt < PORT_ATTEMPTS and "Address already in use" in str(exc):
                continue
            raise
    try:
        yield cluster
    finally:
        _shutdown(root, partition)


@pytest.fixture(scope="session")
def slurm() -> Iterator[SlurmCluster]:
    """A real one-node Slurm cluster for the whole test session (skips where one cannot run)."""
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    with slurm_cluster() as cluster:
        yield cluster
