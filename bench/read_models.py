"""Model reading speed: every .pmx/.pmd under ../shared/testdata, plus a generated 200k-vertex PMX.

    .venv/bin/python bench/read_models.py [--repeat 5] [--vertices 200000]

For each file prints vertices, bytes, the best and median read time over --repeat reads
(from bytes already in memory, so disk speed does not count) and vertices/s. The large
model is the built-in character (thagen.rigs.builtin) at --vertices, written with
`pmx_bytes`; its write time is printed too.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from thagen.rigs.builtin import builtin_character
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


def _row(name: str, data: bytes, repeat: int) -> None:
    n, best, median = _time_read(data, name, repeat)
    print(f"{name:<28} {n:>9,} {len(data):>12,} {best:>9.3f} {median:>9.3f} {n / best:>14,.0f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--vertices", type=int, default=200_000)
    ap.add_argument("--testdata", type=Path, default=REPO.parent / "shared" / "testdata")
    args = ap.parse_args()

    print(f"{'model':<28} {'vertices':>9} {'bytes':>12} {'best s':>9} {'median s':>9} {'vertices/s':>14}")
    files = sorted(p for p in args.testdata.rglob("*") if p.suffix.lower() in (".pmx", ".pmd"))
    for path in files:
        _row(str(path.relative_to(args.testdata)), path.read_bytes(), args.repeat)

    model = builtin_character(args.vertices)
    start = time.perf_counter()
    data = pmx_bytes(model)
    write_s = time.perf_counter() - start
    _row(f"builtin ({model.vertex_count:,} v)", data, args.repeat)
    print(f"(builtin written by pmx_bytes in {write_s:.3f} s)")


if __name__ == "__main__":
    main()
