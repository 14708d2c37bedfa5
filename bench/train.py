"""Training throughput: samples/s of the training step (tiny and published widths, THA1 and
THA3) and of the shard loader.

    .venv/bin/python bench/train.py [--data OUT] [--steps 5] [--device auto] [--system tha1|tha3|both]

THA3's figures are per network (eyebrow_decomposer, eyebrow_combiner, face_morpher, rotator,
editor) for tha3_tiny.yaml's networks (128 px, widths / 16, 2 bottleneck blocks, batch 4) and,
on CUDA or without --skip-full-cpu, THA3's published widths at 512 px; the step is the shared
loop's `train_step` on THA3 synthetic shards (`thagen.train.data.synthetic_tha3`), the editor with
an untrained frozen rotator.

The training step is the trainer's own `train_step` on a fixed, already decoded batch (loader
excluded), so the figure is the network cost; the best of `--repeats` timed rounds is printed
(on a shared machine other processes only ever slow a round down). The loader figure is samples decoded per second
from shards (PNG decode + sRGB->linear + collation), by itself. Without --data, synthetic
256x256 shards are written to a temporary folder first; flat synthetic faces compress better
than renders, so real shards decode somewhat slower.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from thagen.train.config import config_from_dict
from thagen.train.core import checkpoints
from thagen.train.core.loop import Trainer
from thagen.train.data import EpochBatches, list_shards
from thagen.train.data.synthetic import make_dataset
from thagen.train.data.synthetic_tha3 import make_tha3_dataset
from thagen.train.tha1.trainer import StageTrainer, to_device
from thagen.train.tha3_training.config import STAGES as THA3_STAGES
from thagen.train.tha3_training.config import tha3_config_from_dict
from thagen.train.tha3_training.models import build_network, width_spec
from thagen.train.tha3_training.stages import Tha3Task


def bench_step(
    data: Path,
    out: Path,
    stage: str,
    *,
    size: int,
    width: int,
    blocks: int,
    batch: int,
    device: str,
    steps: int,
) -> float:
    raw = {
        "data_dir": str(data),
        "out_dir": str(out),
        "image_size": size,
        "width": width,
        "blocks": blocks,
        "device": device,
        "num_workers": 0,
        stage: {"batch_size": batch, "epochs": None, "max_steps": steps},
    }
    if stage == "combiner":
        # the combiner needs a frozen rotator: save an untrained one of the same size
        from thagen.train.tha1.networks import NetSpec, build

        rot = build("rotator", NetSpec(width, blocks))
        path = out / "rotator" / "model.pt"
        checkpoints.save_atomic(checkpoints.model_record("rotator", rot, size, 0, {}), path)
        raw[stage]["rotator_checkpoint"] = str(path)
    return time_steps(
        StageTrainer(config_from_dict(raw), stage, echo=lambda s: None), data, size, batch, steps
    )


REPEATS = 3


def time_steps(trainer: Trainer, data: Path, size: int, batch: int, steps: int) -> float:
    """Samples/s of `trainer.train_step` on one fixed, decoded batch."""
    shards = list_shards(data / "train")
    fmt = trainer.task.sample_format
    one = next(
        iter(
            EpochBatches(
                shards, batch_size=batch, image_size=size, seed=0, epoch=0, shuffle=False, sample_format=fmt
            )
        )
    )
    b = to_device(one, trainer.device, trainer.channels_last)
    sync = torch.cuda.synchronize if trainer.device.type == "cuda" else (lambda: None)
    for _ in range(2):  # warm-up (cuDNN autotune, allocator, CPU thread pool)
        trainer.train_step(b)
    sync()
    best = 0.0
    for _ in range(REPEATS):  # best of REPEATS: other processes on a shared machine only slow it down
        t = time.perf_counter()
        for _ in range(steps):
            trainer.train_step(b)
        sync()
        best = max(best, steps * batch / (time.perf_counter() - t))
    return best


def bench_tha3_step(
    data: Path,
    out: Path,
    stage: str,
    *,
    size: int,
    divisor: int,
    blocks: int | None,
    batch: int,
    device: str,
    steps: int,
) -> float:
    """Samples/s of one THA3 stage's training step (the editor with an untrained frozen rotator)."""
    raw: dict[str, object] = {
        "system": "tha3", "data_dir": str(data), "out_dir": str(out), "image_size": size,
        "width_divisor": divisor, "bottleneck_blocks": blocks, "device": device, "num_workers": 0,
        "batch_size": batch, "epochs": None, "max_steps": steps,
    }  # fmt: skip
    cfg = tha3_config_from_dict(raw)
    if stage == "editor":
        rotator = build_network("rotator", cfg.width("rotator"))
        record = checkpoints.model_record(
            "rotator", rotator, size, 0, {}, system="tha3", spec=width_spec(cfg.width("rotator"))
        )
        checkpoints.save_atomic(record, out / "rotator" / "model.pt")
    return time_steps(Trainer(cfg, Tha3Task(cfg, stage), echo=lambda s: None), data, size, batch, steps)


