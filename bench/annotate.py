"""The annotation tool's speed and the suggestion's quality.

    .venv/bin/python bench/annotate.py               # 768 px front renders, 4 spp (the tool's default)
    .venv/bin/python bench/annotate.py --size 384    # quicker
    .venv/bin/python bench/annotate.py --screenshot docs/img/annotate.png   # README's picture
    .venv/bin/python bench/annotate.py --only thumbs                         # one part

Prints:
1. per model (built-in, Gene PMX, Gene PMD): the suggestion's confidence and its error against
   the truth (built-in: the geometry thagen.rigs.builtin.head describes; Gene: the hand annotation in
   tests/data/annotations), in % of the head height;
2. the front render time per character, cold (a fresh worker: Blender start included, then a
   warm worker) and cached (a restarted server serving the PNG from its disk cache);
3. the queue's thumbnails of characters nobody opened: time until all are shown, per render;
4. seconds per character for a person who accepts a good suggestion: a real Chromium (Playwright)
   presses Enter as soon as the page is ready, timed from page ready to the next character shown.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
GENE = REPO / "tests" / "data" / "gene"
HAND = REPO / "tests" / "data" / "annotations" / "gene-light-7ce1902e.annotation.yaml"


def suggestion_quality() -> None:
    import numpy as np

    from thagen.annotate.tool.catalog import build_catalog
    from thagen.annotate.tool.suggest import compute_suggestion
    from thagen.render.framing.annotation_file import load_annotation
    from thagen.rigs.builtin import head as builtin_head

    drop = builtin_head.MOUTH_SHAPES["あ"][1][3]
    y = np.linspace(builtin_head.HEAD_CENTER[1] - 2.0, builtin_head.MOUTH_Y, 200_001)
    chin = float(y[builtin_head._face_z_jaw(np.zeros_like(y), y, drop) <= 0.18 - 0.36].min())
    truth = {"builtin": (float(builtin_head.HEAD_CENTER[1] + builtin_head.HEAD_RADII[1] + 0.12), chin)}
    hand = load_annotation(HAND)
    truth["Gene_light.pmx"] = truth["Gene_light.pmd"] = (float(hand.head_top[1]), float(hand.chin[1]))
    with tempfile.TemporaryDirectory() as tmp:
        catalog = build_catalog(
            ["builtin", str(GENE / "Gene_light.pmx"), str(GENE / "Gene_light.pmd")], Path(tmp)
        )
        print("model            confidence  head-top error  chin error   reasons")
        for ch in catalog:
            t0 = time.perf_counter()
            s = compute_suggestion(ch)
            dt = time.perf_counter() - t0
            top, low = truth[ch.label]
            h = top - low
            print(
                f"{ch.label:16s} {s.confidence:10.2f} {100 * (s.head_top[1] - top) / h:+13.2f}% "
                f"{100 * (s.chin[1] - low) / h:+10.2f}%   {'; '.join(s.reasons) or '-'}  ({dt:.2f} s)"
            )


def front_render_times(size: int, samples: int) -> None:
    from thagen.annotate.front.cache import FrontSettings, render_key
    from thagen.annotate.front.renders import wait_ready
    from thagen.annotate.tool.catalog import build_catalog
    from thagen.annotate.tool.session import Session, SessionOptions

    settings = FrontSettings(size=size, samples=samples)
    with tempfile.TemporaryDirectory() as tmp:
        models = ["builtin", str(GENE / "Gene_light.pmx")]
        opts = SessionOptions(cache_dir=Path(tmp) / "cache", front=settings, prefetch=0)
        session = Session(build_catalog(models, Path(tmp) / "a"), opts)
        try:
            for i, ch in enumerate(session.catalog):
                session.suggestion(ch)
                t0 = time.perf_counter()
                session.detail(ch)
                state = wait_ready(session.renders, render_key(ch.job, settings), 900)
                print(
                    f"front render {size} px, {samples} spp, {ch.label}: cold "
                    f"({'fresh worker' if i == 0 else 'warm worker'}) {time.perf_counter() - t0:.2f} s ({state})"
                )
        finally:
            session.close()
        session = Session(build_catalog(models, Path(tmp) / "a"), opts)
        try:
            for ch in session.catalog:
                t0 = time.perf_counter()
                d = session.detail(ch)
                with open(session.image_file(ch, "front"), "rb") as f:
                    f.read()
                print(
                    f"front render {ch.label}: cached {1000 * (time.perf_counter() - t0):.1f} ms ({d['image']['state']})"
                )
        finally:
            session.close()


def queue_thumbnails(size: int, samples: int) -> None:
    """The queue's thumbnails of characters nobody opened (prefetch 0): one small render each."""
    from thagen.annotate.front.cache import FrontSettings
    from thagen.annotate.tool.catalog import build_catalog
    from thagen.annotate.tool.session import Session, SessionOptions

    with tempfile.TemporaryDirectory() as tmp:
        models = ["builtin", str(GENE / "Gene_light.pmx"), str(GENE / "Gene_light.pmd")]
        opts = SessionOptions(
            cache_dir=Path(tmp) / "cache", front=FrontSettings(size=size, samples=samples), prefetch=0
        )
        t0 = time.perf_counter()
        session = Session(build_catalog(models, Path(tmp) / "a"), opts)
        try:
            while not all(r["thumb"] for r in session.rows()):
                time.sleep(0.1)
            total = time.perf_counter() - t0
            each = sorted(session.renders.seconds.values())
            print(
                f"queue thumbnails ({len(each)} characters, fresh cache and worker): all shown after "
                f"{total:.2f} s (suggestions and Blender start included); one thumbnail render "
                f"{each[0]:.2f}-{each[-1]:.2f} s"
            )
        finally:
            session.close()


