"""Model reading speed: every .pmx/.pmd under tests/data, plus a generated 200k-vertex PMX.

    .venv/bin/python bench/read_models.py [--repeat 5] [--vertices 200000]

For each file prints vertices, bytes, the best and median read time over --repeat reads
(from bytes already in memory, so disk speed does not count) and vertices/s. Two large
models, written with `pmx_bytes` (write times printed too):
- the built-in character (thagen.rigs.builtin) at --vertices: long runs of one deform type;
- Gene's vertices tiled up to --vertices: Gene's BDEF1/2/4 mix (runs of ~6 vertices), the
  hard case for variable-size vertex records.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from pathlib import Path

import numpy as np

from thagen.rigs.builtin import builtin_character
from thagen.rigs.model import Model
from thagen.rigs.pmx import pmx_bytes
from thagen.rigs.reader import read_model_bytes

REPO = Path(__file__).resolve().parents[1]


def _time_read(data: bytes, name: str, repeat: int) -> tuple[int, float, float]:
    times = []
    model = None
    for _ in range(repeat):
        start = time.perf_counter()
        model = read_model_bytes(data, name=name)
        times.append(time.perf_counter() - start)
    assert model is not None
    return model.vertex_count, min(times), statistics.median(times)


def tile(model: Model, vertices: int) -> Model:
    """`model` with its vertices and each material's triangles repeated to >= `vertices` vertices."""
    reps = -(-vertices // model.vertex_count)
    n = model.vertex_count
    out = dataclasses.replace(model, morphs=[], display_frames=[], soft_bodies=[])
    for name in ("positions", "normals", "uvs", "extra_uvs", "deform_types", "bone_indices", "bone_weights",
                 "sdef", "edge_scales"):  # fmt: skip
        setattr(out, name, np.concatenate([getattr(model, name)] * reps))
    blocks, materials, start = [], [], 0
    for mat in model.materials:
        faces = model.faces[mat.face_start : mat.face_start + mat.face_count]
        blocks += [faces + r * n for r in range(reps)]
        materials.append(dataclasses.replace(mat, face_start=start, face_count=mat.face_count * reps))
        start += mat.face_count * reps
    out.faces = np.concatenate(blocks).astype(np.int32)
    out.materials = materials
    return out


def _row(name: str, data: bytes, repeat: int) -> None:
    n, best, median = _time_read(data, name, repeat)
    print(f"{name:<28} {n:>9,} {len(data):>12,} {best:>9.3f} {median:>9.3f} {n / best:>14,.0f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--vertices", type=int, default=200_000)
    ap.add_argument("--testdata", type=Path, default=REPO / "tests" / "data")
    args = ap.parse_args()

    print(f"{'model':<28} {'vertices':>9} {'bytes':>12} {'best s':>9} {'median s':>9} {'vertices/s':>14}")
    files = sorted(p for p in args.testdata.rglob("*") if p.suffix.lower() in (".pmx", ".pmd"))
    for path in files:
        _row(str(path.relative_to(args.testdata)), path.read_bytes(), args.repeat)

    gene = read_model_bytes((args.testdata / "gene" / "Gene_light.pmx").read_bytes())
    for label, model in (
        ("builtin", builtin_character(args.vertices)),
        ("Gene tiled", tile(gene, args.vertices)),
    ):
        start = time.perf_counter()
        data = pmx_bytes(model)
        write_s = time.perf_counter() - start
        _row(f"{label} ({model.vertex_count:,} v)", data, args.repeat)
        print(f"  ({label} written by pmx_bytes in {write_s:.3f} s)")


if __name__ == "__main__":
    main()
