"""Crash safety and failure isolation of `thagen render`, with real Blender renders.

A run killed with SIGKILL at any moment must resume into a dataset where every sample is
present exactly once and every tar is complete; one broken character must never stop a run.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from thagen.errors import ConfigError
from thagen.render.character import RunSettings
from thagen.render.manifest import expand_characters, load_manifest
from thagen.render.output.shards import iter_shard
from thagen.render.run.runner import (
    FAILURES,
    JOURNAL,
    read_jsonl,
    remove_character_outputs,
    run_jobs,
    shard_pattern,
)

pytestmark = pytest.mark.slow  # real renders

SIZE = 64
THAGEN = [sys.executable, "-m", "thagen"]


def write_manifest(tmp: Path, characters: list, *, poses: int, shard_size: int = 2) -> Path:
    data = {
        "version": 1,
        "seed": 7,
        "output": "out",
        "image_size": SIZE,
        "render": {"engine": "cycles", "device": "cpu", "samples": 1},
        "characters": characters,
        "splits": {"train": {"ratio": 1, "poses_per_character": poses}},
        "shard_size": shard_size,
        "identity": {"keep_duplicates": True},  # Gene's PMX and PMD are duplicates: render both here
    }
    path = tmp / "manifest.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


def assert_complete(out: Path, jobs: list) -> None:
    """Every job journalled once; its shards hold exactly samples 0..n-1 once; no temp files."""
    journal = read_jsonl(out / JOURNAL)
    assert sorted(r["id"] for r in journal) == sorted(j.id for j in jobs)
    for job in jobs:
        (rec,) = [r for r in journal if r["id"] == job.id]
        on_disk = sorted(
            p.relative_to(out).as_posix()
            for p in (out / "train").iterdir()
            if shard_pattern(job.id).match(p.name)
        )
        assert on_disk == sorted(rec["shards"])
        keys = [s["__key__"] for rel in rec["shards"] for s in iter_shard(out / rel)]
        assert keys == [f"{job.id}/{i:06d}" for i in range(job.pose_count)]
    assert not [p for p in out.rglob("*") if ".tmp-" in p.name]


def children_of(pid: int) -> list[int]:
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        kids += [int(t) for t in text]
    return kids


def render_worker_of(pid: int) -> int | None:
    """The spawned render worker (not multiprocessing's resource tracker)."""
    for kid in children_of(pid):
        try:
            if b"spawn_main" in Path(f"/proc/{kid}/cmdline").read_bytes():
                return kid
        except FileNotFoundError:
            continue
    return None


def pid_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_resume_after_kill_9(tmp_path: Path, gene_pmx: Path, gene_pmd: Path) -> None:
    manifest = write_manifest(
        tmp_path, [{"builtin": True}, {"path": str(gene_pmx)}, {"path": str(gene_pmd)}], poses=5, shard_size=2
    )
    jobs = expand_characters(load_manifest(manifest))
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [*THAGEN, "render", str(manifest)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    worker: list[int] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        worker = worker or children_of(proc.pid)
        if len(read_jsonl(out / JOURNAL)) >= 1:
            break
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        time.sleep(0.01)
    else:
        proc.kill()
        pytest.fail("no character was journalled within 120 s")
    os.kill(proc.pid, signal.SIGKILL)  # the parent only: its render worker must die with it
    proc.wait()
    proc.stderr.close()
    assert worker
    t0 = time.monotonic()
    while any(pid_alive(w) for w in worker) and time.monotonic() - t0 < 10:
        time.sleep(0.05)
    assert not any(pid_alive(w) for w in worker), "the render worker outlived its killed parent"
    done_before = {r["id"] for r in read_jsonl(out / JOURNAL)}
    assert 1 <= len(done_before) < len(jobs)
    # What a kill can leave besides: a torn journal line, a half-written temp shard and a
    # complete shard of a character that was never journalled.
    pending = next(j for j in jobs if j.id not in done_before)
    with open(out / JOURNAL, "a") as f:
        f.write('{"id": "torn')
    (out / "train" / f"{pending.id}-0000.tar.tmp-999999").write_bytes(b"\0" * 700)
    (out / "train" / f"{pending.id}-0007.tar").write_bytes(b"not even a tar")

    rerun = subprocess.run([*THAGEN, "render", str(manifest)], capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{len(done_before)} skipped" in rerun.stderr
    assert_complete(out, jobs)
    ds = yaml.safe_load((out / "dataset.yaml").read_text())
    assert ds["splits"]["train"]["samples"] == 15 and ds["pending"] == []

    # a third run renders nothing
    again = subprocess.run([*THAGEN, "render", str(manifest)], capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "0 characters done" in again.stderr and "3 skipped" in again.stderr


def write_model_without_mouth(directory: Path) -> Path:
    """The built-in character with its mouth morphs removed (a model no mouth can be found in)."""
    from PIL import Image

    from thagen.rigs.builtin import builtin_character, builtin_textures
    from thagen.rigs.formats.pmx.reader import write_pmx

    model = builtin_character()
    keep = [i for i, m in enumerate(model.morphs) if m.panel != 3]
    new_index = {old: new for new, old in enumerate(keep)}
    model.morphs = [model.morphs[i] for i in keep]
    for frame in model.display_frames:
        frame.items = [(k, new_index[i] if k == 1 else i) for k, i in frame.items if k != 1 or i in new_index]
    directory.mkdir(parents=True, exist_ok=True)
    for name, pixels in builtin_textures().items():
        Image.fromarray(pixels).save(directory / name)
    path = directory / "mouthless.pmx"
    write_pmx(model, path)
    return path


def test_broken_characters_are_recorded_and_skipped(tmp_path: Path, gene_pmx: Path) -> None:
    garbage = tmp_path / "models" / "truncated.pmx"
    garbage.parent.mkdir()
    garbage.write_bytes(gene_pmx.read_bytes()[:5000])
    mouthless = write_model_without_mouth(tmp_path / "models" / "mouthless")
    manifest = write_manifest(
        tmp_path, [{"path": str(garbage)}, {"path": str(mouthless)}, {"builtin": True}], poses=2
    )
    jobs = expand_characters(load_manifest(manifest))
    proc = subprocess.run([*THAGEN, "render", str(manifest)], capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    out = tmp_path / "out"
    good = [j for j in jobs if j.builtin]
    assert_complete(out, good)
    failures = {f["id"]: f for f in read_jsonl(out / FAILURES)}
    by_path = {str(j.model_path): j.id for j in jobs if not j.builtin}
    bad = failures[by_path[str(garbage)]]
    assert bad["stage"] == "read" and bad["error_type"] == "ModelFormatError"
    assert str(garbage) in bad["message"] and bad["model"] == str(garbage)
    nomouth = failures[by_path[str(mouthless)]]
    assert nomouth["stage"] == "rig" and nomouth["error_type"] == "RigError"
    assert "mouth_open" in nomouth["message"]
    assert "2 failed" in proc.stderr and "FAILED" in proc.stderr
    ds = yaml.safe_load((out / "dataset.yaml").read_text())
    assert {f["id"] for f in ds["failures"]} == set(failures)
    assert ds["splits"]["train"]["characters"] == 1
    # no leftovers of the failed characters' outputs in the splits
    for cid in failures:
        assert not [p for p in (out / "train").iterdir() if shard_pattern(cid).match(p.name)]
    # a resume retries the failures (still failing) without duplicating their records
    again = subprocess.run([*THAGEN, "render", str(manifest)], capture_output=True, text=True, timeout=300)
    assert again.returncode != 0
    assert sorted(f["id"] for f in read_jsonl(out / FAILURES)) == sorted(failures)


def test_worker_crash_costs_one_character(tmp_path: Path, gene_pmx: Path, gene_pmd: Path) -> None:
    """A Blender crash (here: the render worker killed mid-character) is a recorded failure;
    the run goes on with a fresh worker and a resume renders the crashed character."""
    manifest = write_manifest(
        tmp_path, [{"builtin": True}, {"path": str(gene_pmx)}, {"path": str(gene_pmd)}], poses=4
    )
    jobs = expand_characters(load_manifest(manifest))
    out = tmp_path / "out"
    proc = (
        subprocess.Popen(  # --retries 0: the crash is recorded, not retried (tests/farm/test_farm_local.py)
            [*THAGEN, "render", str(manifest), "--retries", "0"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
    )
    deadline = time.monotonic() + 120
    killed = None
    while time.monotonic() < deadline and proc.poll() is None:
        if len(read_jsonl(out / JOURNAL)) >= 1:
            killed = render_worker_of(proc.pid)
            if killed:
                os.kill(killed, signal.SIGKILL)
                break
        time.sleep(0.01)
    _, err = proc.communicate(timeout=300)
    assert killed is not None, err.decode()
    assert proc.returncode != 0
    failures = read_jsonl(out / FAILURES)
    assert len(failures) == 1 and failures[0]["stage"] == "crash", failures
    crashed = failures[0]["id"]
    # whatever the crashed character had written is gone from where the trainer reads
    assert not [p for p in (out / "train").iterdir() if shard_pattern(crashed).match(p.name)]
    done = {r["id"] for r in read_jsonl(out / JOURNAL)}
    assert done == {j.id for j in jobs} - {crashed}
    rerun = subprocess.run([*THAGEN, "render", str(manifest)], capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert_complete(out, jobs)
    assert read_jsonl(out / FAILURES) == []


def test_restart_deletes_only_thagen_outputs(tmp_path: Path) -> None:
    # bpy imported in the calling process first: its script folders on sys.path must not
    # leak into the spawned render worker (they hold a `bpy` package shadowing the module)
    import bpy  # noqa: F401

    manifest = write_manifest(tmp_path, [{"builtin": True}], poses=1)
    m = load_manifest(manifest)
    jobs = expand_characters(m)
    out = m.output_dir
    settings = RunSettings.from_manifest(m)
    run_jobs(jobs, out, settings, manifest_dict=m.to_dict(), progress_stream=io.StringIO())
    # resuming with other settings would mix two datasets: refused
    with pytest.raises(ConfigError, match="different seed"):
        run_jobs(jobs, out, settings, manifest_dict={**m.to_dict(), "seed": 8}, progress_stream=io.StringIO())
    (out / "notes.txt").write_text("mine")
    (out / "train" / "keep.txt").write_text("mine too")
    first = read_jsonl(out / JOURNAL)
    summary = run_jobs(
        jobs, out, settings, manifest_dict=m.to_dict(), resume=False, progress_stream=io.StringIO()
    )
    assert summary.done == 1 and summary.skipped == 0
    assert (out / "notes.txt").read_text() == "mine" and (out / "train" / "keep.txt").exists()
    second = read_jsonl(out / JOURNAL)
    assert len(second) == 1 and second[0]["shards"] == first[0]["shards"]
    assert_complete(out, jobs)


def test_journal_torn_line_is_repaired(tmp_path: Path) -> None:
    path = tmp_path / JOURNAL
    path.write_text(json.dumps({"id": "a"}) + "\n" + '{"id": "b", "sam')
    assert [r["id"] for r in read_jsonl(path, repair=True)] == ["a"]
    assert path.read_text() == json.dumps({"id": "a"}) + "\n"


def test_cleanup_touches_only_that_character(tmp_path: Path) -> None:
    train = tmp_path / "train"
    train.mkdir()
    names = ["gene-0000.tar", "gene-0001.tar.tmp-12", "gene-2-0000.tar", "other-0000.tar", "gene-notes.txt"]
    for n in names:
        (train / n).write_bytes(b"x")
    (tmp_path / "characters" / "gene").mkdir(parents=True)
    removed = remove_character_outputs(tmp_path, "gene", ["train"])
    assert sorted(p.name for p in removed) == ["gene", "gene-0000.tar", "gene-0001.tar.tmp-12"]
    assert sorted(p.name for p in train.iterdir()) == ["gene-2-0000.tar", "gene-notes.txt", "other-0000.tar"]


def test_qa_checks_flag_what_they_should() -> None:
    """The pixel checks on synthetic images: each one can fail."""
    from thagen.render.character import qa_checks as qa

    size = 64
    rest = np.zeros((size, size, 4), np.uint8)
    rest[16:60, 20:44] = (200, 180, 170, 255)  # a "head" from row 16 (= size/4) down
    assert qa.check_framing(rest).flags == []
    low = np.zeros_like(rest)
    low[28:] = rest[16:52]  # the head starts 12 rows too low
    assert "head_top_too_low" in qa.check_framing(low).flags
    side = np.roll(rest, 20, axis=1)
    assert "head_off_center" in qa.check_framing(side).flags
    assert qa.check_framing(np.zeros_like(rest)).flags == ["alpha_coverage_low"]

    eyes = rest.copy()
    eyes[28:32, 24:40] = (20, 20, 20, 255)
    region = (22, 26, 42, 34)
    assert qa.check_region_change(rest, eyes, region, "eyes").flags == []
    assert qa.check_region_change(rest, rest, region, "eyes").flags == ["eyes_no_change"]
    assert qa.check_region_change(rest, eyes, (0, 0, 10, 10), "eyes").flags == ["eyes_no_change"]
    both = eyes.copy()
    both[44:58, 22:42] = (0, 0, 255, 255)
    assert qa.check_region_change(rest, both, region, "eyes").flags == ["eyes_change_outside_region"]
    pose = {"head_x": 0.0, "head_y": 0.9, "neck_z": 0.0}
    assert qa.check_rotation([(rest, side, pose)]).flags == []
    assert qa.check_rotation([(rest, rest, pose)]).flags == ["rotation_no_change"]