def seconds_per_accept(size: int, samples: int, screenshot: Path | None) -> None:
    from annotate_server import serve
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        models = ["builtin", str(GENE / "Gene_light.pmx"), str(GENE / "Gene_light.pmd")]
        served = serve(
            models,
            Path(tmp),
            "--size",
            str(size),
            "--samples",
            str(samples),
            "--prefetch",
            "3",
            "--no-thumbs",
        )
        try:
            # let the prefetch finish, as it does while a person works on the first character
            # (with --no-thumbs a thumbnail is there only once the big front render is)
            deadline = time.monotonic() + 900
            while time.monotonic() < deadline:
                _, data = served.request("GET", "/api/characters")
                if all(r["thumb"] for r in data["characters"]):
                    break
                time.sleep(0.5)
            first = served.request("GET", "/api/first-todo")[1]["id"]
            with sync_playwright() as pw:
                browser = pw.chromium.launch(
                    executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
                )
                page = browser.new_page(viewport={"width": 1280, "height": 1000})
                page.goto(f"{served.base}/annotate/{first}")
                page.wait_for_selector("body[data-ready='1']")
                if screenshot is not None:
                    page.screenshot(path=str(screenshot))
                    print(f"screenshot: {screenshot}")
                times = []
                for _ in range(len(models) - 1):
                    url = page.url
                    t0 = time.perf_counter()
                    page.keyboard.press("Enter")
                    page.wait_for_url(lambda u, url=url: u != url)
                    page.wait_for_selector("body[data-ready='1']")
                    times.append(time.perf_counter() - t0)
                browser.close()
            print(
                f"accepting a good suggestion: {statistics.median(times):.3f} s per character "
                f"(median of {len(times)}; page ready -> next character shown)"
            )
        finally:
            served.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=768)
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument(
        "--screenshot", type=Path, help="save the first annotate page (docs/img/annotate.png)"
    )
    parser.add_argument("--only", choices=["quality", "fronts", "thumbs", "accept"], help="one part")
    args = parser.parse_args()
    parts = {
        "quality": suggestion_quality,
        "fronts": lambda: front_render_times(args.size, args.samples),
        "thumbs": lambda: queue_thumbnails(args.size, args.samples),
        "accept": lambda: seconds_per_accept(args.size, args.samples, args.screenshot),
    }
    for name, part in parts.items():
        if args.only in (None, name):
            part()


if __name__ == "__main__":
    main()
