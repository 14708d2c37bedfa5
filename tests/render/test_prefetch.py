"""Planning the next character while this one renders (render/character/prefetch.py) and the
per-worker reservations that make the hint right (render/run/lookahead.py).

A prefetched plan must give the same outputs, byte for byte, as a plan made in line; a wrong
hint is dropped; a plan that fails reports the stage it failed in, as an in-line one does."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from thagen.render.character import Prefetcher, RunSettings, adhoc_job, plan_character
from thagen.render.run.lookahead import Lookahead


def test_lookahead_reserves_one_per_worker_and_gives_it_back() -> None:
    jobs = [adhoc_job("builtin", poses=1, seed=s) for s in range(4)]
    q = Lookahead(jobs)
    assert q.take("a") is jobs[0] and q.reserve("a") is jobs[1]
    assert q.reserve("a") is jobs[1]  # one reservation per worker
    assert q.take("b") is jobs[2] and q.reserve("b") is jobs[3]
    assert len(q) == 2 and not q.pending
    assert q.take("a") is jobs[1]  # a's own reservation first
    q.release("b")  # b is gone: its reservation goes back to the front
    assert list(q.pending) == [jobs[3]] and q.reserved == {}
    q.retry(jobs[0])
    assert q.take("c") is jobs[0] and q.take("c") is jobs[3] and not q and q.take("c") is None


def test_an_idle_worker_takes_a_busy_workers_reservation() -> None:
    jobs = [adhoc_job("builtin", poses=1, seed=s) for s in range(2)]
    q = Lookahead(jobs)
    assert q.take("a") is jobs[0] and q.reserve("a") is jobs[1]
    assert q.take("b") is jobs[1]  # better now than after a's character
    assert q.reserve("a") is None and q.take("a") is None and not q


def test_a_prefetched_plan_equals_the_in_line_plan() -> None:
    settings = RunSettings(image_size=64, samples=1)
    job, other = adhoc_job("builtin", poses=3, seed=5), adhoc_job("builtin", poses=3, seed=6)
    ahead = Prefetcher(settings)
    try:
        ahead.expect(job)
        ahead.start()
        assert ahead.take(other) is None and ahead.hits == 0  # a wrong hint is dropped
        ahead.expect(job)
        ahead.start()
        planned = ahead.take(job)
        assert planned is not None and ahead.hits == 1
        plan = planned.result(["read"])
    finally:
        ahead.close()
    inline = plan_character(job, settings, ["read"])
    assert plan.poses == inline.poses and plan.rest_pose == inline.rest_pose
    assert plan.framing.head_top.tolist() == inline.framing.head_top.tolist()
    assert plan.framing.chin.tolist() == inline.framing.chin.tolist()
    assert plan.confidence is not None and inline.confidence is not None
    assert plan.confidence.to_dict() == inline.confidence.to_dict()
    assert plan.rig.to_dict() == inline.rig.to_dict()
    assert np.array_equal(plan.model.positions, inline.model.positions)
    assert set(plan.seconds) == {"read_rig", "framing", "plan_qa"}


def test_a_failed_prefetched_plan_names_its_stage(tmp_path: Path, gene_pmx: Path) -> None:
    broken = tmp_path / "broken.pmx"
    broken.write_bytes(gene_pmx.read_bytes()[:300])  # a truncated file: fails while reading
    job = adhoc_job(str(broken), poses=1)
    ahead = Prefetcher(RunSettings())
    try:
        ahead.expect(job)
        ahead.start()
        planned = ahead.take(job)
        assert planned is not None
        stage = ["import"]
        with pytest.raises(Exception, match="broken.pmx"):
            planned.result(stage)
        assert stage == ["read"]
    finally:
        ahead.close()


@pytest.mark.slow
def test_prefetched_characters_render_byte_identical(tmp_path: Path, gene_pmx: Path) -> None:
    """Two characters through one renderer: in line, then with the second planned while the
    first renders; shards, QA and the reset image are the same bytes."""
    from thagen.render.character import make_renderer, render_character

    settings = RunSettings(image_size=64, samples=1)
    jobs = [
        adhoc_job("builtin", poses=3, size=64, samples=1),
        adhoc_job(str(gene_pmx), poses=3, size=64, samples=1),
    ]
    renderer = make_renderer(settings)
    ahead = Prefetcher(settings)
    outs = {}
    try:
        for mode in ("inline", "prefetched"):
            out = tmp_path / mode
            for i, job in enumerate(jobs):
                if mode == "inline":
                    render_character(job, out, renderer, settings)
                else:
                    ahead.expect(jobs[i + 1] if i + 1 < len(jobs) else None)
                    render_character(job, out, renderer, settings, prefetcher=ahead)
            outs[mode] = out
    finally:
        ahead.close()
        renderer.close()
    assert ahead.hits == 1
    gene_id = jobs[1].id
    timings = json.loads((outs["prefetched"] / "characters" / gene_id / "rig_report.json").read_text())[
        "timings"
    ]
    assert "plan_wait" in timings and "prefetched_read_rig" in timings and "read_rig" not in timings
    for name in ("train", "characters"):
        a = sorted(p.relative_to(outs["inline"]) for p in (outs["inline"] / name).rglob("*") if p.is_file())
        b = sorted(
            p.relative_to(outs["prefetched"]) for p in (outs["prefetched"] / name).rglob("*") if p.is_file()
        )
        assert a == b
        for rel in a:
            if rel.name in ("rig_report.json", "blender.log"):
                continue  # timings and Blender's own log lines differ run to run
            assert (outs["inline"] / rel).read_bytes() == (outs["prefetched"] / rel).read_bytes(), rel
