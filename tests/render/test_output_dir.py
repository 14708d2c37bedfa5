"""A bad output folder is one line naming the field and the reason, before any render starts."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from thagen.cli import main

MANIFEST = """version: 1
name: bad-output
seed: 0
output: {output}
image_size: 64
characters:
  - builtin: true
splits:
  train: {{ratio: 1, poses_per_character: 1}}
"""


def _render(capsys: pytest.CaptureFixture[str], tmp_path: Path, output: str) -> tuple[int, str]:
    m = tmp_path / "m.yaml"
    m.write_text(MANIFEST.format(output=output), encoding="utf-8")
    with pytest.raises(SystemExit) as exit_info:
        main(["render", str(m)])
    err = capsys.readouterr().err.strip()
    return int(exit_info.value.code or 0), err


def test_a_virtual_file_system(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, err = _render(capsys, tmp_path, "/proc/forbidden")
    assert code == 1 and len(err.splitlines()) == 1
    assert "m.yaml: output: cannot write to /proc/forbidden" in err and "Errno" not in err


def test_a_parent_that_is_a_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    code, err = _render(capsys, tmp_path, str(tmp_path / "afile" / "out"))
    assert code == 1 and "output:" in err and f"{tmp_path / 'afile'} is a file, not a folder" in err


def test_the_output_is_a_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "out").write_text("x")
    code, err = _render(capsys, tmp_path, str(tmp_path / "out"))
    assert code == 1 and f"output: {tmp_path / 'out'} is a file, not a folder" in err


def test_a_folder_that_refuses_writes(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Mode 0500 stops a user; root ignores mode bits, so as root the folder is made immutable."""
    ro = tmp_path / "ro"
    ro.mkdir()
    as_root = os.geteuid() == 0
    if as_root:
        subprocess.run(["chattr", "+i", str(ro)], check=True, capture_output=True)
    else:
        ro.chmod(0o500)
    try:
        code, err = _render(capsys, tmp_path, str(ro / "x"))
    finally:
        if as_root:
            subprocess.run(["chattr", "-i", str(ro)], check=True)
        ro.chmod(0o700)
    assert code == 1 and f"output: cannot write to {ro / 'x'}: {ro} is not writable" in err


def test_render_one_names_the_option(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["render-one", "builtin", "--out", "/proc/x"])
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 1 and err.startswith("error: --out: cannot write to /proc/x")
