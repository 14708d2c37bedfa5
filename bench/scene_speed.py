"""Warm-loop render speed: Gene, 256 px, phong, 4 spp (the dataset's default configuration).

Each iteration sets a random THA1 pose (shape keys + head/neck rotations), renders and reads
the PNG bytes. images/s = 1 / median iteration time. A warm-up render is excluded.

    .venv/bin/python bench/scene_speed.py [--size 256] [--samples 4] [--count 30] [--device CPU]
        [--no-split]   (keep the never-moving faces in the deforming mesh, to compare)
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from thagen.render.scene.blender_scene import BlenderRenderer
from thagen.rigs.normalize import normalize
from thagen.rigs.reader import read_model

GENE = Path(__file__).resolve().parents[1] / "tests" / "data" / "gene" / "Gene_light.pmx"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=GENE)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--count", type=int, default=30)
    parser.add_argument("--device", default="CPU")
    parser.add_argument("--preset", default="phong")
    parser.add_argument("--vary-ambient", action="store_true", help="new ambient in [0.5, 1.2] per image")
    parser.add_argument(
        "--no-split",
        action="store_true",
        help="don't split off the never-moving faces (BlenderRenderer split_static)",
    )
    args = parser.parse_args()
    model = read_model(args.model)
    rig = normalize(model, model_path=args.model)
    renderer = BlenderRenderer(
        image_size=args.size, samples=args.samples, device=args.device, split_static=not args.no_split
    )
    t = time.perf_counter()
    renderer.load_character(model, rig, args.model, shading=args.preset)
    load_s = time.perf_counter() - t
    lo, hi = np.asarray(rig.head_min), np.asarray(rig.head_max)
    x = 0.5 * (lo[0] + hi[0])
    renderer.frame(np.array([x, hi[1], 0.0]), np.array([x, lo[1], 0.0]))
    renderer.set_lighting(args.preset)
    rng = np.random.default_rng(0)
    t = time.perf_counter()
    renderer.render_png()
    first = time.perf_counter() - t
    times = []
    for _ in range(args.count):
        pose = {k: float(rng.uniform(0, 1)) for k in ("left_eye", "right_eye", "mouth")}
        pose |= {k: float(rng.uniform(-1, 1)) for k in ("head_x", "head_y", "neck_z")}
        t = time.perf_counter()
        if args.vary_ambient:
            renderer.set_lighting(args.preset, ambient=float(rng.uniform(0.5, 1.2)))
        renderer.set_pose(pose)
        renderer.render_png()
        times.append(time.perf_counter() - t)
    median = statistics.median(times)
    device = renderer.scene.cycles.device
    print(
        f"{args.model.name} {args.size}px {args.preset} {args.samples} spp on {device}"
        f"{' (ambient varied)' if args.vary_ambient else ''}{' (no split)' if args.no_split else ''}: "
        f"load {load_s:.2f} s, "
        f"first render {first:.2f} s, median {median * 1000:.0f} ms -> {1 / median:.1f} images/s "
        f"(min {min(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms)"
    )
    renderer.close()


if __name__ == "__main__":
    main()
