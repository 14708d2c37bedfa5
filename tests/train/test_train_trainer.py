"""The training loop: it learns, it resumes exactly, it writes its records, it refuses bad setups."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from thagen.errors import ConfigError
from thagen.train.config import config_from_dict
from thagen.train.core import checkpoints
from thagen.train.core.perceptual import vgg16_features
from thagen.train.data import EpochBatches, list_shards
from thagen.train.data.images import to_network
from thagen.train.data.synthetic import synthetic_samples, write_split
from thagen.train.tha1.trainer import train_stage

pytestmark = pytest.mark.slow  # trains

SIZE = 32


@pytest.fixture(autouse=True)
def one_thread():
    """Other test processes share the 2 cores: several torch threads would spin against them."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def make_split(root: Path, characters: int, per_character: int, per_shard: int) -> Path:
    """A shard set from (rest, expr, rot, pose) tuples: swap in rendered samples here."""
    for c in range(characters):
        write_split(
            root / "train", synthetic_samples(c, per_character, SIZE, seed=5), f"char{c}", per_shard=per_shard
        )
    return root


def tiny_config(data: Path, out: Path, **stage) -> object:
    raw = {
        "data_dir": str(data),
        "out_dir": str(out),
        "image_size": SIZE,
        "width": 8,
        "blocks": 2,
        "device": "cpu",
        "num_workers": 0,
        "shuffle_buffer": 4,
        "log_every": 1,
        "checkpoint_every": 0,
        "sample_every": 0,
        "lr": 1e-3,
        "morpher": {"batch_size": 4, "epochs": None, "max_steps": 10, **stage},
        "rotator": {"batch_size": 4, "epochs": None, "max_steps": 10, **stage},
        "combiner": {"batch_size": 4, "epochs": None, "max_steps": 10, **stage},
    }
    return raw


def records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]


def test_tiny_morpher_overfits_a_fixed_batch(tmp_path: Path) -> None:
    """One batch of 4 samples (2 characters): L1 must fall 5x and well below 'copy the input'."""
    data = make_split(tmp_path / "data", characters=2, per_character=2, per_shard=2)
    cfg = config_from_dict(tiny_config(data, tmp_path / "run", max_steps=300))
    result = train_stage(cfg, "morpher", echo=lambda s: None)
    recs = records(result.out_dir)
    first, last = recs[0]["loss"], sum(r["loss"] for r in recs[-10:]) / 10
    assert len(recs) == 300 and recs[-1]["step"] == 300
    assert last <= first / 5, (first, last)
    batch = next(
        iter(EpochBatches(list_shards(data / "train"), batch_size=4, image_size=SIZE, seed=0, epoch=0))
    )
    copy_input = F.l1_loss(to_network(batch["rest"]), to_network(batch["expr"])).item()
    assert last < 0.5 * copy_input, (last, copy_input)  # it learned to close eyes / move mouths


def weights(path: Path) -> dict[str, torch.Tensor]:
    return checkpoints.load(path)["model"]


class Crash(RuntimeError):
    pass


def test_resume_reproduces_an_uninterrupted_run(tmp_path: Path) -> None:
    """Crash at step 7 (last checkpoint: step 5), resume, finish at 10: same weights as 10 straight.

    Two loader workers, 3 shards of unequal size, batches crossing epoch boundaries.
    """
    data = make_split(tmp_path / "data", characters=2, per_character=5, per_shard=4)  # shards 4, 1, 4, 1
    raw = tiny_config(data, tmp_path / "a")
    raw.update(num_workers=2, checkpoint_every=5)
    straight = train_stage(config_from_dict(raw), "rotator", echo=lambda s: None)

    raw_b = {**raw, "out_dir": str(tmp_path / "b")}

    def crash(step: int) -> None:
        if step == 7:
            raise Crash

    with pytest.raises(Crash):
        train_stage(config_from_dict(raw_b), "rotator", on_step=crash, echo=lambda s: None)
    assert checkpoints.load(tmp_path / "b" / "rotator" / "last.pt")["step"] == 5
    with pytest.raises(ConfigError, match="pass --resume"):
        train_stage(config_from_dict(raw_b), "rotator", echo=lambda s: None)
    resumed = train_stage(config_from_dict(raw_b), "rotator", resume=True, echo=lambda s: None)
    assert resumed.steps == straight.steps == 10
    wa, wb = weights(straight.model_path), weights(resumed.model_path)
    assert wa.keys() == wb.keys()
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k
    # the log was cut back to the checkpoint and continued: one record per step, same losses
    ra, rb = records(straight.out_dir), records(resumed.out_dir)
    assert [r["step"] for r in rb] == list(range(1, 11))
    assert [r["loss"] for r in ra] == [r["loss"] for r in rb]
    # Ctrl-C saves the step it reached; resuming from there is exact too
    raw_i = {**raw, "out_dir": str(tmp_path / "i")}

    def interrupt(step: int) -> None:
        if step == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_stage(config_from_dict(raw_i), "rotator", on_step=interrupt, echo=lambda s: None)
    assert checkpoints.load(tmp_path / "i" / "rotator" / "last.pt")["step"] == 3
    again = train_stage(config_from_dict(raw_i), "rotator", resume=True, echo=lambda s: None)
    wi = weights(again.model_path)
    assert all(torch.equal(wa[k], wi[k]) for k in wa)
    # a different worker count cannot resume exactly, and says so
    raw_c = {**raw_b, "num_workers": 1}
    with pytest.raises(ConfigError, match="key 'num_workers': differs from the checkpoint"):
        train_stage(config_from_dict(raw_c), "rotator", resume=True, echo=lambda s: None)


