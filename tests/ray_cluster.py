"""A real one-node Ray cluster made with `ray start --head` on 127.0.0.1, private to its caller.

Used by tests/farm/test_farm_ray.py and bench/farm.py to run `--backend ray --address HOST:PORT`
as a farm would. Everything it starts is private: its own temp dir, its own HOME (so Ray
2.60's token authentication writes and reads `~/.ray/auth_token` there, not in the real home)
and free ports. `ray stop` would stop every Ray on the machine (other users' too), so the
cluster is stopped by the pids of the processes whose command line names its temp dir.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

RAY = Path(sys.executable).with_name("ray")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class RayHead:
    address: str  # HOST:PORT for --address
    env: dict[str, str]  # what a client needs: the private HOME (token) and RAY_AUTH_MODE=token
    temp_dir: Path


def _pids_of(temp_dir: Path) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if str(temp_dir).encode() in (entry / "cmdline").read_bytes():
                pids.append(int(entry.name))
    return pids


def stop(temp_dir: Path, grace: float = 5.0) -> None:
    """SIGTERM every process of this cluster, then SIGKILL what is left after `grace` seconds."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = [p for p in _pids_of(temp_dir) if p != os.getpid()]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        deadline = time.monotonic() + grace
        while pids and time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in pids):
            time.sleep(0.1)


@contextlib.contextmanager
def ray_head(cpus: int = 2) -> Iterator[RayHead]:
    """`ray start --head` on 127.0.0.1 with `cpus` CPUs; stopped (by pid) on leaving."""
    # short: Ray's socket paths live under it and must stay under the 107-byte limit of AF_UNIX
    temp_dir = Path(tempfile.mkdtemp(prefix="thr-", dir="/tmp"))
    home = temp_dir / "home"
    home.mkdir()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH")}
    env.update(HOME=str(home), RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="token")
    cmd = [
        str(RAY), "start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(port),
        "--num-cpus", str(cpus), "--temp-dir", str(temp_dir / "ray"), "--include-dashboard", "false",
        "--dashboard-agent-listen-port", str(free_port()),
        "--disable-usage-stats",
    ]  # fmt: skip
    client = {k: env[k] for k in ("HOME", "RAY_USAGE_STATS_ENABLED", "RAY_AUTH_MODE")}
    try:
        # token authentication, as README tells a farm to set it up: a token in HOME/.ray/
        token = [str(RAY), "get-auth-token", "--generate"]
        subprocess.run(token, capture_output=True, text=True, env=env, timeout=60, check=True)
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
        if proc.returncode != 0:
            raise RuntimeError(
                f"ray start failed ({proc.returncode}):\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}"
            )
        yield RayHead(f"127.0.0.1:{port}", client, temp_dir)
    finally:
        stop(temp_dir)
        subprocess.run(["rm", "-rf", str(temp_dir)], check=False)
