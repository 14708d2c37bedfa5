"""A real `thagen annotate serve` process for the API and browser tests (port 0, 127.0.0.1)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Served:
    proc: subprocess.Popen
    url: str  # as printed, with the token when there is one
    base: str  # scheme://host:port
    log: Path

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
        token: str | None = None,
    ) -> tuple[int, Any]:
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        hdrs = {"Content-Type": "application/json"} if data is not None else {}
        if token:
            hdrs["X-Thagen-Token"] = token
        hdrs.update(headers or {})
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                payload = resp.read()
                status = resp.status
                ctype = resp.headers.get("Content-Type", "")
        except urllib.error.HTTPError as exc:
            payload, status, ctype = exc.read(), exc.code, exc.headers.get("Content-Type", "")
        return status, (json.loads(payload) if "json" in ctype else payload)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(timeout=30)


def serve(models: list[str], tmp: Path, *extra: str, timeout: float = 120.0) -> Served:
    """Start the server and wait for the URL it prints."""
    log = tmp / f"serve-{time.monotonic_ns()}.log"
    cmd = [sys.executable, "-m", "thagen", "annotate", "serve", *models, "--port", "0"]
    if "--annotations" not in extra:
        cmd += ["--annotations", str(tmp / "annotations")]
    if "--cache-dir" not in extra:
        cmd += ["--cache-dir", str(tmp / "cache")]
    cmd += list(extra)
    out = open(log, "wb")  # noqa: SIM115 - the child writes it for its whole life
    proc = subprocess.Popen(
        cmd, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"}
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        m = re.search(r"open (http://\S+)", text)
        if m:
            url = m.group(1)
            return Served(proc, url, re.match(r"http://[^/]+", url).group(0), log)
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited ({proc.returncode}): {text[-2000:]}")
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"the server printed no URL in {timeout:.0f} s: {log.read_text()[-2000:]}")
