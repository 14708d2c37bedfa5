"""Training throughput: samples/s of the training step (tiny and THA1 width) and of the shard loader.

    .venv/bin/python bench/train.py [--data OUT] [--steps 5] [--device auto]

The training step is the trainer's own `train_step` on a fixed, already decoded batch (loader
excluded), so the figure is the network cost. The loader figure is samples decoded per second
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
from thagen.train.data import EpochBatches, list_shards
from thagen.train.synthetic import make_dataset
from thagen.train.trainer import StageTrainer, to_device


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
        from thagen.train import checkpoints
        from thagen.train.networks import NetSpec, build

        rot = build("rotator", NetSpec(width, blocks))
        path = out / "rotator" / "model.pt"
        checkpoints.save_atomic(checkpoints.model_record("rotator", rot, size, 0, {}), path)
        raw[stage]["rotator_checkpoint"] = str(path)
    trainer = StageTrainer(config_from_dict(raw), stage, echo=lambda s: None)
    shards = list_shards(data / "train")
    one = next(iter(EpochBatches(shards, batch_size=batch, image_size=size, seed=0, epoch=0, shuffle=False)))
    b = to_device(one, trainer.device, trainer.channels_last)
    sync = torch.cuda.synchronize if trainer.device.type == "cuda" else (lambda: None)
    for _ in range(2 if trainer.device.type == "cuda" else 1):  # warm-up (cuDNN autotune, allocator)
        trainer.train_step(b)
    sync()
    t = time.perf_counter()
    for _ in range(steps):
        trainer.train_step(b)
    sync()
    return steps * batch / (time.perf_counter() - t)


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
    ap.add_argument("--skip-full-cpu", action="store_true", help="skip the slow THA1-width CPU runs")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() and args.device != "cpu" else [])
    if args.device == "cuda":
        devices = ["cuda"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        tiny_data = make_dataset(tmp / "tiny", size=64, characters={"train": 2}, per_character=8)
        full_data = args.data or make_dataset(
            tmp / "full", size=256, characters={"train": 4}, per_character=50, per_shard=25
        )
        print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
        for dev in devices:
            name = torch.cuda.get_device_name() if dev == "cuda" else "CPU"
            runs = [("tiny (64 px, width 8, 2 blocks)", 64, 8, 2, 4, args.steps * 4)]
            full_batches = (
                {"morpher": 2, "rotator": 2, "combiner": 2}
                if dev == "cpu"
                else {"morpher": 25, "rotator": 25, "combiner": 20}
            )
            for stage in ("morpher", "rotator", "combiner"):
                for label, size, width, blocks, batch, steps in runs:
                    sps = bench_step(tiny_data, tmp / f"o-{dev}-{stage}-t", stage, size=size, width=width, blocks=blocks,
                                     batch=batch, device=dev, steps=steps)  # fmt: skip
                    print(f"{name:>10} {stage:>8} {label:<34} batch {batch:>2}: {sps:9.2f} samples/s")
                if dev == "cpu" and args.skip_full_cpu:
                    continue
                batch = full_batches[stage]
                sps = bench_step(full_data, tmp / f"o-{dev}-{stage}-f", stage, size=256, width=64, blocks=6, batch=batch,
                                 device=dev, steps=args.steps)  # fmt: skip
                amp = " (AMP, channels_last)" if dev == "cuda" else ""
                print(
                    f"{name:>10} {stage:>8} {'tha1 (256 px, width 64, 6 blocks)' + amp:<34} batch {batch:>2}: {sps:9.2f} samples/s"
                )
        for workers in (0, 1, 2):
            sps = bench_loader(full_data, 256, workers)
            print(f"loader: 256x256 shards, {workers} workers: {sps:8.1f} samples/s decoded")


if __name__ == "__main__":
    main()