def bench_loader(data: Path, size: int, workers: int, batch: int = 25, epochs: int = 3) -> float:
    """Samples/s over a few epochs (worker start-up included, as in training)."""
    shards = list_shards(data / "train")
    total = sum(s.count for s in shards)
    t = time.perf_counter()
    n = 0
    for epoch in range(epochs):
        for b in EpochBatches(
            shards, batch_size=batch, image_size=size, seed=0, epoch=epoch, num_workers=workers
        ):
            n += len(b["key"])
    assert n == total * epochs
    return n / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, help="a dataset OUT folder with 256x256 shards (default: synthetic)")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    ap.add_argument("--skip-full-cpu", action="store_true", help="skip the slow published-width CPU runs")
    ap.add_argument("--system", default="both", choices=["tha1", "tha3", "both"])
    ap.add_argument("--repeats", type=int, default=3, help="timed rounds per figure; the best is printed")
    args = ap.parse_args()
    global REPEATS
    REPEATS = max(1, args.repeats)
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() and args.device != "cpu" else [])
    if args.device == "cuda":
        devices = ["cuda"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
        if args.system in ("tha1", "both"):
            bench_tha1(tmp, args, devices)
        if args.system in ("tha3", "both"):
            bench_tha3(tmp, args, devices)


def bench_tha1(tmp: Path, args: argparse.Namespace, devices: list[str]) -> None:
    tiny_data = make_dataset(tmp / "tiny", size=64, characters={"train": 2}, per_character=8)
    full_data = args.data or make_dataset(
        tmp / "full", size=256, characters={"train": 4}, per_character=50, per_shard=25
    )
    for dev in devices:
        name = torch.cuda.get_device_name() if dev == "cuda" else "CPU"
        full_batches = (
            {"morpher": 2, "rotator": 2, "combiner": 2}
            if dev == "cpu"
            else {"morpher": 25, "rotator": 25, "combiner": 20}
        )
        for stage in ("morpher", "rotator", "combiner"):
            sps = bench_step(tiny_data, tmp / f"o-{dev}-{stage}-t", stage, size=64, width=8, blocks=2, batch=4,
                             device=dev, steps=args.steps * 4)  # fmt: skip
            print(
                f"{name:>10} {stage:>8} {'tiny (64 px, width 8, 2 blocks)':<34} batch  4: {sps:9.2f} samples/s"
            )
            if dev == "cpu" and args.skip_full_cpu:
                continue
            batch = full_batches[stage]
            sps = bench_step(full_data, tmp / f"o-{dev}-{stage}-f", stage, size=256, width=64, blocks=6, batch=batch,
                             device=dev, steps=args.steps)  # fmt: skip
            amp = " (AMP, channels_last)" if dev == "cuda" else ""
            label = "tha1 (256 px, width 64, 6 blocks)" + amp
            print(f"{name:>10} {stage:>8} {label:<34} batch {batch:>2}: {sps:9.2f} samples/s")
    for workers in (0, 1, 2):
        sps = bench_loader(full_data, 256, workers)
        print(f"loader: 256x256 shards, {workers} workers: {sps:8.1f} samples/s decoded")


def bench_tha3(tmp: Path, args: argparse.Namespace, devices: list[str]) -> None:
    tiny = make_tha3_dataset(tmp / "tha3-tiny", size=128, characters={"train": 2}, per_character=8)
    full = None
    for dev in devices:
        name = torch.cuda.get_device_name() if dev == "cuda" else "CPU"
        for stage in THA3_STAGES:
            sps = bench_tha3_step(tiny, tmp / f"t3-{dev}-{stage}-t", stage, size=128, divisor=16, blocks=2, batch=4,
                                  device=dev, steps=args.steps * 4)  # fmt: skip
            label = "tha3_tiny (128 px, widths/16, 2 blocks)"
            print(f"{name:>10} {stage:>18} {label:<42} batch  4: {sps:9.2f} samples/s")
            if dev == "cpu" and args.skip_full_cpu:
                continue
            full = full or make_tha3_dataset(
                tmp / "tha3-full", size=512, characters={"train": 1}, per_character=16
            )
            batch = 1 if dev == "cpu" else (16 if stage == "editor" else 25)
            sps = bench_tha3_step(full, tmp / f"t3-{dev}-{stage}-f", stage, size=512, divisor=1, blocks=None,
                                  batch=batch, device=dev, steps=args.steps)  # fmt: skip
            label = "tha3 (512 px, published widths)" + (" (AMP, channels_last)" if dev == "cuda" else "")
            print(f"{name:>10} {stage:>18} {label:<42} batch {batch:>2}: {sps:9.2f} samples/s")


if __name__ == "__main__":
    main()
