"""Render speed of thagen's pipeline, against a bare Blender loop and the naive way.

    .venv/bin/python bench/render.py                       # builtin + Gene, 16 poses, 256 px, 4 spp
    .venv/bin/python bench/render.py --poses 4 --naive 2   # quicker
    .venv/bin/python bench/render.py --engines cycles,eevee,workbench   # engines side by side
    .venv/bin/python bench/render.py --overhead --poses 63 # per-character overhead in a stream

Prints, per model:
1. thagen's pose-sample loop (expression + rotation images, shards written) in images/s,
   against a bare loop of `bpy.ops.render.render(write_still=True)` over the identical scene,
   settings and poses (shape-key values and bone rotations poked straight into bpy); goal >= 0.90.
2. thagen's whole-character rate against the naive way (a fresh python + bpy process per image
   that re-reads and re-imports the model); goal >= 10x.
3. images/s at the default phong preset (goal >= 9 on a 2-core machine), the per-character
   overhead (read, rig, framing, import, reset, QA) as a share of a THA1-sized character
   (1 reset + 63 poses = 127 images; goal < 5%), and the share of the sample loop spent outside
   Blender's render call (posing, PNG handling, tar writing).
Numbers vary by about +-20% between runs on a shared machine (docs/rendering.md).

With `--engines`, instead: per engine (each with its default samples unless --samples is given,
docs/rendering.md "Engines"), the first render of a fresh process (EEVEE compiles its shaders
then) and, per model, the warm sample loop's images/s and the whole character's; the OpenGL
device the rasterizers ran on is printed first (llvmpipe: Mesa on the CPU).

With `--overhead`, instead: THA1-sized characters of each model rendered one after another as a
worker does, with the next character planned in line and planned ahead (bench/render_overhead.py).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GENE = REPO / "tests" / "data" / "gene" / "Gene_light.pmx"
THA1_POSES = 63

NAIVE_SCRIPT = r"""
import sys, time
t0 = time.perf_counter()
from pathlib import Path
from thagen.render.character import RunSettings, adhoc_job, load_model, rig_for, framing_for, make_renderer
from thagen.render.character import expression_only
job = adhoc_job(sys.argv[1], poses=int(sys.argv[4]) + 1, size=int(sys.argv[2]), samples=int(sys.argv[3]))
settings = RunSettings(image_size=int(sys.argv[2]), samples=int(sys.argv[3]))
renderer = make_renderer(settings)
model, path = load_model(job, settings)
rig = rig_for(model, job, path)
framing = framing_for(model, rig, job)
renderer.load_character(model, rig, path, "phong")
renderer.frame(framing.head_top, framing.chin, framing.center_x)
renderer.set_lighting("phong", 0.5, 0.5)
renderer.set_pose(job.poses()[int(sys.argv[4])])
Path(sys.argv[5]).write_bytes(renderer.render_png())
print(time.perf_counter() - t0)
"""


def model_arg(name: str) -> str:
    return str(GENE) if name == "gene" else name


def bare_loop(renderer, job, settings, poses) -> tuple[float, list[bytes]]:
    """images/s of bpy.ops.render.render over the same scene and poses, raw bpy property writes only."""
    import bpy

    from thagen.render.character import expression_only, framing_for, load_model, rig_for
    from thagen.render.scene.blender_scene import capture_output

    model, path = load_model(job, settings)
    rig = rig_for(model, job, path)
    framing = framing_for(model, rig, job)
    imported = renderer.load_character(model, rig, path, job.lighting.preset)
    renderer.frame(framing.head_top, framing.chin, framing.center_x)
    renderer.set_lighting(job.lighting.preset, job.lighting.ambient, job.lighting.diffuse)
    keys = imported.mesh.data.shape_keys.key_blocks
    roles = ("eye_close_left", "eye_close_right", "eye_close_both", "mouth_open")
    key_names = [imported.report.shape_keys.get(n, n) for n in (rig.morph_for(r) for r in roles) if n]
    bones = [imported.armature.pose.bones[rig.bone_for(r)] for r in ("head", "neck")]
    # Record the raw states thagen's posing produces, then replay them with plain bpy writes.
    states = []
    for pose in poses:
        for p in (expression_only(pose), pose):
            renderer.set_pose(p)
            states.append(([keys[k].value for k in key_names], [tuple(b.rotation_quaternion) for b in bones]))
    scene = bpy.context.scene
    out = []
    t0 = time.perf_counter()
    with capture_output():  # Blender's chatter goes to one temp file, as thagen's does
        for values, quats in states:
            for k, v in zip(key_names, values):
                keys[k].value = v
            for b, q in zip(bones, quats):
                b.rotation_quaternion = q
            bpy.ops.render.render(write_still=True)
            with open(scene.render.filepath, "rb") as f:
                out.append(f.read())
    dt = time.perf_counter() - t0
    renderer.unload_character()
    return len(states) / dt, out


def interleaved(renderer, job, settings, poses) -> tuple[float, float]:
    """images/s of thagen's per-pose work (pose, render, shard write) and of the bare loop,
    alternating pose by pose so the machine's changing load hits both alike."""
    import bpy

    from thagen.render.character import (
        Shot,
        Timer,
        expression_only,
        framing_for,
        load_model,
        pose_record,
        rig_for,
    )
    from thagen.render.output.shards import Sample, ShardWriter, sample_key
    from thagen.render.scene.blender_scene import capture_output

    model, path = load_model(job, settings)
    rig = rig_for(model, job, path)
    framing = framing_for(model, rig, job)
    imported = renderer.load_character(model, rig, path, job.lighting.preset)
    renderer.frame(framing.head_top, framing.chin, framing.center_x)
    shot = Shot(renderer, job, Timer(), None)
    rest = shot({"mouth": 1.0})
    keys = imported.mesh.data.shape_keys.key_blocks
    roles = ("eye_close_left", "eye_close_right", "eye_close_both", "mouth_open")
    key_names = [imported.report.shape_keys.get(n, n) for n in (rig.morph_for(r) for r in roles) if n]
    bones = [imported.armature.pose.bones[rig.bone_for(r)] for r in ("head", "neck")]
    states = []
    for pose in poses:
        pair = []
        for p in (expression_only(pose), pose):
            renderer.set_pose(p)
            pair.append(([keys[k].value for k in key_names], [tuple(b.rotation_quaternion) for b in bones]))
        states.append(pair)
    scene = bpy.context.scene
    t_thagen = t_bare = 0.0
    with (
        tempfile.TemporaryDirectory(prefix="thagen-bench-") as tmp,
        ShardWriter(Path(tmp) / "x-0000.tar") as w,
    ):
        for i, (pose, pair) in enumerate(zip(poses, states)):
            t0 = time.perf_counter()
            expr, rot = shot(expression_only(pose)), shot(pose)
            w.add(Sample(sample_key(job.id, i), rest, expr, rot, pose_record(job, i, pose)))
            t1 = time.perf_counter()
            with capture_output():
                for values, quats in pair:
                    for k, v in zip(key_names, values):
                        keys[k].value = v
                    for b, q in zip(bones, quats):
                        b.rotation_quaternion = q
                    bpy.ops.render.render(write_still=True)
                    with open(scene.render.filepath, "rb") as f:
                        f.read()
            t2 = time.perf_counter()
            t_thagen += t1 - t0
            t_bare += t2 - t1
    renderer.unload_character()
    n = 2 * len(poses)
    return n / t_thagen, n / t_bare


