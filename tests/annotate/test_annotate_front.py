"""Front renders for the annotation page: a real Blender worker process, the disk cache, the
pixel <-> model mapping checked against the rendered pixels, and a model that fails."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from thagen.annotate.front.cache import FrontSettings, entry_dir, load_mapping, render_key
from thagen.annotate.front.renders import wait_ready
from thagen.annotate.tool.catalog import build_catalog
from thagen.annotate.tool.session import Session, SessionOptions
from thagen.rigs import builtin

pytestmark = pytest.mark.slow
SETTINGS = FrontSettings(size=256, samples=1)


def _session(tmp: Path, models: list[str]) -> Session:
    catalog = build_catalog(models, tmp / "annotations")
    return Session(catalog, SessionOptions(cache_dir=tmp / "cache", front=SETTINGS, prefetch=0))


def test_front_render_mapping_and_cache(tmp_path: Path) -> None:
    session = _session(tmp_path, ["builtin"])
    try:
        (ch,) = session.catalog
        assert session.detail(ch)["image"]["state"] in ("pending", "ready")
        key = render_key(ch.job, SETTINGS)
        assert wait_ready(session.renders, key, 300) == "ready", session.renders.failures
        detail = session.detail(ch)
        assert detail["image"]["url"].endswith("/front.png")
        mapping = load_mapping(entry_dir(tmp_path / "cache", key))
        assert mapping.size == 256 and mapping.row_per_y < 0 < mapping.col_per_x
        assert abs(mapping.col_per_x + mapping.row_per_y) < 1e-6  # square pixels
        # the hair cap's outline (the head ellipsoid grown by 0.14 / 0.12) lands where the
        # mapping says: first opaque row of the column at x = 0.6
        alpha = np.asarray(Image.open(entry_dir(tmp_path / "cache", key) / "front.png"))[:, :, 3]
        col = int(round(mapping.col_of(0.6)))
        first = int(np.nonzero(alpha[:, col] > 128)[0][0])
        rx, ry = builtin.HEAD_RADII[0] + 0.14, builtin.HEAD_RADII[1] + 0.12
        cap_y = builtin.HEAD_CENTER[1] + ry * np.sqrt(1 - (0.6 / rx) ** 2)
        assert abs(first - mapping.row_of(cap_y)) <= 1.5
        # the head and shoulders: head top in the upper quarter, chin above the middle
        sugg = session.suggestion(ch)
        assert 0.1 * 256 < mapping.row_of(sugg.head_top[1]) < 0.25 * 256
        assert 0.4 * 256 < mapping.row_of(sugg.chin[1]) < 0.55 * 256
        assert (entry_dir(tmp_path / "cache", key) / "thumb.png").is_file()
    finally:
        session.close()
    # a new session (a restarted server) finds it on disk: ready at once, no render
    again = _session(tmp_path, ["builtin"])
    try:
        assert again.front_state(again.catalog[0]) == "ready"
        assert again.detail(again.catalog[0])["image"]["state"] == "ready"
    finally:
        again.close()


def test_a_model_that_fails_shows_its_error(tmp_path: Path) -> None:
    bad = tmp_path / "models" / "broken.pmx"
    bad.parent.mkdir()
    bad.write_bytes(b"PMX \x00\x00\x00\x40junk")
    session = _session(tmp_path, [str(bad)])
    try:
        (ch,) = session.catalog
        detail = session.detail(ch)
        assert detail["image"]["state"] == "failed" and detail["image"]["error"]
        assert "error" in detail["flags"] and detail["suggestion"]["error"]
        saved = session.skip(ch, "unusable model", detail["version"])
        assert saved["status"] == "skipped"
        assert json.dumps(session.rows()[0]["flags"]) == '["error"]'
    finally:
        session.close()


def test_thumbnails_for_the_whole_queue(tmp_path: Path, gene_pmx: Path) -> None:
    """Nobody opens a character: after the (empty) prefetch the worker renders a small thumbnail
    of every one, cached like the front renders; the queue shows a placeholder until then."""
    import time

    from PIL import Image

    from thagen.annotate.front.cache import THUMB_SIZE

    session = _session(tmp_path, ["builtin", str(gene_pmx)])
    try:
        rows = session.rows()
        assert all(r["thumb"] is None for r in rows)  # a fresh cache: placeholders first
        assert {r["thumb_state"] for r in rows} <= {"none", "pending"}
        deadline = time.monotonic() + 600
        while not all(r["thumb"] for r in session.rows()):
            assert time.monotonic() < deadline, (session.rows(), session.renders.failures)
            time.sleep(0.2)
        for ch in session.catalog:
            assert session.front_state(ch) == "none"  # only the small render was made
            thumb = session.image_file(ch, "thumb")
            assert thumb is not None and thumb.parent == entry_dir(tmp_path / "cache", session.thumb_key(ch))
            img = np.asarray(Image.open(thumb))
            assert img.shape[0] == img.shape[1] == THUMB_SIZE and (img[:, :, 3] > 128).sum() > 500
            assert load_mapping(thumb.parent).size == THUMB_SIZE
    finally:
        session.close()
    again = _session(tmp_path, ["builtin", str(gene_pmx)])  # a restarted server: cached
    try:
        assert all(r["thumb"] and r["thumb_state"] == "ready" for r in again.rows())
    finally:
        again.close()
