"""Hard QA flags hold a character back by default, and the review loop fixes it: the flag table,
the framing-confidence flag, crash-safe commits, re-filing when the QA settings change, the
end-of-run and `thagen status` listings, and `--redo flagged` / `--redo ID` on a serial run
(tests/farm/test_redo.py: --workers, --part and Ray)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml
from dataset_digest import sample_digests
from hold_back_models import make_case

from thagen.render.character import flags as flags_mod
from thagen.render.character import qa_renders
from thagen.render.output.jsonl import read_jsonl
from thagen.render.run import commit as commit_mod
from thagen.render.run.commit import Replacement, finish_pending, pending_ids
from thagen.render.run.redo import parse_redo

REPO = Path(__file__).resolve().parents[2]
THAGEN = [sys.executable, "-m", "thagen"]


def thagen(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*THAGEN, *args], capture_output=True, text=True, timeout=600, env={**os.environ, **(env or {})}
    )


# ------------------------------------------------------------------ the table


def test_the_flag_table_is_the_one_in_the_docs() -> None:
    assert flags_mod.markdown_table() in (REPO / "docs" / "rendering.md").read_text()


def test_hard_flags_hold_back_and_soft_ones_do_not() -> None:
    assert flags_mod.held_back(["head_top_off", "eyes_change_outside_region"], True)
    assert not flags_mod.held_back(["eyes_change_outside_region", "texture_missing"], True)
    assert not flags_mod.held_back(["head_top_off"], False)  # qa: {exclude_flagged: false}
    assert flags_mod.is_hard("a_flag_from_the_future")  # unknown: never silently into training
    for name in ("alpha_coverage_high", "alpha_coverage_low", "head_top_off", "head_top_too_low",
                 "chin_row_empty", "eyes_no_change", "mouth_no_change", "rotation_no_change",
                 "texture_missing_head", "framing_unconfirmed"):  # fmt: skip
        assert flags_mod.is_hard(name), name
    assert flags_mod.carried_flags(["head_top_off", "framing_unconfirmed", "x_new"]) == [
        "framing_unconfirmed",
        "x_new",
    ]


def test_builtin_and_gene_estimates_are_trusted(gene_pmx: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Neither the built-in character (0.9) nor Gene (0.7) is held back for its framing; the
    check itself runs on the estimate (a stricter threshold would flag the built-in one)."""
    from thagen.render.character import adhoc_job
    from thagen.render.framing.estimate import load_framing
    from thagen.rigs.normalize import normalize

    results = {}
    for model in ("builtin", str(gene_pmx)):
        job = adhoc_job(model, poses=0)
        m = job.load_model()
        rig = normalize(m, model_path=job.model_path)
        framing = load_framing(job, model=m, rig=rig)
        assert framing.source == "estimate"
        res = qa_renders.framing_confidence_check(m, rig, framing, None, 1.0)
        assert res.flags == [] and res.metrics["framing_confidence"] >= 0.5, (model, res.metrics)
        results[model] = (m, rig, framing)
    monkeypatch.setattr(qa_renders, "FRAMING_CONFIDENCE_THRESHOLD", 0.95)
    res = qa_renders.framing_confidence_check(*results["builtin"], None, 1.0)
    assert res.flags == ["framing_unconfirmed"] and res.metrics["framing_confidence_reasons"]


def test_redo_words() -> None:
    assert parse_redo(["flagged", "a-1,b-2", " c-3 "]) == ["flagged", "a-1", "b-2", "c-3"]


# ------------------------------------------------------------------ crash-safe commits


def _fake_output(out: Path) -> dict:
    """A finished character held back (old shard in excluded/) and its staged re-render."""
    (out / "excluded" / "train").mkdir(parents=True)
    (out / ".redo" / "train").mkdir(parents=True)
    (out / "excluded" / "train" / "c-1-0000.tar").write_bytes(b"old")
    (out / ".redo" / "train" / "c-1-0000.tar").write_bytes(b"new")
    old = {"id": "c-1", "shards": ["excluded/train/c-1-0000.tar"], "excluded": True}
    other = {"id": "d-2", "shards": ["train/d-2-0000.tar"], "excluded": False}
    (out / "journal.jsonl").write_text(json.dumps(old) + "\n" + json.dumps(other) + "\n")
    return {"id": "c-1", "shards": ["train/c-1-0000.tar"], "excluded": False}


def _visible(out: Path) -> tuple[dict, set[bytes]]:
    """The journal's line for c-1, and what its shards hold (each exists, old or new)."""
    (rec,) = [r for r in read_jsonl(out / "journal.jsonl") if r["id"] == "c-1"]
    return rec, {(out / s).read_bytes() for s in rec["shards"]}


