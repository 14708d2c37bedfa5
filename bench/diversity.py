"""Does character diversity help? The same pose budget over 10 training characters vs over 3,
scored on 3 held-out characters, beside copy-the-input.

    .venv/bin/python bench/diversity.py [--work DIR] [--system tha1|tha3] [--poses 120]
                                        [--test-poses 20] [--steps 300] [--seeds 0] [--threads 1]

Models: 13 characters made from the built-in one (tests/identity_variants.py `builtin_variant`:
each its own face drawing, name and head proportions), so the run needs nothing but this
repository. `thagen render` renders two datasets at a small size with one manifest each:

- `ten/`: characters 0-9 in `train` sharing `--poses` poses, characters 10-12 in `test`,
- `three/`: characters 0-2 in `train` sharing the same `--poses`, the same `test`.

Then each is trained with the tiny config of `--system` (tha1: `tiny` at 64 px, 3 stages;
tha3: `tha3_tiny` at 128 px, 5 stages; `--steps` per stage, seeds from `--seeds`) and evaluated
on its `test` split with `thagen train eval`. Rendering is skipped when DIR already holds a
finished dataset, so a second run only trains.

Output: one line per (dataset, seed) and a summary with the mean over seeds, e.g.

    tha1 ten   seed 0: full system RMSE 0.18921 (copy-the-input 0.25464)  SSIM 0.4962 (0.3231)
    tha1 three seed 0: full system RMSE 0.23975 (copy-the-input 0.25464)  SSIM 0.3729 (0.3231)
    mean: ten RMSE 0.18921 / three 0.23975: 10 characters are 21.1% better at 120 poses

and DIR/diversity.json with every report's headline figures (`system`, `poses`, `steps`,
`runs`: [{dataset, characters, seed, figure, rmse, ssim, baseline_rmse, baseline_ssim}]).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

TRAIN_CHARACTERS = {"ten": 10, "three": 3}
TEST_CHARACTERS = (10, 11, 12)
SYSTEMS = {
    # system: (config, image size, manifest extras, the report's headline figure)
    "tha1": ("tiny", 64, "", "full_system"),
    "tha3": ("tha3_tiny", 128, "pose_vector: tha3\nframing_preset: tha3\nimages: tha3_stages\n", "poser"),
}


def build_models(root: Path) -> list[Path]:
    """The 13 character models (one outfit each)."""
    from identity_variants import builtin_variant

    return [builtin_variant(root, c, 0) for c in range(13)]


def render(out: Path, models: list[Path], train: int, args: argparse.Namespace) -> Path:
    """Render `train` training characters sharing `--poses` poses, and the 3 test characters."""
    if (out / "index.json").is_file():
        return out
    _, size, extras, _ = SYSTEMS[args.system]
    train_list = "".join(f"      - {m}\n" for m in models[:train])
    test_list = "".join(f"      - {models[c]}\n" for c in TEST_CHARACTERS)
    manifest = out.parent / f"{out.name}.yaml"
    manifest.write_text(
        f"version: 1\nseed: 7\noutput: {out}\nimage_size: {size}\n{extras}"
        "render: {engine: cycles, device: cpu, samples: 1}\n"
        "characters:\n"
        + "".join(f"  - path: {m}\n" for m in [*models[:train], *(models[c] for c in TEST_CHARACTERS)])
        + f"splits:\n  train:\n    poses: {args.poses}\n    characters:\n{train_list}"
        f"  test:\n    poses_per_character: {args.test_poses}\n    characters:\n{test_list}"
    )
    print(f"rendering {out.name}: {train} training characters, {args.poses} poses ...", flush=True)
    subprocess.run([sys.executable, "-m", "thagen", "render", str(manifest)], check=True, capture_output=True)
    return out


def train_and_eval(data: Path, run: Path, seed: int, args: argparse.Namespace) -> dict:
    """Train every stage of the tiny config for `--steps`, then evaluate on `test`."""
    config, _, _, figure = SYSTEMS[args.system]
    cfg = run.parent / f"{run.name}.yaml"
    raw = (REPO / "train" / "configs" / f"{config}.yaml").read_text()
    cfg.write_text(
        raw + f"\nseed: {seed}\nval_every: 0\nsample_every: 0\ncheckpoint_every: 0\nlog_every: 100\n"
    )
    command = ["train", "tha3"] if args.system == "tha3" else ["train", "all"]
    common = [str(cfg), "--data", str(data), "--out", str(run), "--max-steps", str(args.steps), "--overwrite"]
    thagen = [sys.executable, "-m", "thagen"]
    subprocess.run([*thagen, *command, *common], check=True, capture_output=True)
    subprocess.run([*thagen, "train", "eval", str(run), "--split", "test"], check=True, capture_output=True)
    report = json.loads((run / "eval-test" / "report.json").read_text())
    return report[figure]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, help="keep renders and runs here (default: a temporary folder)")
    ap.add_argument("--system", default="tha1", choices=sorted(SYSTEMS))
    ap.add_argument(
        "--poses", type=int, default=120, help="training poses, shared by the training characters"
    )
    ap.add_argument("--test-poses", type=int, default=20, help="poses of each held-out character")
    ap.add_argument("--steps", type=int, default=300, help="training steps per stage")
    ap.add_argument("--seeds", default="0", help="comma-separated training seeds")
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads per training process (on a busy 2-core machine 2 threads ran 50x slower than 1)",
    )
    args = ap.parse_args()
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    seeds = [int(s) for s in args.seeds.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        models = build_models(work / "models")
        runs = []
        for name, count in TRAIN_CHARACTERS.items():
            data = render(work / f"{args.system}-{name}", models, count, args)
            for seed in seeds:
                got = train_and_eval(data, work / f"run-{args.system}-{name}-{seed}", seed, args)
                base = got["baseline"]
                runs.append({"dataset": name, "characters": count, "seed": seed, "figure": SYSTEMS[args.system][3],
                             "rmse": got["rmse"], "ssim": got["ssim"], "baseline_rmse": base["rmse"],
                             "baseline_ssim": base["ssim"]})  # fmt: skip
                print(
                    f"{args.system} {name:<5} seed {seed}: {SYSTEMS[args.system][3].replace('_', ' ')} "
                    f"RMSE {got['rmse']:.5f} (copy-the-input {base['rmse']:.5f})  "
                    f"SSIM {got['ssim']:.4f} ({base['ssim']:.4f})",
                    flush=True,
                )
        mean = {n: sum(r["rmse"] for r in runs if r["dataset"] == n) / len(seeds) for n in TRAIN_CHARACTERS}
        gain = (mean["three"] - mean["ten"]) / mean["three"] * 100
        print(
            f"mean: ten RMSE {mean['ten']:.5f} / three {mean['three']:.5f}: 10 characters are "
            f"{gain:.1f}% {'better' if gain >= 0 else 'worse'} at {args.poses} poses"
        )
        result = {"system": args.system, "poses": args.poses, "test_poses": args.test_poses, "steps": args.steps,
                  "runs": runs}  # fmt: skip
        (work / "diversity.json").write_text(json.dumps(result, indent=2) + "\n")
        print(f"-> {work / 'diversity.json'}")


if __name__ == "__main__":
    main()
