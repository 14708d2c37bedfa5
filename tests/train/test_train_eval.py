"""`thagen train all`, `thagen train eval` and `thagen animate` end to end on tiny shards; metrics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml
from PIL import Image

from thagen.cli import main
from thagen.train.config import CONFIG_DIR
from thagen.train.core.metrics import rmse, ssim, to_metric_space
from thagen.train.data.synthetic import face, make_dataset

SIZE = 32


def cli(args: list[str]) -> int:
    """Run `thagen ARGS` in-process; the exit status (0 when main returns normally)."""
    try:
        main(args)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path]:
    """(data dir, checkpoints dir) after `thagen train all` with the tiny config at 32 px."""
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("e2e")
    data = make_dataset(
        root / "data", size=SIZE, characters={"train": 2, "val": 1, "test": 2}, per_character=4
    )
    raw = yaml.safe_load((CONFIG_DIR / "tiny.yaml").read_text())
    raw.update(image_size=SIZE, val_every=2, sample_every=3)
    cfg = root / "tiny32.yaml"
    cfg.write_text(yaml.safe_dump(raw))
    run = root / "run"
    assert cli(["train", "all", str(cfg), "--data", str(data), "--out", str(run), "--max-steps", "4"]) == 0
    return data, run


def test_train_all_writes_three_models(trained) -> None:
    _, run = trained
    for stage in ("morpher", "rotator", "combiner"):
        assert (run / stage / "model.pt").is_file()
        recs = [json.loads(x) for x in (run / stage / "log.jsonl").read_text().splitlines()]
        assert recs[-1]["step"] == 4
        assert any("val_loss" in r for r in recs)


def test_ssim_and_rmse_basics() -> None:
    torch.manual_seed(0)
    x = torch.rand(2, 4, 24, 24)
    assert torch.allclose(ssim(x, x), torch.ones(2), atol=1e-6)
    assert torch.equal(rmse(x, x), torch.zeros(2))
    # constant images: SSIM reduces to the luminance term (2ab + C1) / (a^2 + b^2 + C1)
    a, b = torch.full((1, 1, 16, 16), 0.2), torch.full((1, 1, 16, 16), 0.6)
    c1 = 0.01**2
    assert ssim(a, b).item() == pytest.approx((2 * 0.2 * 0.6 + c1) / (0.04 + 0.36 + c1), rel=1e-4)
    assert rmse(a, b).item() == pytest.approx(0.4, rel=1e-6)
    noisy = (x + 0.1 * torch.randn_like(x)).clamp(0, 1)
    assert 0 < ssim(x, noisy).min() < 0.99
    # metric space: premultiplied, so colour under transparent pixels does not count
    p = torch.full((1, 4, 16, 16), -1.0)
    q = p.clone()
    q[:, :3] = 1.0
    assert rmse(to_metric_space(p), to_metric_space(q)).item() == 0.0


def test_eval_reports_rmse_ssim_per_character(trained, tmp_path: Path) -> None:
    data, run = trained
    out = tmp_path / "report"
    assert cli(["train", "eval", str(run), "--split", "test", "--out", str(out), "--batch-size", "3"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["samples"] == 8 and report["characters"] == 2
    assert 0 < report["full_system"]["rmse"] < 1
    assert -1 <= report["full_system"]["ssim"] <= 1 and report["full_system"]["ssim"] < 1
    test_chars = {p.name.split("-")[0] for p in (data / "test").glob("*.tar")}
    assert set(report["per_character"]) == test_chars
    assert sum(v["samples"] for v in report["per_character"].values()) == 8
    mean = sum(v["rmse"] * v["samples"] for v in report["per_character"].values()) / 8
    assert mean == pytest.approx(report["full_system"]["rmse"])
    with Image.open(out / "comparison.png") as im:
        assert im.size == (5 * SIZE, 3 * SIZE + 14)


def test_animate_writes_gif_with_all_frames(trained, tmp_path: Path) -> None:
    _, run = trained
    img = tmp_path / "front.png"
    Image.fromarray(face({"mouth": 1.0}, SIZE, character=4)).save(img)
    gif = tmp_path / "anim.gif"
    assert cli(["animate", str(img), "--checkpoints", str(run), "--out", str(gif), "--frames", "10"]) == 0
    with Image.open(gif) as im:
        assert im.n_frames == 10
        assert im.size == (SIZE, SIZE)


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (
            Image.new("RGBA", (SIZE * 2, SIZE)),
            f"is {SIZE * 2}x{SIZE}; it must be framed like a reset image: {SIZE}x{SIZE} RGBA",
        ),
        (Image.new("RGB", (SIZE, SIZE)), "has no alpha channel"),
    ],
)
def test_animate_rejects_badly_framed_image(trained, tmp_path: Path, capsys, image, message) -> None:
    _, run = trained
    img = tmp_path / "bad.png"
    image.save(img)
    assert cli(["animate", str(img), "--checkpoints", str(run), "--out", str(tmp_path / "x.gif")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and str(img) in err
    assert not (tmp_path / "x.gif").exists()