@pytest.mark.parametrize("crash_at", range(5))
def test_a_commit_interrupted_anywhere_is_finished_by_the_next_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, crash_at: int
) -> None:
    """Crash after each step (the move, the journal rewrite, the old shard's removal, the
    intent's removal): the journal always names complete shards, old or new, and the next
    run's roll-forward ends in exactly the new state with one journal line per character."""
    new = _fake_output(tmp_path)
    rep = Replacement("c-1", new, "journal.jsonl", [(".redo/train/c-1-0000.tar", "train/c-1-0000.tar")],
                      ["excluded/train/c-1-0000.tar"])  # fmt: skip
    steps = [0]
    real = {"replace": os.replace, "lines": commit_mod.replace_lines, "unlink": Path.unlink}

    def step() -> None:
        if steps[0] == crash_at:
            raise KeyboardInterrupt("crash")
        steps[0] += 1

    class FakeOs:
        def replace(self, a: Path, b: Path) -> None:
            step()
            real["replace"](a, b)

    def lines(*a: object) -> None:
        step()
        real["lines"](*a)

    def unlink(self: Path, missing_ok: bool = False) -> None:
        step()
        real["unlink"](self, missing_ok=missing_ok)

    with monkeypatch.context() as m:
        m.setattr(commit_mod, "os", FakeOs())
        m.setattr(commit_mod, "replace_lines", lines)
        m.setattr(Path, "unlink", unlink)
        try:
            commit_mod.commit(tmp_path, "c-1", [rep])
            crashed = False
        except KeyboardInterrupt:
            crashed = True
    rec, held = _visible(tmp_path)
    assert held in ({b"old"}, {b"new"})  # never neither, never a mix
    assert (rec["excluded"], held) in ((True, {b"old"}), (False, {b"new"}))
    if crashed:
        assert list(pending_ids(tmp_path)) == ["c-1"]
    assert finish_pending(tmp_path, {"c-1"}) == (["c-1"] if crashed else [])
    rec, held = _visible(tmp_path)
    assert rec == new and held == {b"new"} and not pending_ids(tmp_path)
    assert not (tmp_path / "excluded" / "train" / "c-1-0000.tar").exists()
    assert [r["id"] for r in read_jsonl(tmp_path / "journal.jsonl")] == ["c-1", "d-2"]


def test_a_part_leaves_other_parts_commits_alone(tmp_path: Path) -> None:
    _fake_output(tmp_path)
    path = tmp_path / ".redo" / "commit-c-1.json"
    rep = Replacement("c-1", {"id": "c-1", "shards": []}, "journal.jsonl", [], [])
    path.write_text(json.dumps({"format": 1, "characters": [rep.__dict__]}))
    assert finish_pending(tmp_path, {"d-2"}) == [] and path.exists()
    assert finish_pending(tmp_path, None) == ["c-1"] and not path.exists()


# ------------------------------------------------------------------ the review loop, rendered


def _tars(out: Path) -> list[str]:
    return sorted(p.relative_to(out).as_posix() for p in out.rglob("*.tar"))


def _journal(out: Path) -> dict[str, dict]:
    lines = [r for p in sorted(out.glob("journal*.jsonl")) for r in read_jsonl(p)]
    assert len({r["id"] for r in lines}) == len(lines), "a character journalled twice"
    return {r["id"]: r for r in lines}


def _set_qa(manifest: Path, exclude: bool) -> None:
    data = yaml.safe_load(manifest.read_text())
    data["qa"] = {"exclude_flagged": exclude}
    manifest.write_text(yaml.safe_dump(data))


