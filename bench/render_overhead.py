"""Per-character overhead in a stream of THA1-sized characters, as a worker renders them.

    .venv/bin/python bench/render.py --overhead                 # builtin, gene, dense (22k vertices)
    .venv/bin/python bench/render.py --overhead --repeat 1 --poses 63

A worker renders one character after another with one Blender. What a character costs beyond
its pose-sample loop (read, rig, framing, import, the reset render, the QA renders and checks,
unload) is its overhead; the goal is under 5% of a THA1-sized character (63 poses, 127 images).
Two ways, alternated character by character so the machine's changing load hits both alike:

- in line: each character planned (read, rig, framing, poses, framing confidence) when it starts;
- prefetched: as the workers do (render/character/prefetch.py): the next character planned on a
  helper thread while the current one's sample loop renders.

Per model: the seconds outside the sample loop, their share of the character's wall time, and the
sample loop's images/s (the helper thread competes with Cycles for the CPU, so the loop is
checked too: a prefetch that only moved time into the loop would show there). Then the whole
stream's wall time per way. The `dense` model is the built-in character written as a 22k-vertex
PMX with a hat (rigs/builtin/variants.py), a model the framing was not tuned on.
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path
from typing import Any

MODES = ("in line", "prefetched")


def dense_model(directory: Path) -> Path:
    from thagen.rigs.builtin.files import write_builtin_character
    from thagen.rigs.builtin.variants import VARIANTS

    return write_builtin_character(directory, "dense22k", target_vertices=22_000, variant=VARIANTS["hat"])


def _stream(jobs: list[Any], renderer: Any, settings: Any, ahead: Any | None, out: Path) -> list[Any]:
    """Render `jobs` one after another into `out`, as a worker does; the results."""
    from thagen.render.character import render_character
    from thagen.render.run.worker import release_freed_memory

    results = []
    for i, job in enumerate(jobs):
        if ahead is not None:
            ahead.expect(jobs[i + 1] if i + 1 < len(jobs) else None)
        results.append(render_character(job, out, renderer, settings, prefetcher=ahead))
        release_freed_memory()
    return results


def overhead(args: Any, model_arg: Any) -> None:
    import bpy

    from thagen.render.character import Prefetcher, RunSettings, adhoc_job, make_renderer

    samples = 4 if args.samples is None else args.samples
    settings = RunSettings(image_size=args.size, samples=samples)
    renderer = make_renderer(settings)
    names = args.models.split(",")
    print(
        f"Blender {bpy.app.version_string}, {args.size} px, {samples} spp, {args.poses} poses per character "
        f"({1 + 2 * args.poses} images + 2 QA renders), models in turn: {', '.join(names)}"
    )
    with tempfile.TemporaryDirectory(prefix="thagen-bench-") as tmp:
        paths = {n: (str(dense_model(Path(tmp) / "dense")) if n == "dense" else model_arg(n)) for n in names}
        # seeds differ per pass so no character is a repeat of one already planned
        passes = [
            [adhoc_job(paths[n], poses=args.poses, size=args.size, samples=samples, seed=p) for n in names]
            for p in range(max(1, args.repeat))
        ]
        _stream(
            [adhoc_job("builtin", poses=1, size=args.size, samples=samples)],
            renderer,
            settings,
            None,
            Path(tmp) / "w",
        )
        rows: dict[str, dict[str, list[dict[str, float]]]] = {n: {m: [] for m in MODES} for n in names}
        walls: dict[str, float] = dict.fromkeys(MODES, 0.0)
        ahead = Prefetcher(settings)
        try:
            for p, jobs in enumerate(passes):
                # both ways render the same characters; which goes first alternates per pass
                order = MODES if p % 2 == 0 else MODES[::-1]
                for mode in order:
                    out = Path(tmp) / f"{mode.replace(' ', '-')}-{p}"
                    # the stream starts with the pass's last character, so the first measured one
                    # was prefetched too (as every character but a worker's first is)
                    lead = [
                        adhoc_job(paths[names[-1]], poses=1, size=args.size, samples=samples, seed=99 + p)
                    ]
                    results = _stream(
                        lead + jobs, renderer, settings, ahead if mode == "prefetched" else None, out
                    )[1:]
                    walls[mode] += sum(r.seconds for r in results)
                    for name, res in zip(names, results, strict=True):
                        t = res.timings
                        rows[name][mode].append(
                            {
                                "outside": res.seconds - t["samples"],
                                "share": (res.seconds - t["samples"]) / res.seconds,
                                "loop": 2 * args.poses / t["samples"],
                                "wait": t.get("plan_wait", 0.0),
                                "qa": t.get("qa_render", 0.0) + t.get("qa", 0.0),
                                "import_reset": t.get("import", 0.0) + t.get("reset", 0.0),
                            }
                        )
        finally:
            ahead.close()
        print(f"prefetched plans used: {ahead.hits}")
    renderer.close()
    print(
        "\n| model | way | outside the loop (s) | share of the character | of which import+reset / QA (s) "
        "| plan wait (s) | loop images/s |"
    )
    print("|---|---|---|---|---|---|---|")
    for name in names:
        for mode in MODES:
            r = rows[name][mode]

            def med(key: str, r: list[dict[str, float]] = r) -> float:
                return statistics.median(x[key] for x in r)

            print(
                f"| {name} | {mode} | {med('outside'):.3f} | {100 * med('share'):.1f}% | "
                f"{med('import_reset'):.3f} / {med('qa'):.3f} | {med('wait'):.3f} | {med('loop'):.2f} |"
            )
    print(
        "\nwhole stream (the measured characters, all passes): "
        + ", ".join(f"{m} {walls[m]:.1f} s" for m in MODES)
        + f"; prefetched / in line = {walls['prefetched'] / walls['in line']:.3f}"
    )
