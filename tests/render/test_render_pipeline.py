"""The render pipeline end to end: real Blender renders of real models into verified shards.

Images are tiny (64 px, 1 sample) so the whole file stays well under a few minutes on 2 cores.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from thagen.render.character import RunSettings, adhoc_job, render_one
from thagen.render.character.qa_checks import changed_mask, decode_png
from thagen.render.manifest import expand_characters, load_manifest
from thagen.render.output.shards import POSE_NAMES, iter_shard
from thagen.render.run.runner import JOURNAL, qa_output, read_jsonl, run_jobs

pytestmark = pytest.mark.slow  # real renders

SIZE = 64
THAGEN = [sys.executable, "-m", "thagen"]


def write_manifest(
    tmp: Path, characters: list, *, poses: int = 3, shard_size: int = 2, seed: int = 0, samples: int = 1
) -> Path:
    data = {
        "version": 1,
        "seed": seed,
        "output": "out",
        "image_size": SIZE,
        "render": {"engine": "cycles", "device": "cpu", "samples": samples},
        "lighting": {"preset": "phong", "ambient": 0.5, "diffuse": 0.5},
        "rest_pose": "tha1",
        "characters": characters,
        "splits": {"train": {"ratio": 1, "poses_per_character": poses}},
        "shard_size": shard_size,
    }
    path = tmp / "manifest.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


def render_manifest(path: Path, out: Path | None = None):
    m = load_manifest(path)
    jobs = expand_characters(m)
    out = out or m.output_dir
    summary = run_jobs(
        jobs, out, RunSettings.from_manifest(m), manifest_dict=m.to_dict(), progress_stream=io.StringIO()
    )
    return m, jobs, out, summary


def samples_of(out: Path, rec: dict) -> list[dict]:
    return [s for rel in rec["shards"] for s in iter_shard(out / rel)]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("demo")
    return render_manifest(write_manifest(tmp, [{"builtin": True}], poses=3, shard_size=2))


def test_demo_manifest_renders_verified_shards(demo_run) -> None:
    m, jobs, out, summary = demo_run
    (job,) = jobs
    assert summary.done == 1 and summary.failed == 0
    journal = read_jsonl(out / JOURNAL)
    assert [r["id"] for r in journal] == [job.id]
    rec = journal[0]
    # 3 samples in shards of 2: <id>-0000.tar (2 samples) and <id>-0001.tar (1 sample)
    assert rec["shards"] == [f"train/{job.id}-0000.tar", f"train/{job.id}-0001.tar"]
    samples = samples_of(out, rec)
    assert [s["__key__"] for s in samples] == [f"{job.id}/{i:06d}" for i in range(3)]
    expected = job.poses()
    rest_file = (out / "characters" / job.id / "rest.png").read_bytes()
    for i, s in enumerate(samples):
        pose = json.loads(s["pose.json"])
        assert pose["format"] == 1 and pose["character"] == job.id and pose["index"] == i
        assert pose["split"] == "train"
        assert pose["pose"] == {n: expected[i][n] for n in POSE_NAMES}
        assert pose["rest_pose"] == {
            "left_eye": 0.0,
            "right_eye": 0.0,
            "mouth": 1.0,
            "head_x": 0.0,
            "head_y": 0.0,
            "neck_z": 0.0,
        }
        assert s["rest.png"] == rest_file
        for part in ("rest.png", "expr.png", "rot.png"):
            img = decode_png(s[part])
            assert img.shape == (SIZE, SIZE, 4)
            assert 0 < (img[..., 3] > 0).mean() < 0.95  # a figure on a transparent background
        # expression-only differs from expression + rotation (the head turned)
        assert changed_mask(decode_png(s["expr.png"]), decode_png(s["rot.png"])).sum() > 0
    # per-character files
    cdir = out / "characters" / job.id
    for name in ("rest.png", "rig_report.json", "blender.log", "contact_sheet.png", "qa.json"):
        assert (cdir / name).stat().st_size > 0, name
    report = json.loads((cdir / "rig_report.json").read_text())
    assert report["rig"]["ok"] and report["framing"]["source"] == "estimate"
    assert report["name"] == "ビルトイン"  # the model's own name, which titles the contact sheet
    assert "timings" in report["import"] and report["blender_log_tail"]
    assert "Fra:" in (cdir / "blender.log").read_text()  # Blender's real output, not /dev/null
    assert rec["qa"]["flags"] == []
    # dataset.yaml
    ds = yaml.safe_load((out / "dataset.yaml").read_text())
    assert ds["splits"]["train"] == {"characters": 1, "samples": 3, "images": 7}
    assert ds["blender_version"].startswith("4.5") and ds["seed"] == 0
    assert ds["manifest"]["shard_size"] == 2 and ds["failures"] == []
    assert ds["characters"][job.id]["qa_flags"] == []
    assert not list(out.rglob("*.tmp-*"))
    # the final summary says where to look (make demo prints it)
    assert f"contact sheet: {cdir / 'contact_sheet.png'}" in summary.text()


def test_reset_image_has_eyes_and_mouth_open(demo_run) -> None:
    _, jobs, out, _ = demo_run
    cdir = out / "characters" / jobs[0].id
    qa = json.loads((cdir / "qa.json").read_text())
    rest = decode_png((cdir / "rest.png").read_bytes())
    for name, region_key in (("mouth_closed", "mouth"), ("eyes_closed", "eyes")):
        closed = decode_png((cdir / f"qa_{name}.png").read_bytes())
        x0, y0, x1, y1 = qa["regions"][region_key]
        assert qa["regions"][f"{region_key}_source"] == "projected"
        mask = changed_mask(rest, closed)
        # closing the mouth (eyes) changes the reset image there: so it was open in the reset image
        assert mask[y0:y1, x0:x1].sum() >= 3, name
        assert mask.sum() - mask[y0:y1, x0:x1].sum() <= 0.25 * mask.sum(), name


def test_same_manifest_and_seed_give_identical_outputs(demo_run, tmp_path: Path) -> None:
    m, jobs, out, _ = demo_run
    _, _, out2, _ = render_manifest(m.path, out=tmp_path / "again")
    rec1 = read_jsonl(out / JOURNAL)[0]
    rec2 = read_jsonl(out2 / JOURNAL)[0]
    assert rec1["shards"] == rec2["shards"]
    for a, b in zip(samples_of(out, rec1), samples_of(out2, rec2), strict=True):
        assert a["pose.json"] == b["pose.json"]
        for part in ("rest.png", "expr.png", "rot.png"):
            assert np.array_equal(decode_png(a[part]), decode_png(b[part])), (a["__key__"], part)
    # a different seed gives different poses
    other = write_manifest(tmp_path, [{"builtin": True}], poses=3, shard_size=2, seed=1)
    assert expand_characters(load_manifest(other))[0].poses() != jobs[0].poses()


def test_pixels_do_not_depend_on_render_order(tmp_path: Path, gene_pmx: Path) -> None:
    """A character rendered after another in the same worker, or alone (as after a resume or on
    another machine), gives the same pixels."""
    both_dir, alone_dir = tmp_path / "both", tmp_path / "alone"
    both_dir.mkdir()
    alone_dir.mkdir()
    # 4 samples: at 1 sample per pixel Cycles' sampling pattern does not change the pixels at all
    chars = [{"builtin": True}, {"path": str(gene_pmx)}]
    both = write_manifest(both_dir, chars, poses=1, shard_size=1, samples=4)
    alone = write_manifest(alone_dir, chars[1:], poses=1, shard_size=1, samples=4)
    _, jobs, out_both, _ = render_manifest(both)
    assert [j.id.split("-")[0] for j in jobs] == ["builtin", "gene"]  # gene renders second here
    _, _, out_alone, _ = render_manifest(alone)
    gene_id = jobs[1].id
    rec_both = next(r for r in read_jsonl(out_both / JOURNAL) if r["id"] == gene_id)
    rec_alone = read_jsonl(out_alone / JOURNAL)[0]
    for a, b in zip(samples_of(out_both, rec_both), samples_of(out_alone, rec_alone), strict=True):
        for part in ("rest.png", "expr.png", "rot.png"):
            assert np.array_equal(decode_png(a[part]), decode_png(b[part])), part


def test_qa_command_rechecks_from_shards(demo_run, tmp_path: Path) -> None:
    import shutil

    _, jobs, out, _ = demo_run
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    sheet = copy / "characters" / jobs[0].id / "contact_sheet.png"
    sheet.unlink()
    report = qa_output(copy)
    assert report["checked"] == 1 and report["broken"] == 0 and report["flagged"] == 0
    assert sheet.stat().st_size > 0  # rebuilt
    # a damaged shard is found
    tar = copy / f"train/{jobs[0].id}-0000.tar"
    tar.write_bytes(tar.read_bytes()[:3000])
    proc = subprocess.run([*THAGEN, "qa", str(copy)], capture_output=True, text=True)
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "shard_problems" in proc.stdout


def test_gene_renders(gene_pmx: Path, tmp_path: Path) -> None:
    job = adhoc_job(str(gene_pmx), poses=2, size=SIZE, samples=1)
    summary = render_one(job, tmp_path, RunSettings(image_size=SIZE, samples=1))
    assert summary["qa"]["flags"] == []
    assert summary["rig"]["ok"]
    assert len(summary["poses"]) == 2
    for name in (
        "Gene_light_rest.png",
        "Gene_light_000_expr.png",
        "Gene_light_001_rot.png",
        "contact_sheet.png",
    ):
        assert (tmp_path / name).stat().st_size > 0
    rest = decode_png((tmp_path / "Gene_light_rest.png").read_bytes())
    # THA1 framing: the head band starts near row size/4 and the figure is centred
    assert abs(summary["qa"]["metrics"]["head_band_row"] - SIZE / 4) <= 0.1 * SIZE
    assert abs(summary["qa"]["metrics"]["head_center_x"] - SIZE / 2) <= 0.1 * SIZE
    assert rest[SIZE // 2, SIZE // 2, 3] == 255  # the face is opaque


def test_render_one_cli_builtin(tmp_path: Path) -> None:
    out = tmp_path / "look"
    proc = subprocess.run(
        [
            *THAGEN,
            "render-one",
            "builtin",
            "--poses",
            "2",
            "--size",
            str(SIZE),
            "--samples",
            "1",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"contact sheet: {out / 'contact_sheet.png'}" in proc.stdout
    for name in (
        "builtin_rest.png",
        "builtin_000_expr.png",
        "builtin_000_rot.png",
        "builtin_001_rot.png",
        "poses.json",
    ):
        assert (out / name).is_file(), name
    poses = json.loads((out / "poses.json").read_text())
    assert [p["index"] for p in poses["poses"]] == [0, 1]


def test_render_one_from_a_zip_with_a_japanese_folder(tmp_path: Path, gene_pmx: Path) -> None:
    """Models ship as zips, names often cp932 without the UTF-8 flag; textures must still resolve."""
    import zipfile

    archive = tmp_path / "gene.zip"
    folder = "ジェネ/"
    with zipfile.ZipFile(archive, "w") as zf:

        def add(name: str, data: bytes) -> None:
            info = zipfile.ZipInfo(folder + name)
            info.filename = (folder + name).encode("cp932").decode("cp437")  # legacy, no UTF-8 flag
            zf.writestr(info, data)

        add(gene_pmx.name, gene_pmx.read_bytes())
        for tex in sorted((gene_pmx.parent / "light").glob("*.png")):
            add(f"light/{tex.name}", tex.read_bytes())
    out = tmp_path / "look"
    proc = subprocess.run(
        [
            *THAGEN,
            "render-one",
            str(archive),
            "--poses",
            "1",
            "--size",
            str(SIZE),
            "--samples",
            "1",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")},
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "poses.json").read_text())
    assert summary["import"]["missing_textures"] == []
    rest = decode_png((out / "Gene_light_rest.png").read_bytes())
    assert 0.05 < (rest[..., 3] > 127).mean() < 0.95
    # nothing was written outside the chosen cache directory
    assert list((tmp_path / "cache").rglob("Gene_light.pmx"))


def test_flagged_character_is_excluded(tmp_path: Path) -> None:
    """A character framed off-centre (a wrong annotation) is flagged by QA; with
    qa.exclude_flagged its shards go to OUT/excluded/<split>/, out of the trainer's way."""
    ann = tmp_path / "off.annotation.yaml"
    ann.write_text(
        yaml.safe_dump(
            {"version": 1, "head_top": [0.0, 18.0, 0.0], "chin": [0.0, 14.9, -1.0], "center_x": 2.5}
        )
    )
    path = write_manifest(tmp_path, [{"builtin": True, "annotation": str(ann)}], poses=1)
    data = yaml.safe_load(path.read_text())
    data["qa"] = {"exclude_flagged": True}
    path.write_text(yaml.safe_dump(data))
    _, jobs, out, summary = render_manifest(path)
    (job,) = jobs
    assert summary.done == 1 and summary.excluded == 1
    (rec,) = read_jsonl(out / JOURNAL)
    assert rec["excluded"] and "head_off_center" in rec["qa"]["flags"]
    assert rec["framing_source"] == "annotation"
    assert rec["shards"] == [f"excluded/train/{job.id}-0000.tar"]
    assert [s["__key__"] for s in samples_of(out, rec)] == [f"{job.id}/000000"]
    assert not (out / "train").exists() or not list((out / "train").glob("*.tar"))
    ds = yaml.safe_load((out / "dataset.yaml").read_text())
    assert "train" not in ds["splits"] and ds["splits"]["excluded/train"]["samples"] == 1
    assert "head_off_center" in ds["characters"][job.id]["qa_flags"]
    assert qa_output(out)["flagged"] == 1
