"""The annotation tool in a real browser (Debian's Chromium driven by Playwright) on the
built-in character and Gene: queue, mouse drag, keyboard-only pass, skip, reload."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import yaml
from annotate_server import serve

from thagen.render.framing.annotation_file import load_annotation

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SIZE = 384  # front render size for tests (the tool's default is 768)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium; scripts/install-test-deps.sh)")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="the dev extra's playwright is not installed"
    )
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, gene_pmx: Path):
    tmp = tmp_path_factory.mktemp("browser")
    served = serve(
        ["builtin", str(gene_pmx)],
        tmp,
        "--size",
        str(SIZE),
        "--samples",
        "1",
        "--annotator",
        "Browser test",
    )
    served.tmp = tmp
    yield served
    served.stop()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1100, "height": 760})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, errors


def _ids(server) -> dict[str, str]:
    _, data = server.request("GET", "/api/characters")
    return {r["model"]: r["id"] for r in data["characters"]}


def _open(page, server, cid: str) -> dict:
    page.goto(f"{server.base}/annotate/{cid}")
    page.wait_for_selector("body[data-ready='1']", timeout=240_000)
    return page.evaluate("window.thagenState()")


def _saved(server, cid: str):
    return load_annotation(server.tmp / "annotations" / f"{cid}.annotation.yaml")


def test_queue_page(page, server) -> None:
    page.goto(server.base + "/")
    page.wait_for_selector("body[data-ready='1']")
    rows = page.locator("#queue tbody tr")
    assert rows.count() == 2
    assert "0 / 2 done" in page.locator("#progress").inner_text()
    # every row has its thumbnail or, until the worker has rendered it, a placeholder
    cells = page.locator("#queue tbody tr td:first-child")
    assert cells.locator("img, .nothumb").count() == 2
    page.click("#filters button[data-filter='flagged']")
    page.wait_for_function("document.querySelectorAll('#queue tbody tr').length <= 2")


def test_drag_the_chin_line_and_enter(page, server, tmp_path: Path) -> None:
    cid = _ids(server)["builtin"]
    state = _open(page, server, cid)
    assert state["size"] == SIZE and state["rect"]["height"] > 0
    rect, lines, m = state["rect"], state["lines"], state["mapping"]
    css_per_px = rect["height"] / state["size"]
    # a test artifact (README's: bench/annotate.py); THAGEN_TEST_ARTIFACTS keeps it out of tmp
    shot = Path(os.environ.get("THAGEN_TEST_ARTIFACTS") or tmp_path) / "annotate.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    x = rect["left"] + rect["width"] * 0.3
    y = rect["top"] + lines["chin"] * css_per_px
    page.mouse.move(x, y)
    page.mouse.down()
    for k in range(1, 6):
        page.mouse.move(x, y + 3 * k)
    page.mouse.up()
    target_row = (y + 15 - rect["top"]) / css_per_px
    after = page.evaluate("window.thagenState()")
    assert abs(after["lines"]["chin"] - target_row) <= 1.0
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: cid not in url, timeout=60_000)
    ann = _saved(server, cid)
    assert ann.kind == "manual" and ann.annotator == "Browser test"
    target_y = (target_row - m["row0"]) / m["row_per_y"]
    assert abs(ann.chin[1] - target_y) * abs(m["row_per_y"]) <= 1.0  # within 1 px of the drag
    top_y = (lines["top"] - m["row0"]) / m["row_per_y"]
    assert abs(ann.head_top[1] - top_y) * abs(m["row_per_y"]) < 0.01  # untouched
    # Enter opened the next character that needs work: Gene
    assert _ids(server)["Gene_light.pmx"] in page.url
    # reload the annotated one: the saved lines come back
    again = _open(page, server, cid)
    assert abs(again["lines"]["chin"] - target_row) <= 1.0
    assert "manual" in page.locator("#status").inner_text()


def test_keyboard_only(page, server) -> None:
    cid = _ids(server)["Gene_light.pmx"]
    state = _open(page, server, cid)
    m, start = state["mapping"], state["lines"]
    assert state["active"] == "chin"
    page.keyboard.press("Tab")  # centre
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Tab")  # head top
    page.keyboard.press("Shift+ArrowUp")  # 10 px up
    page.keyboard.press("ArrowDown")  # 1 px down: 9 px up in all
    page.keyboard.press("Tab")  # chin
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("u")  # undo the last nudge
    now = page.evaluate("window.thagenState()")
    assert now["active"] == "chin"
    assert abs(now["lines"]["top"] - (start["top"] - 9)) < 1e-6
    assert abs(now["lines"]["chin"] - (start["chin"] + 1)) < 1e-6
    assert abs(now["lines"]["center"] - (start["center"] + 1)) < 1e-6
    width = now["rect"]["width"]
    page.mouse.move(now["rect"]["left"] + 0.5 * width, now["rect"]["top"] + 0.3 * now["rect"]["height"])
    page.keyboard.press("z")  # zoom x2 around the cursor, and back
    page.wait_for_function(f"window.thagenState().rect.width > {1.9 * width}")
    page.keyboard.press("z")
    page.wait_for_function(f"Math.abs(window.thagenState().rect.width - {width}) < 1")
    page.keyboard.press("?")
    assert page.locator("#help").is_visible()
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: cid not in url, timeout=60_000)
    ann = _saved(server, cid)
    scale = abs(m["row_per_y"])
    assert abs(ann.head_top[1] - (start["top"] - 9 - m["row0"]) / m["row_per_y"]) * scale < 0.01
    assert abs(ann.chin[1] - (start["chin"] + 1 - m["row0"]) / m["row_per_y"]) * scale < 0.01
    assert abs(ann.center_x - (start["center"] + 1 - m["col0"]) / m["col_per_x"]) * scale < 0.01
    # S skips with a reason, from the keyboard too
    _open(page, server, cid)
    page.keyboard.press("s")
    page.keyboard.type("hat")
    page.keyboard.press("Enter")
    deadline = time.monotonic() + 30
    skip = server.tmp / "annotations" / f"{cid}.skip.yaml"
    while not skip.exists():
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert yaml.safe_load(skip.read_text())["reason"] == "hat"
    page.wait_for_url(lambda url: cid not in url)  # nothing left: back to the queue
    assert "2 / 2 done" in page.wait_for_selector("#progress:has-text('done')").inner_text()
    _open(page, server, cid)
    page.reload()
    page.wait_for_selector("body[data-ready='1']")
    assert "skipped" in page.locator("#status").inner_text()
    assert "skipped: hat" in page.locator("#saved").inner_text()


def test_a_stale_edit_is_shown_not_saved(browser, server) -> None:
    cid = _ids(server)["builtin"]
    first, second = browser.new_context(), browser.new_context()
    try:
        a, b = first.new_page(), second.new_page()
        _open(a, server, cid)
        _open(b, server, cid)
        a.keyboard.press("ArrowUp")
        a.keyboard.press("Enter")
        a.wait_for_url(lambda url: cid not in url)
        saved = _saved(server, cid)
        b.keyboard.press("ArrowDown")
        b.keyboard.press("Enter")
        b.wait_for_selector("#message.error")
        assert "changed by someone else" in b.locator("#message").inner_text()
        assert cid in b.url  # the second person stays on the character
        assert _saved(server, cid) == saved  # nothing overwritten
    finally:
        first.close()
        second.close()


def test_the_token_page(browser, tmp_path: Path) -> None:
    served = serve(["builtin"], tmp_path, "--no-render", "--host", "0.0.0.0")
    context = browser.new_context()
    try:
        page = context.new_page()
        assert page.goto(served.base + "/").status == 401
        page.goto(served.url)  # the printed URL, with ?token=
        page.wait_for_selector("body[data-ready='1']")
        assert page.locator("#queue tbody tr").count() == 1
        href = page.locator("#queue tbody a").first.get_attribute("href")
        assert "token=" in href
    finally:
        context.close()
        served.stop()


def test_kill_the_server_mid_session(browser, server, tmp_path: Path) -> None:
    import signal

    cache = ["--cache-dir", str(server.tmp / "cache"), "--size", str(SIZE), "--samples", "1"]
    models = ["builtin", next(a for a in server.proc.args if a.endswith("Gene_light.pmx"))]
    served = serve(models, tmp_path, *cache)
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(served.base + "/")
        page.wait_for_selector("body[data-ready='1']")
        page.keyboard.press("Enter")  # the first character that needs work
        page.wait_for_url("**/annotate/*")  # (the queue page's body is ready too: wait to leave it)
        page.wait_for_selector("body[data-ready='1']", timeout=240_000)
        first = page.url.rsplit("/", 1)[1]
        assert first in served.request("GET", "/api/characters")[1]["characters"][0]["id"]
        page.keyboard.press("Shift+ArrowDown")
        page.keyboard.press("Enter")
        page.wait_for_url(lambda url: first not in url)
        page.wait_for_selector("body[data-ready='1']", timeout=240_000)
        # the second character is open, unsaved work on it, when the server dies
        page.keyboard.press("ArrowUp")
        assert served.stop(signal.SIGKILL) == -signal.SIGKILL
        page.keyboard.press("Enter")
        page.wait_for_selector("#message.error")
        assert "not answering" in page.locator("#message").inner_text()
    finally:
        context.close()
    files = sorted((tmp_path / "annotations").iterdir())
    assert [f.name for f in files] == [f"{first}.annotation.yaml"]  # the accepted one, nothing else
    ann = load_annotation(files[0])
    assert ann.kind == "manual"
    again = serve(models, tmp_path, *cache, "--no-render")
    try:
        _, data = again.request("GET", "/api/characters")
        status = {r["id"]: r["status"] for r in data["characters"]}
        assert status[first] == "manual" and sorted(status.values()) == ["manual", "todo"]
        assert again.request("GET", "/api/first-todo")[1]["id"] != first
    finally:
        again.stop()


def test_carry_over(browser, server, tmp_path: Path) -> None:
    """Off by default; C turns it on; the next character starts from its own suggestion moved as
    the last accepted answer was moved from its suggestion (in head heights)."""
    cache = ["--cache-dir", str(server.tmp / "cache"), "--size", str(SIZE), "--samples", "1"]
    models = ["builtin", next(a for a in server.proc.args if a.endswith("Gene_light.pmx"))]
    served = serve(models, tmp_path, *cache)
    context = browser.new_context(viewport={"width": 1100, "height": 760})
    try:
        page = context.new_page()
        first = served.request("GET", "/api/first-todo")[1]["id"]
        state = _open(page, served, first)
        assert state["carry"] is False and "carry over: off" in page.locator("#carry").inner_text()
        suggested = lines_of_suggestion(served, first, state["mapping"])
        assert all(abs(state["lines"][k] - suggested[k]) < 1e-6 for k in suggested)
        page.keyboard.press("c")
        assert page.evaluate("window.thagenState().carry") is True
        page.keyboard.press("Shift+ArrowDown")  # chin 10 px down
        page.keyboard.press("Tab")
        page.keyboard.press("Tab")  # head top
        page.keyboard.press("ArrowUp")
        page.keyboard.press("ArrowUp")
        page.keyboard.press("ArrowUp")  # 3 px up
        page.keyboard.press("Enter")
        page.wait_for_url(lambda url: first not in url, timeout=60_000)
        page.wait_for_selector("body[data-ready='1']", timeout=240_000)
        second = page.url.rsplit("/", 1)[1]
        now = page.evaluate("window.thagenState()")
        assert now["carry"] is True and first in page.locator("#carry").inner_text()
        own = lines_of_suggestion(served, second, now["mapping"])
        # both pictures show a suggested head height in the same pixels (the view is framed by
        # the suggestion), so relative offsets are the same pixel offsets here
        height = (own["chin"] - own["top"]) / (suggested["chin"] - suggested["top"])
        assert abs(now["lines"]["chin"] - (own["chin"] + 10 * height)) < 0.01
        assert abs(now["lines"]["top"] - (own["top"] - 3 * height)) < 0.01
        assert abs(now["lines"]["center"] - own["center"]) < 0.01
        page.keyboard.press("c")  # off: nothing edited yet, so back to the suggestion
        off = page.evaluate("window.thagenState()")
        assert off["carry"] is False and abs(off["lines"]["chin"] - own["chin"]) < 1e-6
        page.reload()
        page.wait_for_selector("body[data-ready='1']", timeout=60_000)
        assert page.evaluate("window.thagenState().carry") is False  # the setting persists
        # an already annotated character keeps its own answer even with carry over on
        page.keyboard.press("c")
        again = _open(page, served, first)
        saved = _saved_in(tmp_path, first)
        m = again["mapping"]
        assert abs(again["lines"]["chin"] - (m["row0"] + m["row_per_y"] * saved.chin[1])) < 0.01
    finally:
        context.close()
        served.stop()


def lines_of_suggestion(served, cid: str, m: dict) -> dict[str, float]:
    s = served.request("GET", f"/api/characters/{cid}")[1]["suggestion"]
    return {
        "top": m["row0"] + m["row_per_y"] * s["head_top"][1],
        "chin": m["row0"] + m["row_per_y"] * s["chin"][1],
        "center": m["col0"] + m["col_per_x"] * s["center_x"],
    }


def _saved_in(tmp: Path, cid: str):
    return load_annotation(tmp / "annotations" / f"{cid}.annotation.yaml")


def test_placeholders_thumbnails_and_the_pending_spinner(browser, gene_pmx: Path, tmp_path: Path) -> None:
    """A fresh cache: the queue shows placeholders, then the thumbnails the worker renders for
    characters nobody opened; a character opened shows a spinner until its front render is in."""
    served = serve(
        ["builtin", str(gene_pmx)], tmp_path, "--size", str(SIZE), "--samples", "1", "--prefetch", "0"
    )
    context = browser.new_context(viewport={"width": 1100, "height": 760})
    try:
        page = context.new_page()
        page.goto(served.base + "/")
        page.wait_for_selector("body[data-ready='1']")
        assert page.locator("#queue tbody .nothumb.pending").count() >= 1  # Blender is still starting
        # the small thumbnail renders (128 px), loaded by the queue page in place of the placeholders
        page.wait_for_function(
            "(() => { const im = [...document.querySelectorAll('#queue tbody td:first-child img')];"
            " return im.length === 2 && im.every(i => i.complete && i.naturalWidth === 128); })()",
            timeout=240_000,
        )
        assert page.locator("#queue tbody .nothumb").count() == 0
        cid = _ids(served)["Gene_light.pmx"]
        page.goto(f"{served.base}/annotate/{cid}")
        page.wait_for_selector("#pending:not([hidden])", timeout=30_000)  # the big one is rendering
        page.wait_for_selector("body[data-ready='1']", timeout=240_000)
        assert page.locator("#pending").is_hidden()
        assert page.evaluate("window.thagenState().size") == SIZE
    finally:
        context.close()
        served.stop()