@pytest.mark.slow
def test_held_back_by_default_listed_and_fixed_by_redo(tmp_path: Path) -> None:
    from thagen.render import render_manifest

    case = make_case(tmp_path)
    ids, out, ann = case.ids, tmp_path / "out", case.annotations
    proc = thagen("render", str(case.manifest), "--annotations", str(ann))
    assert proc.returncode == 0, proc.stderr
    journal = _journal(out)
    assert journal[ids["unsure"]]["qa"]["flags"] == ["framing_unconfirmed"]
    assert "mouth_no_change" in journal[ids["mute"]]["qa"]["flags"] and journal[ids["mute"]]["excluded"]
    assert journal[ids["builtin"]]["qa"]["flags"] == [] and not journal[ids["builtin"]]["excluded"]
    assert _tars(out) == sorted(
        [f"excluded/train/{ids['unsure']}-0000.tar", f"excluded/train/{ids['mute']}-0000.tar",
         f"train/{ids['builtin']}-0000.tar"]
    )  # fmt: skip
    # the end of the run lists them, why, and the two commands that fix them
    text = proc.stderr
    assert "held back by QA: 2 characters with hard flags" in text, text
    assert f"  {ids['unsure']} [train]: framing_unconfirmed" in text
    assert f"  {ids['mute']} [train]: mouth_no_change" in text
    assert "the estimate's confidence is 0.30 (below 0.5): test: a doubtful estimate" in text
    assert f"thagen annotate serve --qa {out} --annotations {ann}" in text
    assert f"thagen render {case.manifest} --out {out} --annotations {ann} --redo flagged" in text
    status = thagen("status", str(out))
    assert status.returncode == 0 and "held back by QA: 2 characters" in status.stdout
    assert f"thagen render {case.manifest} --out {out} --annotations {ann} --redo flagged" in status.stdout
    before, lines_before = sample_digests(out), _journal(out)

    # qa: {exclude_flagged: false}: finished characters are re-filed, nothing is rendered
    _set_qa(case.manifest, False)
    summary = render_manifest(case.manifest, annotations=ann, progress_stream=io.StringIO())
    assert sorted(summary.refiled) == sorted([ids["unsure"], ids["mute"]]) and summary.images == 0
    assert _tars(out) == sorted(f"train/{i}-0000.tar" for i in ids.values())
    assert "kept in the training splits" in summary.text() and summary.merged
    _set_qa(case.manifest, True)
    summary = render_manifest(case.manifest, annotations=ann, progress_stream=io.StringIO())
    assert len(summary.refiled) == 2 and sample_digests(out) == before
    assert {k: v["shards"] for k, v in _journal(out).items()} == {
        k: v["shards"] for k, v in lines_before.items()
    }

    # a person confirms the doubtful framing; --redo flagged renders exactly the flagged two
    case.confirm("unsure")
    summary = render_manifest(case.manifest, annotations=ann, redo=["flagged"], progress_stream=io.StringIO())
    assert sorted(summary.redone) == sorted([ids["unsure"], ids["mute"]]) and summary.merged
    assert summary.held_back == [ids["mute"]]
    assert _tars(out) == sorted(
        [f"excluded/train/{ids['mute']}-0000.tar", f"train/{ids['unsure']}-0000.tar",
         f"train/{ids['builtin']}-0000.tar"]
    )  # fmt: skip
    assert sample_digests(out) == before  # same pixels: the annotation is the estimate it confirmed
    journal = _journal(out)
    assert journal[ids["builtin"]] == lines_before[ids["builtin"]]  # untouched
    assert not journal[ids["unsure"]]["excluded"] and journal[ids["unsure"]]["qa"]["flags"] == []
    assert journal[ids["unsure"]]["framing_source"] == "annotation"
    index = json.loads((out / "index.json").read_text())
    assert {s["path"]: s["excluded"] for s in index["shards"]}[f"train/{ids['unsure']}-0000.tar"] is False
    assert index["samples"] == 4
    ds = yaml.safe_load((out / "dataset.yaml").read_text())
    assert ds["splits"]["train"]["characters"] == 2 and ds["splits"]["excluded/train"]["characters"] == 1
    assert not (out / ".redo").exists()

    # --redo ID after a rig override fixes the mouth: only that character changes
    case.fix_mouth()
    proc = thagen("render", str(case.manifest), "--annotations", str(ann), "--redo", ids["mute"])
    assert proc.returncode == 0, proc.stderr
    assert f"re-rendered (--redo): 1: {ids['mute']}" in proc.stderr and "held back" not in proc.stderr
    after = sample_digests(out)
    assert {k: v for k, v in after.items() if not k.startswith(ids["mute"])} == {
        k: v for k, v in before.items() if not k.startswith(ids["mute"])
    }
    assert after.keys() == before.keys() and after != before  # its mouth moves now
    assert _tars(out) == sorted(f"train/{i}-0000.tar" for i in ids.values())
    assert len(_journal(out)) == 3
    status = thagen("status", str(out))
    assert "held back" not in status.stdout and "complete" in status.stdout
    merge = thagen("merge", str(out))
    assert merge.returncode == 0, merge.stderr

    # an id the manifest does not have: one line naming it, nothing rendered
    proc = thagen("render", str(case.manifest), "--redo", f"{ids['mute']},nosuch-1234")
    assert proc.returncode != 0
    err = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(err) == 1 and "nosuch-1234" in err[0] and "--redo" in err[0], proc.stderr


@pytest.mark.slow
def test_a_redo_that_dies_keeps_the_old_render(tmp_path: Path) -> None:
    """The worker re-rendering a character is killed (no retries): the run fails, the old shards
    and journal line stay exactly as they were, and the next run clears the staged leftovers."""
    case = make_case(tmp_path)
    out = tmp_path / "out"
    assert thagen("render", str(case.manifest), "--annotations", str(case.annotations)).returncode == 0
    before, journal = sample_digests(out), _journal(out)
    unsure = case.ids["unsure"]
    case.confirm("unsure")
    proc = thagen(
        "render", str(case.manifest), "--annotations", str(case.annotations), "--redo", unsure,
        "--retries", "0", env={"THAGEN_TEST_FAULT": f"die:{unsure}"},
    )  # fmt: skip
    assert proc.returncode == 1
    assert f"failed, the earlier render kept: {unsure}" in proc.stderr, proc.stderr
    assert sample_digests(out) == before and _journal(out) == journal
    assert f"excluded/train/{unsure}-0000.tar" in _tars(out)
    assert not (out / ".redo").exists()  # the run removed what the dead worker staged
    with tarfile.open(out / "excluded" / "train" / f"{unsure}-0000.tar") as tar:
        assert len(tar.getnames()) > 0
    proc = thagen("merge", str(out))
    assert proc.returncode == 0, proc.stderr
