"""The queue's order, review mode, QA flags from a render output, progress and resuming."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from thagen.annotate.tool.catalog import build_catalog
from thagen.annotate.tool.qa_flags import read_qa_flags
from thagen.annotate.tool.session import Session, SessionOptions
from thagen.errors import ConfigError


def _session(tmp: Path, models: list[str], **kw) -> Session:
    catalog = build_catalog(models, tmp / "annotations")
    session = Session(catalog, SessionOptions(cache_dir=tmp / "cache", render=False, **kw))
    deadline = time.monotonic() + 60
    while not all(session.known_suggestion(ch) for ch in catalog):  # the background thread
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return session


def test_queue_order_review_and_resume(tmp_path: Path, gene_pmx: Path, gene_pmd: Path) -> None:
    out = tmp_path / "render-out"
    out.mkdir()
    models = ["builtin", str(gene_pmx), str(gene_pmd)]
    ids = {ch.label: ch.id for ch in build_catalog(models, tmp_path / "annotations")}
    lines = [
        {"id": ids["Gene_light.pmd"], "qa": {"ok": False, "flags": ["head_rows"], "metrics": {}}},
        {"id": ids["Gene_light.pmx"], "qa": {"ok": True, "flags": [], "metrics": {}}},
    ]
    (out / "journal.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + '\n{"id": "trunc')
    flags = read_qa_flags([out])
    assert flags == {ids["Gene_light.pmd"]: ["qa:head_rows"], ids["Gene_light.pmx"]: []}
    session = _session(tmp_path, models, qa_flags=flags)
    try:
        rows = session.rows()
        # QA-flagged first, then least confident: Gene's PMX (0.70: the hair loop on top), the
        # built-in character (0.90: its ahoge, left out)
        assert [r["model"] for r in rows] == ["Gene_light.pmd", "Gene_light.pmx", "builtin"]
        assert rows[0]["flags"][0] == "qa:head_rows" and rows[2]["confidence"] == pytest.approx(0.9)
        assert rows[1]["confidence"] == pytest.approx(0.7)
        assert session.progress(rows)["done"] == 0 and session.first_todo() == ids["Gene_light.pmd"]
        d = session.detail(session.by_id[ids["Gene_light.pmd"]])
        assert d["next"] == ids["Gene_light.pmx"] and d["prev"] is None
        assert d["next_todo"] == ids["Gene_light.pmx"]
        s = d["suggestion"]
        session.accept(session.by_id[d["id"]], s["head_top"], s["chin"], s["center_x"], d["version"], "")
        rows = session.rows()
        assert rows[-1]["model"] == "Gene_light.pmd" and rows[-1]["status"] == "manual"
        progress = session.progress(rows)
        assert progress["done"] == 1 and progress["median_seconds"] >= 0 and progress["eta_seconds"] >= 0
    finally:
        session.close()
    # a restarted server resumes at the first character that needs work
    again = _session(tmp_path, models, qa_flags=flags)
    try:
        assert again.first_todo() == ids["Gene_light.pmx"]
    finally:
        again.close()
    # an annotation made on another version of the model file is flagged and comes first
    ann_path = tmp_path / "annotations" / f"{ids['Gene_light.pmd']}.annotation.yaml"
    ann_path.write_text(ann_path.read_text().replace(ids["Gene_light.pmd"].rsplit("-", 1)[1], "0" * 8, 1))
    changed = _session(tmp_path, models)
    try:
        rows = changed.rows()
        assert "model_changed" in rows[0]["flags"] and rows[0]["model"] == "Gene_light.pmd"
    finally:
        changed.close()
    # --review: only QA-flagged, failed or low-confidence characters
    review = _session(tmp_path, models, qa_flags=flags, review=True)
    try:
        # (the built-in character, 0.90 with only its ahoge to mention, is left out; the PMD
        # with its annotation of another model version needs work again and comes first)
        assert [r["model"] for r in review.rows()] == ["Gene_light.pmd", "Gene_light.pmx"]
    finally:
        review.close()


def test_qa_flags_need_a_render_output(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="journal.jsonl"):
        read_qa_flags([tmp_path])
