"""THA3 end to end on real renders: `thagen render` a tiny THA3 manifest (the built-in character
for training, Gene held out for testing) -> `thagen train tha3` (all five stages, a few steps)
-> `thagen train eval` -> `thagen animate` on a 512x512 THA3-framed image."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from thagen.cli import main

pytestmark = pytest.mark.slow  # renders, then trains

SIZE = 128  # THA3's crops scaled by 1/4 (tha3_tiny.yaml)
GENE = Path(__file__).resolve().parents[1] / "data" / "gene" / "Gene_light.pmx"
STAGES = ("eyebrow_decomposer", "eyebrow_combiner", "face_morpher", "rotator", "editor")


def cli(args: list[str]) -> int:
    try:
        main(args)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def render(tmp_path: Path) -> Path:
    out = tmp_path / "rendered"
    manifest = tmp_path / "m.yaml"
    manifest.write_text(
        "version: 1\nseed: 3\n"
        f"output: {out}\nimage_size: {SIZE}\n"
        "pose_vector: tha3\nframing_preset: tha3\nimages: tha3_stages\n"
        "render: {engine: cycles, device: cpu, samples: 1}\n"
        f"characters:\n  - builtin: true\n    split: train\n  - path: {GENE}\n    split: test\n"
        "splits:\n  train: {poses_per_character: 3}\n  test: {poses_per_character: 2}\n"
    )
    subprocess.run([sys.executable, "-m", "thagen", "render", str(manifest)], check=True, capture_output=True)
    return out


def test_render_train_eval_animate(tmp_path: Path, capsys) -> None:
    data = render(tmp_path)
    journal = [json.loads(line) for line in (data / "journal.jsonl").read_text().splitlines()]
    assert sorted(j["split"] for j in journal) == ["test", "train"]
    run = tmp_path / "run"
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        args = ["train", "tha3", "tha3_tiny", "--data", str(data), "--out", str(run), "--max-steps", "3"]
        assert cli(args) == 0
        out = capsys.readouterr().out
        trained = [s for s in STAGES if (run / s / "model.pt").is_file()]
        if "eyebrow_decomposer" not in trained:  # shards without the eyebrow layers (yet)
            skipped = [line for line in out.splitlines() if line.startswith("[eyebrow_decomposer] skipped: ")]
            assert len(skipped) == 1 and ".tar: has no eyebrow_layer.png images" in skipped[0]
        assert trained[-4:] == list(STAGES[1:])
        for stage in trained:
            recs = [json.loads(x) for x in (run / stage / "log.jsonl").read_text().splitlines()]
            assert recs[-1]["step"] == 3 and all(r["loss"] > 0 for r in recs)

        assert cli(["train", "eval", str(run), "--split", "test"]) == 0
        printed = capsys.readouterr().out
        report = json.loads((run / "eval-test" / "report.json").read_text())
        assert report["system"] == "tha3" and report["samples"] == 2 and report["characters"] == 1
        assert [c.split("-")[0] for c in report["per_character"]] == ["gene"]  # held out: never trained on
        for figure in (report["poser"], *report["stages"].values()):
            assert 0 < figure["rmse"] < 1 and 0 < figure["baseline"]["rmse"] < 1
        assert {"eyebrow_combiner", "face_morpher", "rotator", "editor"} <= set(report["stages"])
        assert "copy-the-input" in printed and printed.count("stage ") == len(report["stages"])

        rest = next((data / "characters").glob("gene-*/rest.png"))
        front = tmp_path / "front512.png"
        with Image.open(rest) as im:
            im.convert("RGBA").resize((512, 512), Image.Resampling.LANCZOS).save(front)
        gif = tmp_path / "anim.gif"
        assert (
            cli(["animate", str(front), "--checkpoints", str(run), "--out", str(gif), "--frames", "14"]) == 0
        )
        with Image.open(gif) as im:
            assert im.size == (SIZE, SIZE)
            durations = []
            for i in range(im.n_frames):  # PIL merges identical neighbours, adding their durations
                im.seek(i)
                durations.append(im.info["duration"])
        assert len(durations) <= 14 and abs(sum(durations) - 14 * 1000 / 24) <= 14 * 10  # GIF: 1/100 s
    finally:
        torch.set_num_threads(before)
