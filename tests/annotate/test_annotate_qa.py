"""`thagen annotate serve --qa OUT`: the characters a render held back come first, each QA flag
with its reason; the manifest and annotations folder come from OUT; answering one moves it down.

The render output is written by hand (run.json and a journal, as `thagen render` writes them),
so no Blender is needed; tests/render/test_hold_back.py renders the same characters for real.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from annotate_server import serve
from hold_back_models import Case, make_case

from thagen.annotate.tool.catalog import build_catalog
from thagen.annotate.tool.qa_flags import read_qa_review, rendered_from
from thagen.annotate.tool.session import Session, SessionOptions


def _rendered(tmp: Path) -> tuple[Case, Path]:
    """A render output of the hold-back case: `mute` and `unsure` held back, the built-in kept."""
    case = make_case(tmp)
    out = tmp / "out"
    out.mkdir()
    run = {"manifest_path": str(case.manifest), "render_options": ["--annotations", str(case.annotations)]}
    (out / "run.json").write_text(json.dumps(run))
    finished = max(p.stat().st_mtime for p in case.annotations.iterdir()) + 0.01  # rendered after them
    ids = case.ids
    lines = [
        {"id": ids["builtin"], "qa": {"flags": [], "metrics": {}}, "excluded": False},
        {
            "id": ids["mute"],
            "qa": {"flags": ["mouth_no_change", "eyes_change_outside_region"]},
            "excluded": True,
        },
        {
            "id": ids["unsure"],
            "qa": {
                "flags": ["framing_unconfirmed"],
                "metrics": {"framing_confidence": 0.3, "framing_confidence_reasons": ["a hat?"]},
            },
            "excluded": True,
        },
    ]
    text = "".join(json.dumps({**line, "finished_at": finished}) + "\n" for line in lines)
    (out / "journal-part-0-of-1.jsonl").write_text(text)  # a part's journal is read too
    time.sleep(0.05)
    return case, out


def test_held_back_first_with_reasons(tmp_path: Path) -> None:
    case, out = _rendered(tmp_path)
    ids = case.ids
    assert rendered_from(out) == (str(case.manifest), case.annotations)
    review = read_qa_review([out])
    assert set(review.held_back) == {ids["mute"], ids["unsure"]}
    catalog = build_catalog([str(case.manifest)], case.annotations)
    session = Session(
        catalog,
        SessionOptions(
            cache_dir=tmp_path / "cache",
            render=False,
            qa_flags=review.flags,
            qa_reasons=review.reasons,
            held_back=review.held_back,
        ),
    )
    try:
        deadline = time.monotonic() + 60
        while not all(session.known_suggestion(ch) for ch in catalog):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        rows = session.rows()
        # held back first, even `mute`, whose (manual) annotation predates the render that held it back
        assert [r["id"] for r in rows[:2]] == [ids["unsure"], ids["mute"]]  # the unanswered one first
        assert [r["held_back"] for r in rows] == [True, True, False]
        unsure = rows[0]
        assert unsure["reasons"]["qa:framing_unconfirmed"].startswith("the estimate's confidence is 0.30")
        mute = next(r for r in rows if r["id"] == ids["mute"])
        assert "changes nothing around the mouth" in mute["reasons"]["qa:mouth_no_change"]
        assert set(mute["reasons"]) == {"qa:mouth_no_change", "qa:eyes_change_outside_region"}
        assert session.first_todo() == ids["unsure"]
        detail = session.detail(session.by_id[ids["unsure"]])
        assert detail["held_back"] and "qa:framing_unconfirmed" in detail["reasons"]
        s = detail["suggestion"]
        session.accept(
            session.by_id[ids["unsure"]], s["head_top"], s["chin"], s["center_x"], detail["version"], ""
        )
        rows = session.rows()
        # answered after the render: it waits for `--redo flagged`, no longer first
        assert rows[0]["id"] == ids["mute"] and rows[-1]["id"] == ids["unsure"]
        assert not rows[-1]["held_back"] and rows[-1]["status"] == "manual"
    finally:
        session.close()


@pytest.mark.slow
def test_serve_qa_out_alone(tmp_path: Path) -> None:
    """No MODELS: the manifest comes from OUT/run.json; the JSON API lists held-back ones first."""
    case, out = _rendered(tmp_path)
    served = serve([], tmp_path, "--qa", str(out), "--no-render", "--annotations", str(case.annotations))
    try:
        status, data = served.request("GET", "/api/characters")
        assert status == 200
        rows = data["characters"]
        assert [r["held_back"] for r in rows] == [True, True, False]
        assert {r["id"] for r in rows[:2]} == {case.ids["mute"], case.ids["unsure"]}
        assert all(r["reasons"] for r in rows[:2])
        status, first = served.request("GET", "/api/first-todo")
        assert status == 200 and first["id"] in {case.ids["mute"], case.ids["unsure"]}
    finally:
        assert served.stop() == 0
