"""Training configs: shipped ones load with the paper's numbers; mistakes name file and key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from thagen.cli import main
from thagen.errors import ConfigError
from thagen.train.config import load_config


def test_tha1_config_has_paper_settings() -> None:
    cfg = load_config("tha1")
    assert (cfg.width, cfg.blocks, cfg.image_size) == (64, 6, 256)
    assert [cfg.stage(s).batch_size for s in ("morpher", "rotator", "combiner")] == [25, 25, 20]
    assert [cfg.stage(s).epochs for s in ("morpher", "rotator", "combiner")] == [6, 6, 3]
    for s in ("morpher", "rotator", "combiner"):
        assert cfg.stage(s).lr == 1e-4
        assert cfg.stage(s).betas == (0.5, 0.999)
        assert cfg.stage(s).perceptual_weight == 0.0


def test_tiny_config_and_overrides(tmp_path: Path) -> None:
    cfg = load_config("tiny", {"data_dir": str(tmp_path), "morpher.max_steps": 7})
    assert cfg.width < 64 and cfg.device == "cpu"
    assert cfg.data_dir == tmp_path and cfg.morpher.max_steps == 7
    assert cfg.split_dir("test") == tmp_path / "test"


def write(tmp_path: Path, data: dict | str) -> Path:
    p = tmp_path / "cfg.yaml"
    p.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return p


@pytest.mark.parametrize(
    ("data", "pattern"),
    [
        ({"batchsize": 4}, r"key 'batchsize': unknown key"),
        ({"morpher": {"lr": 0.1, "epoch": 3}}, r"key 'morpher.epoch': unknown key"),
        ({"width": "wide"}, r"key 'width': expected an integer, got str 'wide'"),
        ({"width": 0}, r"key 'width': expected a positive value"),
        ({"amp": "yes"}, r"key 'amp': expected true or false"),
        ({"device": "tpu"}, r"key 'device': expected auto or cpu or cuda"),
        ({"rotator": {"betas": [0.5]}}, r"key 'rotator.betas': expected two numbers"),
        ({"combiner": {"lr": "fast"}}, r"key 'combiner.lr': expected a number"),
        ({"splits": {"train": "tr", "holdout": "x"}}, r"key 'splits.holdout': unknown split"),
        ({"morpher": {"epochs": None, "max_steps": None}}, r"key 'morpher.epochs': set epochs or max_steps"),
        ({"morpher": {"rotator_checkpoint": "r.pt"}}, r"key 'morpher.rotator_checkpoint'"),
        ({"image_size": 100}, r"key 'image_size': must be a multiple of 8"),
        ("- a\n- list\n", r"top level must be a mapping"),
        ("a: [unclosed\n", r"not valid YAML"),
    ],
)
def test_config_errors_name_file_and_key(tmp_path: Path, data, pattern: str) -> None:
    path = write(tmp_path, data)
    with pytest.raises(ConfigError, match=pattern) as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_missing_data_dir_and_file(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, {"width": 8}))
    with pytest.raises(ConfigError, match=r"key 'data_dir': not set"):
        cfg.split_dir("train")
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")


def test_cli_reports_config_error_in_one_line(tmp_path: Path, capsys) -> None:
    path = write(tmp_path, {"morpher": {"batch_size": -1}})
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "morpher", str(path), "--data", str(tmp_path)])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert str(path) in err and "morpher.batch_size" in err
