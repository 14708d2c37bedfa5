"""`thagen train eval` prints copy-the-input beside each figure and THA1's published figures
only for runs comparable with them; the demo writes an MP4 through ffmpeg when it is there."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest
import torch

from thagen.cli import main
from thagen.train.config import config_from_dict
from thagen.train.core.video import write_mp4
from thagen.train.data.synthetic import make_dataset
from thagen.train.tha1.evaluate import tha1_comparable
from thagen.train.tha1.trainer import train_all

SIZE = 32


def cli(args: list[str]) -> int:
    try:
        main(args)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


@pytest.mark.slow
def test_eval_prints_the_copy_the_input_baseline(tmp_path: Path, capsys) -> None:
    torch.set_num_threads(1)
    data = make_dataset(tmp_path / "d", size=SIZE, characters={"train": 1, "test": 2}, per_character=3)
    raw = {"data_dir": str(data), "out_dir": str(tmp_path / "run"), "image_size": SIZE, "width": 8, "blocks": 1,
           "device": "cpu", "num_workers": 0, "log_every": 1, "checkpoint_every": 0, "sample_every": 0,
           "batch_size": 3, "epochs": None, "max_steps": 1}  # fmt: skip
    train_all(config_from_dict(raw), echo=lambda s: None)
    capsys.readouterr()
    assert cli(["train", "eval", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    full = next(line for line in out.splitlines() if "full system:" in line)
    morph = next(line for line in out.splitlines() if "morpher only:" in line)
    assert "(copy-the-input " in full and "(copy-the-input " in morph
    assert "0.0098" not in out and "not comparable with 32 px, width 8, 1 blocks" in out
    report = json.loads((tmp_path / "run" / "eval-test" / "report.json").read_text())
    base = report["full_system"]["baseline"]
    assert 0 < base["rmse"] < 1 and base["ssim"] < 1
    assert report["tha1_reported_full_system"]["comparable"] is False
    for ch in report["per_character"].values():
        assert set(ch) == {"samples", "rmse", "ssim", "baseline"}
    # copy-the-input on the full system is rest vs rot.png: an untrained-looking network is near it
    assert abs(report["full_system"]["rmse"] - base["rmse"]) < base["rmse"]


def test_tha1_figures_only_for_tha1_sized_runs() -> None:
    assert tha1_comparable(256, {"width": 64, "blocks": 6})
    assert not tha1_comparable(64, {"width": 64, "blocks": 6})
    assert not tha1_comparable(256, {"width": 8, "blocks": 2})


def test_mp4_goes_through_ffmpeg_on_path(tmp_path: Path, monkeypatch) -> None:
    frames = [np.full((6, 8, 3), i, np.uint8) for i in range(3)]
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    assert write_mp4(frames, tmp_path / "a.mp4", 24) is None  # no ffmpeg: no MP4, no error
    fake = tmp_path / "bin" / "ffmpeg"
    fake.parent.mkdir()
    fake.write_text(
        "#!/bin/sh\n"
        'for a in "$@"; do last="$a"; done\n'
        f'cat > "$last"; printf "%s\\n" "$@" > {tmp_path / "args.txt"}\n'
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", str(fake.parent) + os.pathsep + "/usr/bin:/bin")
    out = write_mp4(frames, tmp_path / "a.mp4", 24)
    assert out == tmp_path / "a.mp4" and out.stat().st_size == 3 * 6 * 8 * 3  # raw RGB frames piped in
    args = (tmp_path / "args.txt").read_text().split()
    assert args[args.index("-s") + 1] == "8x6" and "yuv420p" in args and args[args.index("-r") + 1] == "24"
