"""Finding and stopping the processes of a test Slurm cluster (tests/slurm_cluster.py).

A cluster is one folder /tmp/thagen-slurm-XXXX. Its processes are recognised by that path in
their command line (munged, slurmctld and slurmd get their files from there) or by its
slurm.conf in their environment (slurmstepd and the job scripts inherit SLURM_CONF), so they
can be found and stopped even after the session that started them crashed, and a pid reused
by an unrelated process is never killed.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Sequence
from pathlib import Path

PREFIX = "thagen-slurm-"
OWNER_FILE = "owner"  # "<pid> <start time>" of the session that owns the cluster


def start_time(pid: int) -> str | None:
    """A process's start time in clock ticks: with the pid, it names one process (pids get reused)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def processes_of(root: Path) -> list[int]:
    """Processes that belong to the cluster in ROOT: its path is in their command line (munged,
    the Slurm daemons) or its slurm.conf in their environment (slurmstepd, job scripts)."""
    marker = f"{root}/".encode()
    conf = f"SLURM_CONF={root / 'slurm.conf'}".encode()
    own = os.getpid()
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == own:
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            environ = (entry / "environ").read_bytes()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        if marker in cmdline or conf in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def kill_all(pids: Sequence[int], grace: float) -> None:
    """SIGTERM, then SIGKILL whatever is still alive after GRACE seconds."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(alive(p) for p in pids):
            time.sleep(0.05)
        if not any(alive(p) for p in pids):
            return


def pid_from(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return None


def stop_cluster(root: Path, *, grace: float = 5.0) -> None:
    """Stop everything the cluster in ROOT runs: daemons by pid file, then every other process
    that still belongs to it; the folder is removed afterwards."""
    daemons = [pid_from(root / name) for name in ("slurmd.pid", "slurmctld.pid", "munge/munged.pid")]
    kill_all([p for p in daemons if p and alive(p) and f"{root}/".encode() in cmdline(p)], grace)
    # what is left belongs to jobs whose daemons are gone: a short grace only
    kill_all(processes_of(root), min(grace, 0.5))
    shutil.rmtree(root, ignore_errors=True)


def cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return b""


def clean_leftovers(parent: Path) -> list[Path]:
    """Stop and remove clusters whose owning process is gone (a crashed or killed test session).
    A cluster whose owner still runs (another session at the same time) is left alone."""
    cleaned: list[Path] = []
    for root in sorted(parent.glob(f"{PREFIX}*")):
        owner = (root / OWNER_FILE).read_text().split() if (root / OWNER_FILE).is_file() else []
        if len(owner) == 2 and owner[0].isdigit() and start_time(int(owner[0])) == owner[1]:
            continue
        if not owner and time.time() - root.stat().st_mtime < 60:
            continue  # another session is creating it right now
        stop_cluster(root)
        cleaned.append(root)
    return cleaned
