"""THA3 training on synthetic THA3 shards: geometry, stages, the decomposer's missing images,
exact resume after a real kill, and THA1 <-> THA3 checkpoint mix-ups as one-line errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from thagen.cli import main
from thagen.errors import ConfigError
from thagen.train.config import CONFIG_DIR, config_from_dict
from thagen.train.core import checkpoints
from thagen.train.data import DatasetError, list_shards
from thagen.train.data.synthetic import make_dataset
from thagen.train.data.synthetic_tha3 import make_tha3_dataset
from thagen.train.tha1.trainer import train_stage
from thagen.train.tha3 import POSE_SIZE, Tha3Poser, Tha3Widths
from thagen.train.tha3_training.config import load_tha3_config, tha3_config_from_dict
from thagen.train.tha3_training.geometry import Tha3Geometry, run_poser
from thagen.train.tha3_training.run import train_tha3, train_tha3_stage
from thagen.train.tha3_training.stages import Tha3Task

SIZE = 64
STAGES = ("eyebrow_decomposer", "eyebrow_combiner", "face_morpher", "rotator", "editor")


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """2 training characters and 1 test character, 6 samples each, with the eyebrow layers."""
    root = tmp_path_factory.mktemp("tha3data")
    return make_tha3_dataset(root, size=SIZE, characters={"train": 2, "test": 1}, per_character=6)


def tiny(data: Path, out: Path, steps: int = 4, **run: object) -> dict:
    """tha3_tiny.yaml at SIZE px, `steps` per stage, logging every step, no extra files."""
    raw = yaml.safe_load((CONFIG_DIR / "tha3_tiny.yaml").read_text())
    raw.update(data_dir=str(data), out_dir=str(out), image_size=SIZE, max_steps=steps, log_every=1,
               sample_every=0, checkpoint_every=0, val_every=0)  # fmt: skip
    raw.update(run)
    return raw


def cli(args: list[str]) -> int:
    try:
        main(args)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_scaled_poser_is_tha3s_poser_at_512() -> None:
    torch.manual_seed(0)
    poser = Tha3Poser(Tha3Widths.published().scaled(16)).eval()
    image, pose = torch.rand(1, 4, 512, 512) * 2 - 1, torch.rand(1, POSE_SIZE)
    with torch.no_grad():
        want = poser(image, pose)
        got = run_poser(poser.networks(), Tha3Geometry(512), image, pose)
    assert torch.equal(got.image, want.image) and torch.equal(got.face_morphed, want.face_morphed)
    g = Tha3Geometry(128)
    assert (g.eyebrow_box, g.face_box, g.eyebrow_in_face_box, g.half) == (
        (16, 48, 32),
        (8, 40, 48),
        (8, 8, 32),
        64,
    )
    with pytest.raises(ConfigError, match="multiple of 64"):
        Tha3Geometry(96)


def test_training_starts_the_eyebrow_layer_transparent_and_the_poser_at_its_input() -> None:
    cfg = load_tha3_config("tha3_tiny")
    torch.manual_seed(2)
    nets = {s: Tha3Task(cfg, s).build().eval() for s in STAGES}
    x = torch.rand(2, 4, 32, 32) * 2 - 1
    with torch.no_grad():
        out = nets["eyebrow_decomposer"](x)
        assert (out.eyebrow_layer + 1).abs().max() < 0.05  # transparent black: no eyebrows yet
        assert (out.background - x).abs().max() <= 0.02 + 1e-6  # THA3's start: the crop
        image, pose = torch.rand(1, 4, 128, 128) * 2 - 1, torch.rand(1, POSE_SIZE)
        posed = run_poser(nets, Tha3Geometry(128), image, pose)
    assert (posed.image - image).abs().max() <= 5 * 0.02 + 1e-4  # five blends, each moving a pixel <= 0.02


def test_configs_refuse_the_other_system(tmp_path: Path) -> None:
    assert load_tha3_config("tha3").width(STAGES[0]).start_channels == 64
    with pytest.raises(ConfigError, match="this is a tha3 config; train it with `thagen train tha3"):
        config_from_dict({"system": "tha3"})
    with pytest.raises(ConfigError, match="this is a tha1 config"):
        tha3_config_from_dict({"width": 8})
    with pytest.raises(ConfigError, match=r"key 'rotator.target_image': only face_morpher uses"):
        tha3_config_from_dict({"system": "tha3", "rotator": {"target_image": "face"}})
    with pytest.raises(ConfigError, match="not divisible by 3"):
        tha3_config_from_dict({"system": "tha3", "width_divisor": 3})


@pytest.mark.slow
def test_all_stages_train_and_the_decomposer_needs_its_images(data: Path, tmp_path: Path, capsys) -> None:
    results = train_tha3(tha3_config_from_dict(tiny(data, tmp_path / "run")), echo=lambda s: None)
    assert [r.stage for r in results] == list(STAGES)
    combiner = checkpoints.load(tmp_path / "run" / "eyebrow_combiner" / "model.pt")
    assert combiner["system"] == "tha3" and combiner["info"] == {"inputs": "layers"}
    # shards without the eyebrow layers: the decomposer alone is a one-line error naming shard and image
    bare = make_tha3_dataset(
        tmp_path / "bare", size=SIZE, characters={"train": 1}, per_character=4, layers=False
    )
    args = ["train", "tha3", "tha3_tiny", "--data", str(bare), "--max-steps", "2"]
    assert cli([*args, "--out", str(tmp_path / "a"), "--stage", "eyebrow_decomposer"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "synth3-000-0000.tar: has no eyebrow_layer.png images" in err and "eyebrow_decomposer" in err
    # ... and in a run of all stages it is skipped in one line while the other four train
    assert cli([*args, "--out", str(tmp_path / "b")]) == 0
    out = capsys.readouterr().out
    assert "[eyebrow_decomposer] skipped: " in out and "has no eyebrow_layer.png" in out
    assert "trained: eyebrow_combiner, face_morpher, rotator, editor" in out
    assert checkpoints.load(tmp_path / "b" / "eyebrow_combiner" / "model.pt")["info"] == {"inputs": "rest"}
    with pytest.raises(DatasetError, match="face_no_eyebrow.png|eyebrow_layer.png"):
        train_tha3_stage(tha3_config_from_dict(tiny(bare, tmp_path / "c")), "eyebrow_decomposer", echo=print)


KILLER = """
import os, signal, sys, json, torch
torch.set_num_threads(1)
from thagen.train.tha3_training.config import tha3_config_from_dict
from thagen.train.tha3_training.run import train_tha3
cfg = tha3_config_from_dict(json.loads(sys.argv[1]))
def kill(stage, step):
    if stage == "face_morpher" and step == 5:
        os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, no checkpoint: a real kill