def thagen_run(job, renderer, settings, poses: int) -> dict:
    """One render_character into a temp OUT; its rates and the expr/rot PNGs it wrote."""
    from thagen.render.character import render_character
    from thagen.render.output.shards import iter_shard

    with tempfile.TemporaryDirectory(prefix="thagen-bench-") as tmp:
        res = render_character(job, Path(tmp), renderer, settings)
        pngs = [
            p
            for rel in res.shards
            for s in iter_shard(Path(tmp) / rel)
            for p in (s["expr.png"], s["rot.png"])
        ]
    t = res.timings
    overhead = res.seconds - t["samples"]
    tha1_total = overhead + THA1_POSES * t["samples"] / poses
    return {
        "res": res,
        "pngs": pngs,
        "loop_rate": 2 * poses / t["samples"],
        "outside": 1.0 - t["samples_blender_render"] / t["samples"],
        "overhead": overhead,
        "tha1_total": tha1_total,
    }


def naive_rate(name: str, args: argparse.Namespace) -> float:
    times = []
    with tempfile.TemporaryDirectory(prefix="thagen-bench-") as tmp:
        for i in range(args.naive):
            cmd = [
                sys.executable,
                "-c",
                NAIVE_SCRIPT,
                model_arg(name),
                str(args.size),
                str(args.samples),
                str(i),
            ]
            cmd.append(str(Path(tmp) / f"naive{i}.png"))
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True)
            times.append(time.perf_counter() - t0)
    return 1.0 / statistics.median(times)


