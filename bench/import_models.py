"""Import speed and memory: every model in tests/data plus a generated 200k-vertex one.

For each model: the import time into an empty scene (with per-stage timings), then the time
and process RSS of importing and removing it N times in one process (RSS at start, after 10,
after N): a flat RSS means `ImportedModel.remove` frees everything.

    .venv/bin/python bench/import_models.py [--repeat 50] [--no-large]

mmd_tools is not compared: it is a Blender add-on, not installable from PyPI into the bpy module.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import bpy

from thagen.rigs.blender.import_model import import_model
from thagen.rigs.builtin import write_builtin_character
from thagen.rigs.normalize import normalize
from thagen.rigs.reader import read_model

REPO = Path(__file__).resolve().parents[1]
TESTDATA = REPO / "tests" / "data"


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def bench(path: Path, repeat: int) -> None:
    t = time.perf_counter()
    model = read_model(path)
    read_s = time.perf_counter() - t
    rig = normalize(model, model_path=path)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    t = time.perf_counter()
    imported = import_model(model, rig=rig, model_path=path)
    first = time.perf_counter() - t
    stages = ", ".join(f"{k} {v * 1000:.0f}" for k, v in imported.report.timings.items() if k != "total")
    print(
        f"\n{path.name}: {model.vertex_count} vertices, {model.face_count} faces, {len(model.morphs)} morphs"
    )
    print(f"  read {read_s:.3f} s; import into an empty scene {first:.3f} s  (ms: {stages})")
    imported.remove()
    start = rss_mb()
    marks = {}
    t = time.perf_counter()
    for i in range(1, repeat + 1):
        import_model(model, rig=rig, model_path=path).remove()
        if i in (10, repeat):
            marks[i] = rss_mb()
    elapsed = time.perf_counter() - t
    print(
        f"  import+remove x{repeat}: {elapsed:.2f} s ({elapsed / repeat * 1000:.0f} ms each); "
        f"RSS start {start:.0f} MB, after 10 {marks.get(10, float('nan')):.0f} MB, "
        f"after {repeat} {marks[repeat]:.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--no-large", action="store_true", help="skip the generated 200k-vertex model")
    args = parser.parse_args()
    paths = sorted(p for p in TESTDATA.rglob("*") if p.suffix.lower() in (".pmx", ".pmd"))
    for path in paths:
        bench(path, args.repeat)
    if not args.no_large:
        with tempfile.TemporaryDirectory() as tmp:
            bench(write_builtin_character(tmp, "builtin_200k", target_vertices=200_000), args.repeat)


if __name__ == "__main__":
    main()