def test_outputs_and_frozen_rotator_for_combiner(tmp_path: Path) -> None:
    data = make_split(tmp_path / "data", characters=2, per_character=4, per_shard=4)
    raw = tiny_config(data, tmp_path / "run", max_steps=4)
    raw.update(sample_every=2, checkpoint_every=2)
    cfg = config_from_dict(raw)
    with pytest.raises(ConfigError, match=r"combiner.rotator_checkpoint.*train the rotator first"):
        train_stage(cfg, "combiner", echo=lambda s: None)
    lines: list[str] = []
    rot = train_stage(cfg, "rotator", echo=lines.append)
    assert any("steps/s, ETA" in s for s in lines)
    for name in ("last.pt", "model.pt", "log.jsonl", "loss.csv", "loss.png", "samples/step_0000002.png"):
        assert (rot.out_dir / name).is_file(), name
    with Image.open(rot.out_dir / "samples" / "step_0000004.png") as im:
        assert im.size == (4 * SIZE, 4 * SIZE + 14)  # 4 columns (input, 2 outputs, target), 4 rows
    assert (rot.out_dir / "loss.csv").read_text().count("\n") == 5  # header + 4 steps
    before = {k: v.clone() for k, v in weights(rot.model_path).items()}
    comb = train_stage(cfg, "combiner", echo=lambda s: None)
    assert comb.steps == 4
    after = weights(rot.model_path)
    assert all(torch.equal(before[k], after[k]) for k in before)  # the rotator stayed frozen


def test_perceptual_loss_from_local_weights_only(tmp_path: Path) -> None:
    data = make_split(tmp_path / "data", characters=1, per_character=2, per_shard=2)
    raw = tiny_config(data, tmp_path / "run", max_steps=2, perceptual_weight=0.1)
    with pytest.raises(ConfigError, match="key 'perceptual_weights'"):
        train_stage(config_from_dict(raw), "morpher", echo=lambda s: None)
    raw["perceptual_weights"] = str(tmp_path / "missing.pth")
    with pytest.raises(ConfigError, match=r"missing\.pth: key 'perceptual_weights': file not found"):
        train_stage(config_from_dict(raw), "morpher", echo=lambda s: None)
    torch.manual_seed(0)
    vgg = {f"features.{k}": v for k, v in vgg16_features().state_dict().items()}  # torchvision key names
    torch.save(vgg, tmp_path / "vgg16.pth")
    raw["perceptual_weights"] = str(tmp_path / "vgg16.pth")
    result = train_stage(config_from_dict(raw), "morpher", echo=lambda s: None)
    plain = train_stage(
        config_from_dict({**tiny_config(data, tmp_path / "plain", max_steps=2)}),
        "morpher",
        echo=lambda s: None,
    )
    # same seed, same data: the perceptual term is what makes the losses differ
    assert records(result.out_dir)[0]["loss"] > records(plain.out_dir)[0]["loss"]


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_mixed_precision_and_channels_last_step(tmp_path: Path, dtype: torch.dtype) -> None:
    """The CUDA code path (autocast, loss scaling for fp16, channels_last), exercised on CPU."""
    from thagen.train.tha1.trainer import Precision, StageTrainer, to_device

    data = make_split(tmp_path / "data", characters=1, per_character=2, per_shard=2)
    trainer = StageTrainer(
        config_from_dict(tiny_config(data, tmp_path / "run")), "rotator", echo=lambda s: None
    )
    trainer.precision = Precision(True, dtype, dtype == torch.float16)
    trainer.scaler = torch.amp.GradScaler("cpu", enabled=trainer.precision.scaler)
    trainer.channels_last = True
    trainer.model.to(memory_format=torch.channels_last)
    batch = next(
        iter(EpochBatches(list_shards(data / "train"), batch_size=2, image_size=SIZE, seed=0, epoch=0))
    )
    batch = to_device(batch, trainer.device, True)
    assert batch["rot"].is_contiguous(memory_format=torch.channels_last)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    seen = []
    trainer.model.body.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    loss, _ = trainer.train_step(batch)
    assert torch.isfinite(loss) and 0 < float(loss) < 4
    assert seen == [dtype]  # the body really ran in reduced precision
    changed = [k for k, v in trainer.model.state_dict().items() if not torch.equal(v, before[k])]
    assert changed and all(v.dtype == torch.float32 for v in trainer.model.state_dict().values())