train_tha3(cfg, on_step=kill, echo=lambda s: None)
"""


@pytest.mark.slow
def test_kill_then_resume_gives_the_weights_of_an_uninterrupted_run(data: Path, tmp_path: Path) -> None:
    """SIGKILL in the face morpher's step 5 (last checkpoint: step 4, epoch 1 of 3 batches),
    two loader workers; resuming all stages ends with the same five networks, bit for bit."""
    raw = tiny(data, tmp_path / "straight", steps=7, num_workers=2, checkpoint_every=2)
    straight = train_tha3(tha3_config_from_dict(raw), echo=lambda s: None)
    killed = {**raw, "out_dir": str(tmp_path / "killed")}
    done = subprocess.run([sys.executable, "-c", KILLER, json.dumps(killed)], capture_output=True, text=True)
    assert done.returncode == -9, done.stderr[-2000:]
    assert checkpoints.load(tmp_path / "killed" / "face_morpher" / "last.pt")["step"] == 4
    assert not (tmp_path / "killed" / "rotator").exists()
    with pytest.raises(ConfigError, match="pass --resume"):
        train_tha3(tha3_config_from_dict(killed), echo=lambda s: None)
    resumed = train_tha3(tha3_config_from_dict(killed), resume=True, echo=lambda s: None)
    for a, b in zip(straight, resumed, strict=True):
        assert a.stage == b.stage and a.steps == b.steps == 7
        wa, wb = checkpoints.load(a.model_path)["model"], checkpoints.load(b.model_path)["model"]
        assert all(torch.equal(wa[k], wb[k]) for k in wa), a.stage
    logged = [json.loads(x)["step"] for x in (tmp_path / "killed" / "face_morpher" / "log.jsonl").open()]
    assert logged == list(range(1, 8))


@pytest.mark.slow
def test_tha1_and_tha3_checkpoints_do_not_mix(data: Path, tmp_path: Path, capsys) -> None:
    tha3_run = tmp_path / "tha3"
    train_tha3(tha3_config_from_dict(tiny(data, tha3_run, steps=1)), echo=lambda s: None)
    tha1_data = make_dataset(tmp_path / "d1", size=SIZE, characters={"train": 1, "test": 1}, per_character=2)
    tha1_raw = {"data_dir": str(tha1_data), "out_dir": str(tmp_path / "tha1"), "image_size": SIZE, "width": 8,
                "blocks": 1, "device": "cpu", "num_workers": 0, "log_every": 1, "checkpoint_every": 0,
                "sample_every": 0, "batch_size": 2, "epochs": None, "max_steps": 1}  # fmt: skip
    for stage in ("morpher", "rotator", "combiner"):
        train_stage(config_from_dict(tha1_raw), stage, echo=lambda s: None)
    tha1_run = tmp_path / "tha1"
    # a THA1 rotator inside a THA3 run, and the reverse: eval says so in one line
    mixed3, mixed1 = tmp_path / "mixed3", tmp_path / "mixed1"
    shutil.copytree(tha3_run, mixed3)
    shutil.copytree(tha1_run, mixed1)
    shutil.copy(tha1_run / "rotator" / "model.pt", mixed3 / "rotator" / "model.pt")
    shutil.copy(tha3_run / "rotator" / "model.pt", mixed1 / "rotator" / "model.pt")
    for run, message in (
        (mixed3, "holds a THA1 rotator network; the THA3 poser cannot use it"),
        (mixed1, "holds a THA3 rotator network; THA1's morpher / rotator / combiner cannot use it"),
    ):
        assert cli(["train", "eval", str(run), "--data", str(data)]) == 1
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and message in err and str(run / "rotator" / "model.pt") in err
    # the editor pointed at a THA1 rotator, and THA1's combiner at a THA3 one
    raw = tiny(data, tmp_path / "e", steps=1)
    raw["editor"] = {"rotator_checkpoint": str(tha1_run / "rotator" / "model.pt")}
    with pytest.raises(ConfigError, match="holds a THA1 rotator network; the THA3 poser cannot use it"):
        train_tha3_stage(tha3_config_from_dict(raw), "editor", echo=lambda s: None)
    bad = {
        **tha1_raw,
        "out_dir": str(tmp_path / "c1"),
        "combiner": {"rotator_checkpoint": str(tha3_run / "rotator" / "model.pt")},
    }
    with pytest.raises(ConfigError, match="holds a THA3 rotator network"):
        train_stage(config_from_dict(bad), "combiner", echo=lambda s: None)
    # both systems in one folder cannot be told apart: refused
    both = tmp_path / "both"
    shutil.copytree(tha3_run, both)
    shutil.copytree(tha1_run / "morpher", both / "morpher")
    assert cli(["train", "eval", str(both)]) == 1
    assert "holds THA1 (morpher) and THA3" in capsys.readouterr().err
    assert list_shards(data / "test")  # the test split is there: the errors above were not about data