def engine_speeds(args: argparse.Namespace) -> None:
    """images/s per engine, one after another in this process, and each one's first render."""
    import bpy

    from thagen.render.character import RunSettings, adhoc_job, make_renderer
    from thagen.render.manifest.types import DEFAULT_SAMPLES
    from thagen.render.scene.gl_probe import probe_gl

    probe = probe_gl()
    gl = f"{probe.renderer} ({probe.device_type})" if probe.ok else f"none ({probe.detail})"
    print(f"Blender {bpy.app.version_string}, {args.size} px, {args.poses} poses per character; OpenGL: {gl}")
    models = args.models.split(",")
    print(
        "| engine | samples | first render (s) | "
        + " | ".join(f"{m} loop / character images/s" for m in models)
        + " |"
    )
    print("|---|---|---|" + "---|" * len(models))
    for engine in args.engines.split(","):
        samples = args.samples if args.samples is not None else DEFAULT_SAMPLES[engine]
        settings = RunSettings(image_size=args.size, samples=samples, engine=engine)
        renderer = make_renderer(settings)
        # the first render of the process: EEVEE compiles its shaders here (Cycles loads kernels)
        first = thagen_run(
            adhoc_job("builtin", poses=1, size=args.size, samples=samples), renderer, settings, 1
        )
        cells = []
        for name in models:
            job = adhoc_job(model_arg(name), poses=args.poses, size=args.size, samples=samples)
            run = max(
                (thagen_run(job, renderer, settings, args.poses) for _ in range(max(1, args.repeat))),
                key=lambda r: r["loop_rate"],
            )
            n = run["res"].images
            cells.append(f"{run['loop_rate']:.2f} / {n / run['res'].seconds:.2f}")
        print(f"| {engine} | {samples} | {first['res'].timings['reset']:.1f} | " + " | ".join(cells) + " |")
        sys.stdout.flush()
        renderer.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="builtin,gene", help="comma list: builtin, gene or model paths")
    ap.add_argument("--poses", type=int, default=16, help="pose samples per character (THA1: 63)")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--samples", type=int, default=None, help="default 4 (with --engines: each engine's)")
    ap.add_argument("--repeat", type=int, default=2, help="thagen and bare runs, interleaved; best of each")
    ap.add_argument("--naive", type=int, default=3, help="images rendered the naive way (0: skip)")
    ap.add_argument("--no-bare", action="store_true", help="skip the bare bpy loop")
    ap.add_argument("--engines", help="comma list (cycles,eevee,workbench): images/s per engine instead")
    ap.add_argument(
        "--overhead",
        action="store_true",
        help="per-character overhead in a stream (models may include dense)",
    )
    args = ap.parse_args()
    if args.overhead:
        from render_overhead import overhead

        overhead(args, model_arg)
        return
    if args.engines:
        engine_speeds(args)
        return
    if args.samples is None:
        args.samples = 4

    import bpy
    import numpy as np

    from thagen.render.character import RunSettings, adhoc_job, make_renderer
    from thagen.render.character.qa_checks import decode_png

    settings = RunSettings(image_size=args.size, samples=args.samples)
    renderer = make_renderer(settings)
    print(
        f"Blender {bpy.app.version_string}, {args.size} px, {args.samples} spp, {args.poses} poses per character"
    )
    # Warm-up (Cycles kernels, first-scene allocations) so no model pays the process's first render.
    thagen_run(adhoc_job("builtin", poses=1, size=args.size, samples=args.samples), renderer, settings, 1)
    for name in args.models.split(","):
        job = adhoc_job(model_arg(name), poses=args.poses, size=args.size, samples=args.samples)
        runs, bares = [], []
        for _ in range(max(1, args.repeat)):
            runs.append(thagen_run(job, renderer, settings, args.poses))
            if not args.no_bare:
                bares.append(bare_loop(renderer, job, settings, job.poses()))
        best = max(runs, key=lambda r: r["loop_rate"])
        res, t = best["res"], best["res"].timings
        n = 1 + 2 * args.poses + 2
        print(f"\n== {name} ({job.id}) ==")
        rates = ", ".join(f"{r['loop_rate']:.2f}" for r in runs)
        print(
            f"thagen: {n} images in {res.seconds:.2f} s ({n / res.seconds:.2f} images/s overall); sample loop "
            f"{best['loop_rate']:.2f} images/s (runs: {rates})"
        )
        print("  timings: " + ", ".join(f"{k} {v:.3f}s" for k, v in sorted(t.items())))
        tha1 = best["tha1_total"]
        print(
            f"  per-character overhead {best['overhead']:.2f} s = {100 * best['overhead'] / tha1:.1f}% of a "
            f"THA1-sized character (127 images, projected {tha1:.1f} s = {127 / tha1:.2f} images/s; goal < 5%)"
        )
        setup = sum(t.get(k, 0.0) for k in ("read_rig", "framing", "import", "reset"))
        qa_time = t.get("qa_render", 0.0) + t.get("qa", 0.0)
        print(
            f"    of which read+rig+framing+import+reset {setup:.2f} s = {100 * setup / tha1:.1f}% "
            f"(the issue's definition), QA renders+checks {qa_time:.2f} s = {100 * qa_time / tha1:.1f}%"
        )
        print(f"  sample loop outside Blender's render call: {100 * best['outside']:.1f}%")
        if not args.no_bare:
            ours, bare = interleaved(renderer, job, settings, job.poses())
            print(
                f"interleaved pose by pose: thagen {ours:.2f} images/s, bare bpy loop {bare:.2f} images/s; "
                f"thagen/bare = {ours / bare:.2f} (goal >= 0.90)"
            )
        if bares:
            bare_rate = max(b[0] for b in bares)
            same = all(
                np.array_equal(decode_png(a), decode_png(b))
                for a, b in zip(best["pngs"], bares[0][1], strict=True)
            )
            print(
                f"bare bpy loop: {bare_rate:.2f} images/s (runs: {', '.join(f'{b[0]:.2f}' for b in bares)}); "
                f"best runs: thagen/bare = {best['loop_rate'] / bare_rate:.2f}; identical pixels: {same}"
            )
        if args.naive:
            naive = naive_rate(name, args)
            print(
                f"naive (fresh process per image, re-import): {1 / naive:.2f} s per image ({naive:.2f} images/s); "
                f"thagen THA1-sized / naive = {127 / tha1 / naive:.1f}x (goal >= 10x)"
            )
        sys.stdout.flush()
    renderer.close()


if __name__ == "__main__":
    main()
