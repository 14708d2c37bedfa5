"""Render-farm figures on this machine, side by side in one run:

    .venv/bin/python bench/farm.py                 # Gene + built-in, 30 poses, 256 px, 4 spp
    .venv/bin/python bench/farm.py --poses 8       # quicker

1. images/s (wall time of the whole `thagen render`, start-up included) for one worker with
   2 render threads, 2 workers with 1 thread each, Ray with 2 CPUs (a private instance that
   thagen starts: 2 actors x 1 thread, and 1 x 2 threads) and Ray joined with --address to a
   cluster already running (`ray start --head`, as on a farm), all on the same manifest,
   interleaved over --repeats rounds (medians); each against the best single-process figure
   (goal >= 0.95). Also where the wall time goes: start-up (to the first character's start),
   steady (first start to last finish) and tail (last finish to exit: merge, Ray shutdown).
2. Per-character overhead (read, rig, framing, import, reset, QA, unload) of Gene as a share
   of a THA1-sized character (1 reset + 63 poses = 127 images; goal < 5%).
3. Worker RSS at the start and after 50 characters, without recycling and with
   --recycle-after 10 (goal: growth under 10% with recycling).
4. Scaling on paper from the measured per-node rate and merge time: wall time and
   machine-hours for manifests/tha1.yaml and manifests/dmv.yaml on 10, 200 and 1,000 nodes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from ray_cluster import ray_head  # noqa: E402 - the tests' private `ray start --head`

REPO = Path(__file__).resolve().parents[1]
GENE = REPO / "tests" / "data" / "gene" / "Gene_light.pmx"
THAGEN = [sys.executable, "-m", "thagen"]
THA1_POSES = 63
# the two reference manifests: (images, characters, images of the largest character); images are
# 2 per pose + the reset and 2 QA renders per character. A character never spans two nodes.
DATASETS = {
    "tha1 (8,032 chars, 520,000 poses)": (520_000 * 2 + 8_032 * 3, 8_032, 64 * 2 + 3),
    "dmv (357 chars, 714,000 poses)": (714_000 * 2 + 357 * 3, 357, 2_000 * 2 + 3),
}

RSS_SCRIPT = r"""
import sys, tempfile
from pathlib import Path
from thagen.render.character import RunSettings, adhoc_job, make_renderer, render_character
from thagen.render.run.worker import release_freed_memory
n, size = int(sys.argv[1]), int(sys.argv[2])
settings = RunSettings(image_size=size, samples=1, threads=1)
job = adhoc_job(sys.argv[3], poses=1, size=size, samples=1)
renderer = make_renderer(settings)
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
print("rss", 0, rss(), flush=True)
for i in range(n):
    with tempfile.TemporaryDirectory() as tmp:
        render_character(job, Path(tmp), renderer, settings)
    release_freed_memory()  # as the pool's worker does after every character
    print("rss", i + 1, rss(), flush=True)
