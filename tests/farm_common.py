"""The small manifest every farm test renders (built-in character + Gene, 2 poses, 64 px,
1 sample) and its serial rendering, made once per test session and shared by the farm tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

THAGEN = [sys.executable, "-m", "thagen"]
SIZE = 64


def write_manifest(directory: Path, gene_pmx: Path, *, poses: int = 2) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    data = {
        "version": 1,
        "seed": 11,
        "output": "out",
        "image_size": SIZE,
        "render": {"engine": "cycles", "device": "cpu", "samples": 1},
        "characters": [{"builtin": True}, {"path": str(gene_pmx)}],
        "splits": {"train": {"ratio": 1, "poses_per_character": poses}},
        "shard_size": 1,
    }
    path = directory / "manifest.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def thagen(
    *args: str, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*THAGEN, *args], capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}
    )


def serial_output(base: Path, gene_pmx: Path) -> Path:
    """OUT of a plain `thagen render` of the farm manifest, rendered on first use in this session."""
    out = base / "farm-serial" / "out"
    if not (out / "index.json").exists():
        manifest = write_manifest(base / "farm-serial", gene_pmx)
        proc = thagen("render", str(manifest), "--out", str(out), "--restart")
        assert proc.returncode == 0, proc.stderr
    return out
