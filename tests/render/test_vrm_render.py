"""VRM characters through the real renderer: same pixels as the PMX they were written from.

The built-in character is rendered from its PMX and from its VRM 0.x / 1.0 files with the
same poses (128 px, 1 sample): QA must pass, the framing must match, silhouettes must agree
(alpha IoU > 0.98) and a left-eye close must show on the viewer's right (the character's left)
for both spec versions, which face opposite ways in their files.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import yaml

from thagen.render.character import RunSettings, adhoc_job, render_one
from thagen.render.character.qa_checks import decode_png
from thagen.rigs.builtin import write_builtin_character
from thagen.rigs.builtin.vrm import write_builtin_vrm

pytestmark = pytest.mark.slow  # real renders

SIZE = 128
POSES = [
    {"left_eye": 1.0, "right_eye": 0.0, "mouth": 1.0, "head_x": 0.4, "head_y": -0.5, "neck_z": 0.3},
    {"left_eye": 0.0, "right_eye": 1.0, "mouth": 1.0, "head_x": -0.6, "head_y": 0.7, "neck_z": -0.2},
]


def _render(path: Path, out: Path) -> tuple[dict, dict[str, np.ndarray]]:
    job = adhoc_job(str(path), poses=len(POSES), size=SIZE, samples=1)
    summary = render_one(job, out, RunSettings(image_size=SIZE, samples=1), poses=POSES, stem="c")
    images = {
        name: decode_png((out / f"c_{name}.png").read_bytes())
        for name in ("rest", "000_expr", "001_expr", "000_rot", "001_rot")
    }
    return summary, images


@pytest.fixture(scope="module")
def renders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[dict, dict[str, np.ndarray]]]:
    folder = tmp_path_factory.mktemp("chars")
    paths = {
        "pmx": write_builtin_character(folder / "pmx"),
        "0.x": write_builtin_vrm(folder / "vrm", "0.x", name="v0"),
        "1.0": write_builtin_vrm(folder / "vrm", "1.0", name="v1"),
    }
    return {key: _render(path, folder / f"out_{key[0]}") for key, path in paths.items()}


def iou(a: np.ndarray, b: np.ndarray) -> float:
    ma, mb = a[..., 3] > 127, b[..., 3] > 127
    return float((ma & mb).sum() / (ma | mb).sum())


@pytest.mark.parametrize("version", ["0.x", "1.0"])
def test_vrm_renders_like_the_pmx(version: str, renders) -> None:
    pmx_summary, pmx_images = renders["pmx"]
    summary, images = renders[version]
    assert summary["rig"]["ok"]
    assert summary["qa"]["flags"] == [], summary["qa"]  # eyes-closed and mouth-closed checks pass
    assert summary["import"]["missing_textures"] == []
    # framing: same head top and chin as the PMX, head band at a quarter of the image
    for key in ("head_top", "chin"):
        np.testing.assert_allclose(summary["framing"][key], pmx_summary["framing"][key], atol=1e-3)
    assert abs(summary["qa"]["metrics"]["head_band_row"] - SIZE / 4) <= 2
    assert summary["qa"]["rows"] == {"center_x": SIZE / 2, "chin": 3 * SIZE / 4, "head_top": SIZE / 4}
    # silhouettes of the same pose agree
    for name, image in images.items():
        assert iou(image, pmx_images[name]) > 0.98, name
    # the textures came out of the file: the RGB of the opaque pixels matches the PMX render
    both = (images["rest"][..., 3] == 255) & (pmx_images["rest"][..., 3] == 255)
    diff = np.abs(images["rest"][..., :3].astype(int) - pmx_images["rest"][..., :3].astype(int))[both]
    assert np.median(diff) <= 2


@pytest.mark.parametrize("version", ["pmx", "0.x", "1.0"])
def test_left_eye_closes_on_the_viewers_right(version: str, renders) -> None:
    _, images = renders[version]
    rest = images["rest"].astype(int)
    centres = []
    for name in ("000_expr", "001_expr"):  # left eye closed, then right eye closed (mouth as at rest)
        changed = np.abs(images[name].astype(int) - rest).max(axis=2) > 24
        cols = np.nonzero(changed)[1]
        assert cols.size > 10, name
        centres.append(cols.mean())
    assert centres[0] > SIZE / 2 > centres[1], centres


def test_manifest_mixing_pmx_and_vrm(tmp_path: Path) -> None:
    from thagen.render.manifest import expand_characters, load_manifest
    from thagen.render.run.runner import run_jobs

    models = tmp_path / "models"
    write_builtin_vrm(models, "0.x", name="avatar_old")
    write_builtin_vrm(models, "1.0", name="avatar_new")
    data = {
        "version": 1,
        "seed": 0,
        "output": "out",
        "image_size": 64,
        "render": {"engine": "cycles", "device": "cpu", "samples": 1},
        "lighting": {"preset": "phong", "ambient": 0.5, "diffuse": 0.5},
        "rest_pose": "tha1",
        "characters": [{"builtin": True}, {"glob": "models/*.vrm"}],
        "splits": {"train": {"ratio": 1, "poses_per_character": 1}},
        "shard_size": 4,
        # the three are one character (identity groups them; the VRMs are duplicates): render all
        "identity": {"keep_duplicates": True},
    }
    path = tmp_path / "manifest.yaml"
    path.write_text(yaml.safe_dump(data))
    m = load_manifest(path)
    jobs = expand_characters(m)
    assert sorted(j.id.split("-")[0] for j in jobs) == ["avatar", "avatar", "builtin"]
    assert len({j.identity.group for j in jobs}) == 1  # one character in PMX and both VRM versions
    summary = run_jobs(
        jobs,
        m.output_dir,
        RunSettings.from_manifest(m),
        manifest_dict=m.to_dict(),
        progress_stream=io.StringIO(),
    )
    assert summary.done == 3 and summary.failed == 0
    ds = yaml.safe_load((m.output_dir / "dataset.yaml").read_text())
    assert ds["splits"]["train"]["characters"] == 3 and ds["splits"]["train"]["samples"] == 3
    assert all(c["qa_flags"] == [] for c in ds["characters"].values())


def test_binary_expressions_snap_the_pose(tmp_path: Path) -> None:
    """isBinary blinkLeft / blinkRight / aa: the eyes and mouth render and record as 0 or 1."""
    import json

    from thagen.rigs.builtin.vrm import builtin_vrm_bytes

    path = tmp_path / "binary.vrm"
    path.write_bytes(builtin_vrm_bytes("1.0", binary=frozenset({"ウィンク２", "ｳｨﾝｸ２右", "あ"})))
    job = adhoc_job(str(path), poses=1, size=64, samples=1)
    pose = {"left_eye": 0.7, "right_eye": 0.3, "mouth": 0.4, "head_x": 0.2, "head_y": 0.0, "neck_z": 0.0}
    summary = render_one(job, tmp_path / "out", RunSettings(image_size=64, samples=1), poses=[pose], stem="b")
    recorded = json.loads((tmp_path / "out" / "poses.json").read_text())["poses"][0]["pose"]
    assert (recorded["left_eye"], recorded["right_eye"], recorded["mouth"]) == (1.0, 0.0, 0.0)
    assert recorded["head_x"] == pytest.approx(0.2)
    assert summary["rig"]["ok"]


def test_alpha_modes_and_mtoon_ramp(tmp_path: Path, renders) -> None:
    """Hair texels at alpha 0.3: OPAQUE ignores it (the PMX silhouette), MASK at 0.5 cuts the
    hair away; the toon preset shades VRM materials with a ramp from their MToon shade colour."""
    import io as _io

    from PIL import Image

    from thagen.rigs.builtin import REGION, builtin_character
    from thagen.rigs.builtin.vrm import BUILTIN_HUMANOID, BUILTIN_PRESETS, builtin_png_bytes
    from thagen.rigs.formats.vrm.writer import vrm_bytes

    pngs = builtin_png_bytes()
    atlas = np.array(Image.open(_io.BytesIO(pngs["builtin_atlas.png"])).convert("RGBA"))
    x0, y0, x1, y1 = REGION["hair"]
    atlas[y0:y1, x0:x1, 3] = 77
    buf = _io.BytesIO()
    Image.fromarray(atlas).save(buf, format="PNG")
    pngs["builtin_atlas.png"] = buf.getvalue()
    options = {"images": pngs, "presets": BUILTIN_PRESETS, "humanoid": BUILTIN_HUMANOID}
    rest: dict[str, np.ndarray] = {}
    for mode in ("OPAQUE", "MASK"):
        path = tmp_path / f"{mode.lower()}.vrm"
        path.write_bytes(vrm_bytes(builtin_character(), "1.0", alpha={"髪": (mode, 0.5)}, **options))
        job = adhoc_job(str(path), poses=1, size=SIZE, samples=1)
        render_one(job, tmp_path / mode, RunSettings(image_size=SIZE, samples=1), poses=POSES[:1], stem="a")
        rest[mode] = decode_png((tmp_path / mode / "a_rest.png").read_bytes())
    pmx_rest = renders["pmx"][1]["rest"]
    assert iou(rest["OPAQUE"], pmx_rest) > 0.98
    assert iou(rest["MASK"], pmx_rest) < 0.9  # the hair is gone
    assert (rest["MASK"][..., 3] > 127).sum() < 0.9 * (pmx_rest[..., 3] > 127).sum()

    job = adhoc_job(str(tmp_path / "opaque.vrm"), poses=1, size=SIZE, samples=1, lighting="toon")
    summary = render_one(
        job, tmp_path / "toon", RunSettings(image_size=SIZE, samples=1), poses=POSES[:1], stem="t"
    )
    assert summary["qa"]["flags"] == []


def test_render_one_cli_takes_glb_and_gltf(tmp_path: Path) -> None:
    """`.glb` (a VRM under another name) and `.gltf` + `.bin` + PNGs go through the CLI too."""
    import json
    import subprocess
    import sys

    from glb_chunks import split_glb

    from thagen.rigs.builtin.vrm import builtin_vrm_bytes

    data = builtin_vrm_bytes("0.x")
    (tmp_path / "avatar.glb").write_bytes(data)
    doc, binary = split_glb(data)
    folder = tmp_path / "split"
    (folder / "tex").mkdir(parents=True)
    (folder / "avatar.bin").write_bytes(binary[: doc["buffers"][0]["byteLength"]])
    doc["buffers"][0]["uri"] = "avatar.bin"
    for img in doc["images"]:
        view = doc["bufferViews"][img.pop("bufferView")]
        (folder / "tex" / img["name"]).write_bytes(
            binary[view["byteOffset"] : view["byteOffset"] + view["byteLength"]]
        )
        img["uri"] = "tex/" + img["name"]
    (folder / "avatar.gltf").write_text(json.dumps(doc))
    thagen = [sys.executable, "-m", "thagen"]
    proc = subprocess.run(
        [*thagen, "inspect", "--json", str(tmp_path / "avatar.glb")], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["vrm"]["spec_version"] == "0.x"
    out = tmp_path / "look"
    args = [
        "render-one",
        str(folder / "avatar.gltf"),
        "--poses",
        "1",
        "--size",
        "64",
        "--samples",
        "1",
        "--out",
        str(out),
    ]
    proc = subprocess.run([*thagen, *args], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "poses.json").read_text())
    assert summary["import"]["missing_textures"] == [] and summary["qa"]["flags"] == []
    assert (out / "avatar_rest.png").stat().st_size > 0