"""


def write_manifest(directory: Path, poses: int, size: int, samples: int) -> Path:
    data = {
        "version": 1,
        "seed": 3,
        "output": "out",
        "image_size": size,
        "render": {"engine": "cycles", "device": "cpu", "samples": samples},
        "characters": [{"builtin": True}, {"path": str(GENE)}],
        "splits": {"train": {"ratio": 1, "poses_per_character": poses}},
    }
    path = directory / "manifest.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@dataclass
class Timed:
    wall: float  # seconds of the whole `thagen render`
    images: int
    startup: float  # process start to the first character's start
    steady: float  # first character's start to the last one's finish
    tail: float  # last finish to exit (dataset.yaml, merge, Ray shutdown)


def timed_render(manifest: Path, out: Path, *args: str, env: dict[str, str] | None = None) -> Timed:
    """One `thagen render` into a fresh OUT, its wall time split by the journal's timestamps."""
    t0, e0 = time.perf_counter(), time.time()
    proc = subprocess.run(
        [*THAGEN, "render", str(manifest), "--out", str(out), "--restart", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0", **(env or {})},
    )
    wall, e1 = time.perf_counter() - t0, time.time()
    if proc.returncode != 0:
        sys.exit(f"thagen render {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    journal = [json.loads(line) for line in (out / "journal.jsonl").read_text().splitlines()]
    images = sum(int(r["images"]) + 2 for r in journal)
    first = min(r["finished_at"] - r["seconds"] for r in journal)
    last = max(r["finished_at"] for r in journal)
    return Timed(wall, images, first - e0, last - first, e1 - last)


def overhead_share(out: Path) -> tuple[float, float]:
    """Gene's per-character overhead (s) and its share of a THA1-sized character."""
    rec = next(
        json.loads(line)
        for line in (out / "journal.jsonl").read_text().splitlines()
        if json.loads(line)["model"] != "builtin"
    )
    t = rec["timings"]
    overhead = float(rec["seconds"]) - float(t.get("samples", 0.0))
    per_image = float(t["samples"]) / (2 * int(rec["samples"]))
    return overhead, overhead / (overhead + 2 * THA1_POSES * per_image)


def rss_run(chars: int, size: int) -> list[float]:
    proc = subprocess.run(
        [sys.executable, "-c", RSS_SCRIPT, str(chars), str(size), str(GENE)], capture_output=True, text=True
    )
    if proc.returncode != 0:
        sys.exit(f"RSS run failed:\n{proc.stderr[-3000:]}")
    return [float(line.split()[2]) for line in proc.stdout.splitlines() if line.startswith("rss ")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--poses", type=int, default=30)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--samples", type=int, default=4)
    ap.add_argument("--rss-characters", type=int, default=50)
    ap.add_argument("--recycle", type=int, default=10)
    ap.add_argument("--no-ray", action="store_true")
    ap.add_argument("--repeats", type=int, default=3, help="interleaved rounds of the throughput runs")
    ap.add_argument("--throughput-only", action="store_true", help="skip merge, RSS and scaling")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="thagen-bench-farm-") as name:
        tmp = Path(name)
        manifest = write_manifest(tmp, args.poses, args.size, args.samples)
        configs: list[tuple[str, list[str]]] = [
            ("1 worker x 2 threads", ["--workers", "1", "--threads", "2"]),
            ("2 workers x 1 thread", ["--workers", "2", "--threads", "1"]),
        ]
        if not args.no_ray:
            configs += [
                ("Ray private, 2 x 1 thread", ["--backend", "ray", "--workers", "2", "--threads", "1"]),
                ("Ray private, 1 x 2 threads", ["--backend", "ray", "--workers", "1", "--threads", "2"]),
                ("Ray --address, 2 x 1 thread", ["--backend", "ray", "--threads", "1"]),
                ("Ray --address, 1 x 2 threads", ["--backend", "ray", "--threads", "2"]),
            ]
        runs: dict[str, list[Timed]] = {label: [] for label, _ in configs}
        outs: dict[str, Path] = {}
        with ray_head(cpus=2) if not args.no_ray else contextlib.nullcontext() as head:
            for round_no in range(args.repeats):  # interleaved: A B C ... A B C, against drifting load
                for i, (label, extra) in enumerate(configs):
                    out = tmp / f"out-{i}"
                    env = None
                    if label.startswith("Ray --address"):
                        extra, env = [*extra, "--address", head.address], head.env
                    t = timed_render(manifest, out, *extra, env=env)
                    runs[label].append(t)
                    outs[label] = out
                    print(
                        f"[{round_no + 1}/{args.repeats}] {label:28s} {t.images:4d} images in {t.wall:5.1f} s "
                        f"= {t.images / t.wall:5.2f}/s (start-up {t.startup:.1f} s, steady {t.steady:.1f} s, "
                        f"tail {t.tail:.1f} s); load {os.getloadavg()[0]:.1f}",
                        flush=True,
                    )
        rates = {k: statistics.median(t.images / t.wall for t in v) for k, v in runs.items()}
        steady = {k: statistics.median(t.images / t.steady for t in v) for k, v in runs.items()}
        best = max(rates[label] for label, _ in configs[:2])
        best_steady = max(steady[label] for label, _ in configs[:2])
        print(
            f"\nmedians of {args.repeats}    wall img/s  vs best 1-process | steady img/s  vs best | "
            "start-up  tail (s)"
        )
        for label, rate in rates.items():
            ts = runs[label]
            print(
                f"  {label:28s} {rate:9.2f} {rate / best:8.2f}          | {steady[label]:12.2f} "
                f"{steady[label] / best_steady:6.2f} | {statistics.median(t.startup for t in ts):8.1f} "
                f"{statistics.median(t.tail for t in ts):5.1f}"
            )

        for label, _ in configs:  # the journal of each config's last round
            overhead, share = overhead_share(outs[label])
            print(
                f"\nGene per-character overhead ({label}): {overhead:.2f} s = {share:.1%} of a "
                "THA1-sized character (127 images)"
            )
        if args.throughput_only:
            return

        from thagen.render.run.merge import merge_output

        t0 = time.perf_counter()
        report = merge_output(outs[configs[0][0]])
        merge_s = time.perf_counter() - t0
        merged_samples = max(1, sum(sh.samples for sh in report.shards))
        shard_bytes = sum((outs[configs[0][0]] / sh.path).stat().st_size for sh in report.shards)
        merge_per_sample = merge_s / merged_samples
        print(
            f"merge (in process, no start-up): {merge_s:.3f} s for {merged_samples} samples, ok={report.ok}"
        )

        free = rss_run(args.rss_characters, 64)
        print(
            f"\nworker RSS without recycling: {free[1]:.0f} MB after 1 character, {free[-1]:.0f} MB after "
            f"{len(free) - 1} (+{free[-1] / free[1] - 1:.1%}); {free[0]:.0f} MB before the first"
        )
        runs = [rss_run(args.recycle, 64) for _ in range(max(1, args.rss_characters // args.recycle))]
        peak = max(max(r[1:]) for r in runs)
        first = runs[0][1]
        print(
            f"worker RSS with --recycle-after {args.recycle}: {first:.0f} MB after 1 character, at most "
            f"{peak:.0f} MB over {sum(len(r) - 1 for r in runs)} characters (+{peak / first - 1:.1%})"
        )

        node_rate = best
        print(
            f"\nscaling on paper: {node_rate:.2f} images/s per 2-core node (best above), merge {merge_per_sample * 1e3:.2f} ms/sample"
        )
        print(f"  {'dataset':36s} {'nodes':>6s} {'wall':>9s} {'machine-h':>10s}")
        for name, (images, characters, largest) in DATASETS.items():
            samples = images // 2
            for nodes in (10, 200, 1000):
                busy = min(nodes, characters)  # with fewer characters than nodes, nodes idle
                render_s = max(images / (node_rate * busy), largest / node_rate)
                wall_h = (render_s + samples * merge_per_sample) / 3600
                note = (
                    f"  ({nodes - busy} nodes idle: one character per node at most)" if busy < nodes else ""
                )
                print(f"  {name:36s} {nodes:6d} {wall_h:8.2f}h {wall_h * nodes:9.0f}{note}")
        per_image = shard_bytes / (3 * merged_samples)
        print(
            f"  about {per_image / 1e3:.0f} kB per image: 1,000 nodes produce "
            f"{node_rate * 1000 * per_image / 1e6:.0f} MB/s in all, which a Ray driver (one process writing "
            "everything) or the shared storage must absorb; merge is one sequential pass (sha256 of every shard)"
        )


if __name__ == "__main__":
    main()
