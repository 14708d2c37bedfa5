"""`--redo flagged` on a farm: --workers 2, two --part runs and --backend ray end like the serial
run (tests/render/test_hold_back.py): the fixed character's shards move from excluded/ to its
split, every other sample stays byte for byte, one journal line per character, and the output
is merged again."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from dataset_digest import sample_digests
from farm_common import thagen
from hold_back_models import make_case

from thagen.render.output.jsonl import read_jsonl

pytestmark = pytest.mark.slow

FARMS = {
    "workers": [["--workers", "2", "--threads", "1"]],
    "parts": [["--part", "0/2", "--threads", "1"], ["--part", "1/2", "--threads", "1"]],
    "ray": [["--backend", "ray", "--workers", "2", "--threads", "1"]],
}


def _journal(out: Path) -> dict[str, dict]:
    lines = [r for p in sorted(out.glob("journal*.jsonl")) for r in read_jsonl(p)]
    assert len({r["id"] for r in lines}) == len(lines), "a character journalled twice"
    return {r["id"]: r for r in lines}


def _tars(out: Path) -> list[str]:
    return sorted(p.relative_to(out).as_posix() for p in out.rglob("*.tar"))


@pytest.mark.parametrize("farm", list(FARMS))
def test_redo_flagged_on_a_farm(tmp_path: Path, farm: str) -> None:
    if farm == "ray" and importlib.util.find_spec("ray") is None:
        pytest.skip("ray is not installed (pip install 'thagen[farm]'; make setup installs it)")
    case = make_case(tmp_path, shard_size=1)  # 2 shards per character: a multi-shard swap
    ids, out = case.ids, tmp_path / "out"
    env = {"RAY_USAGE_STATS_ENABLED": "0"}
    base = ["render", str(case.manifest), "--annotations", str(case.annotations)]
    for opts in FARMS[farm]:
        proc = thagen(*base, *opts, env=env)
        assert proc.returncode == 0, proc.stderr
    assert (out / "index.json").exists()  # the last part merged
    held = [f"excluded/train/{ids[n]}-{k:04d}.tar" for n in ("unsure", "mute") for k in range(2)]
    kept = [f"train/{ids['builtin']}-{k:04d}.tar" for k in range(2)]
    assert _tars(out) == sorted(held + kept)
    status = thagen("status", str(out))
    assert "held back by QA: 2 characters" in status.stdout, status.stdout
    if farm == "parts":  # each part fixes its own: one command per part holding one
        parts = {r["part"] for r in _journal(out).values() if r["excluded"]}
        for label in parts:
            assert f"--part {label} --redo flagged" in status.stdout, status.stdout
    before, journal = sample_digests(out), _journal(out)
    index_before = json.loads((out / "index.json").read_text())

    case.confirm("unsure")
    for opts in FARMS[farm]:
        proc = thagen(*base, *opts, "--redo", "flagged", env=env)
        assert proc.returncode == 0, proc.stderr
    assert _tars(out) == sorted(
        [f"excluded/train/{ids['mute']}-{k:04d}.tar" for k in range(2)]
        + [f"train/{ids['unsure']}-{k:04d}.tar" for k in range(2)]
        + kept
    )
    assert sample_digests(out) == before  # same samples, same bytes; only where they live changed
    after = _journal(out)
    assert after[ids["builtin"]] == journal[ids["builtin"]]
    assert not after[ids["unsure"]]["excluded"] and after[ids["mute"]]["excluded"]
    index = json.loads((out / "index.json").read_text())
    assert index["samples"] == index_before["samples"] + 2
    assert {s["sha256"] for s in index["shards"]} == {s["sha256"] for s in index_before["shards"]}
    assert not [p for p in out.rglob("*") if ".tmp-" in p.name]
    assert not [p for p in (out / ".redo").rglob("*") if p.is_file()] if (out / ".redo").exists() else True
    merge = thagen("merge", str(out))
    assert merge.returncode == 0, merge.stderr
