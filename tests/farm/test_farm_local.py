"""The local worker pool under real faults: a worker killed with SIGKILL in the middle of a
character, a character that hangs past --character-timeout, worker recycling."""

from __future__ import annotations

from pathlib import Path

import pytest
from dataset_digest import sample_digests
from farm_common import serial_output, thagen, write_manifest

from thagen.render.manifest import expand_characters, load_manifest
from thagen.render.output.jsonl import read_jsonl

pytestmark = pytest.mark.slow


def ids_of(manifest: Path) -> dict[str, str]:
    """'builtin' / 'gene' -> character id."""
    return {("builtin" if j.builtin else "gene"): j.id for j in expand_characters(load_manifest(manifest))}


def test_kill_9_mid_character_is_retried_exactly_once(
    tmp_path: Path, tmp_path_factory, gene_pmx: Path
) -> None:
    serial = serial_output(tmp_path_factory.getbasetemp(), gene_pmx)
    manifest = write_manifest(tmp_path, gene_pmx)
    ids = ids_of(manifest)
    once = tmp_path / "killed-once"
    out = tmp_path / "out"
    proc = thagen(
        "render", str(manifest), "--out", str(out), "--workers", "1", "--threads", "1",
        "--recycle-after", "1", "--retries", "1",
        env={"THAGEN_TEST_FAULT": f"die:{ids['gene']}:{once}"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert once.exists(), "the fault never fired"
    assert f"{ids['gene']}: worker died (exit status -9); retrying" in proc.stderr
    journal = read_jsonl(out / "journal.jsonl")
    assert sorted(r["id"] for r in journal) == sorted(ids.values())  # each exactly once
    assert read_jsonl(out / "failures.jsonl") == []
    assert not [p for p in out.rglob("*") if ".tmp-" in p.name]  # no truncated shard left
    # --recycle-after 1: every character had a fresh worker process
    assert len({r["worker_pid"] for r in journal}) == 2
    assert sample_digests(out) == sample_digests(serial)
    assert (out / "index.json").exists()  # finished everything: merged automatically


def test_hanging_character_is_killed_and_recorded(tmp_path: Path, gene_pmx: Path) -> None:
    manifest = write_manifest(tmp_path, gene_pmx)
    ids = ids_of(manifest)
    out = tmp_path / "out"
    proc = thagen(
        "render", str(manifest), "--out", str(out), "--workers", "2", "--threads", "1",
        "--character-timeout", "25", "--retries", "0",
        env={"THAGEN_TEST_FAULT": f"hang:{ids['builtin']}"},
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    (failure,) = read_jsonl(out / "failures.jsonl")
    assert failure["id"] == ids["builtin"] and failure["stage"] == "timeout"
    assert "25 s" in failure["message"]
    assert [r["id"] for r in read_jsonl(out / "journal.jsonl")] == [ids["gene"]]  # the other finished
    assert not list((out / "train").glob(f"{ids['builtin']}-*"))
    status = thagen("status", str(out))
    assert f"failed: {ids['builtin']}: [timeout]" in status.stdout
    assert not (out / "index.json").exists()
