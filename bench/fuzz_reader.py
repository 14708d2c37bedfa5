"""Fuzz the PMX/PMD and VRM readers with many seeded mutations and count what comes out.

    .venv/bin/python bench/fuzz_reader.py --cases 10000 [--seed 0] [--source gene.pmx]
    .venv/bin/python bench/fuzz_reader.py --cases 10000 --source builtin0.vrm --source builtin1.vrm

Prints cases tried, ModelFormatErrors, parsed-ok, errors caught only by the reader's safety
net (no byte offset: an explicit check is missing), crashes (any other exception, with
samples) and hangs (cases over 2 s). Uses the mutators and seed files of
tests/rigs/test_reader_fuzz.py and, for the .vrm seeds, tests/rigs/test_vrm_fuzz.py (imported from the
tests folder).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from test_reader_fuzz import mutate, run_case, seed_inputs  # noqa: E402
from test_vrm_fuzz import mutate_vrm, seed_vrm_inputs  # noqa: E402

from thagen.rigs.reader import SAFETY_NET_PREFIX, count_fields  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--source", action="append", help="only these seed files (default: all)")
    ap.add_argument("--testdata", type=Path, default=REPO / "tests" / "data")
    args = ap.parse_args()

    seeds = {**seed_inputs(args.testdata), **seed_vrm_inputs()}
    names = sorted(args.source or seeds)
    fields = {name: [] if name.endswith(".vrm") else count_fields(seeds[name]) for name in names}
    rng = np.random.default_rng(args.seed)
    counts: Counter[str] = Counter()
    crashes: list[str] = []
    net: list[str] = []
    hangs: list[str] = []
    slowest = (0.0, "")
    start = time.perf_counter()
    for case in range(args.cases):
        name = names[case % len(names)]
        if name.endswith(".vrm"):
            data = mutate_vrm(seeds[name], rng)
        else:
            data = mutate(seeds[name], rng, fields[name])
        kind, result, seconds = run_case(data, f"{name}#{case}")
        counts[kind] += 1
        if kind == "crash":
            crashes.append(f"{name}#{case}: {type(result).__name__}: {result}")
        elif kind == "error" and str(result).find(SAFETY_NET_PREFIX) >= 0:
            counts["safety-net"] += 1
            net.append(str(result))
        if seconds > 2.0:
            hangs.append(f"{name}#{case}: {seconds:.2f} s")
        if seconds > slowest[0]:
            slowest = (seconds, f"{name}#{case}")
    total = time.perf_counter() - start
    print(f"seed files: {', '.join(f'{n} ({len(seeds[n]):,} B)' for n in names)}")
    print(f"cases tried:        {args.cases}")
    print(f"ModelFormatError:   {counts['error']}")
    print(f"parsed ok:          {counts['ok']}")
    print(f"  of the errors, caught only by the safety net: {counts['safety-net']}")
    print(f"crashes (other exceptions): {counts['crash']}")
    print(f"hangs (> 2 s):      {len(hangs)}")
    print(f"slowest case:       {slowest[0] * 1000:.0f} ms ({slowest[1]})")
    print(f"total time:         {total:.1f} s ({args.cases / total:.0f} cases/s)")
    for title, items in (("crash samples", crashes), ("safety-net samples", net), ("hangs", hangs)):
        if items:
            print(f"{title}:")
            for line in items[:5]:
                print("  " + line[:300])
    sys.exit(1 if crashes or hangs else 0)


if __name__ == "__main__":
    main()
