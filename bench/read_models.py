"""Model reading speed: every .pmx/.pmd under tests/data, a generated 200k-vertex PMX, 50k-vertex VRMs.

    .venv/bin/python bench/read_models.py [--repeat 5] [--vertices 200000] [--vrm-vertices 50000]

For each file prints vertices, bytes, the best and median read time over --repeat reads
(from bytes already in memory, so disk speed does not count) and vertices/s. Two large
models, written with `pmx_bytes` (write times printed too):
- the built-in character (thagen.rigs.builtin) at --vertices: long runs of one deform type;
- Gene's vertices tiled up to --vertices: Gene's BDEF1/2/4 mix (runs of ~6 vertices), the
  hard case for variable-size vertex records.
VRM: the built-in character at --vrm-vertices written as VRM 0.x and 1.0 (textures embedded,
every morph target dense over all vertices), and once more with the root bone rotated so the
skin's bind pose differs from the rest pose (the per-vertex matrix-blend path UniVRM files with
non-identity bind poses take).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from pathlib import Path

import numpy as np

from thagen.rigs.builtin import builtin_character
from thagen.rigs.formats.pmx.reader import pmx_bytes
from thagen.rigs.model import Model
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
    ap.add_argument("--vrm-vertices", type=int, default=50_000)
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
    _vrm_rows(args.vrm_vertices, args.repeat)


def _vrm_rows(vertices: int, repeat: int) -> None:
    import json
    import struct

    from thagen.rigs.builtin.vrm import builtin_vrm_bytes

    for version in ("0.x", "1.0"):
        data = builtin_vrm_bytes(version, target_vertices=vertices)
        _row(f"builtin VRM {version}", data, repeat)
    # rebind: rotate the root node, so joint-world x inverse-bind is no longer the identity
    n_json = struct.unpack_from("<I", data, 12)[0]
    doc = json.loads(data[20 : 20 + n_json])
    doc["nodes"][0]["rotation"] = [0.0, 0.0998, 0.0, 0.995]
    text = json.dumps(doc).encode()
    text += b" " * (-len(text) % 4)
    rest = data[20 + n_json :]
    glb = struct.pack("<4sII", b"glTF", 2, 20 + len(text) + len(rest)) + struct.pack(
        "<II", len(text), 0x4E4F534A
    )
    _row("builtin VRM 1.0 rebound", glb + text + rest, repeat)


if __name__ == "__main__":
    main()
