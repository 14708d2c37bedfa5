"""Missing texture files: drawn in the material's diffuse colour (never magenta) and flagged by QA.

Models are made here from the built-in character (rigs/builtin): complete; without its atlas
(every material, the face included, loses its texture); and with the clothes pointing at a
texture file of their own that is never written. Gene (tests/data) is copied without some of
its files, as downloads often come. Renders are small (128 px, 1 sample).
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from thagen.render.character import RunSettings, adhoc_job, make_renderer, render_one
from thagen.render.character.qa_checks import decode_png
from thagen.render.character.texture_qa import FLAG_HARD, FLAG_SOFT, check_textures, name_word
from thagen.rigs.builtin import ATLAS_NAME, builtin_character, write_builtin_character
from thagen.rigs.formats.pmx.writer import write_pmx

SIZE = 128
CLOTHES_FILE = "clothes.png"
CLOTHES_DIFFUSE = (0.16, 0.2, 0.41)


def magenta_pixels(image: np.ndarray) -> int:
    """Blender's missing-texture colour (the built-in character has nothing like it)."""
    r, g, b, a = (image[..., i].astype(np.int32) for i in range(4))
    return int(((r > 200) & (g < 60) & (b > 200) & (a > 0)).sum())


def write_without_atlas(folder: Path) -> Path:
    path = write_builtin_character(folder, name="noface")
    (folder / ATLAS_NAME).unlink()
    return path


def write_without_clothes_texture(folder: Path) -> Path:
    """The built-in character whose clothes (服) use `clothes.png`, a file that is not there."""
    write_builtin_character(folder, name="atlas")  # the atlas and toon files the rest uses
    (folder / "atlas.pmx").unlink()
    model = builtin_character()
    model.textures = [*model.textures, CLOTHES_FILE]
    clothes = next(m for m in model.materials if m.name == "服")
    clothes.texture = len(model.textures) - 1
    clothes.diffuse = np.array([*CLOTHES_DIFFUSE, 1.0], np.float32)
    path = folder / "noclothes.pmx"
    write_pmx(model, path)
    return path


@pytest.fixture(scope="module")
def renders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[dict, dict[str, np.ndarray]]]:
    """name -> (render_one's summary, decoded images by file name), one shared renderer."""
    root = tmp_path_factory.mktemp("textures")
    settings = RunSettings(image_size=SIZE, samples=1)
    makers = {
        "complete": lambda d: write_builtin_character(d, name="complete"),
        "noface": write_without_atlas,
        "noclothes": write_without_clothes_texture,
    }
    renderer = make_renderer(settings)
    out: dict[str, tuple[dict, dict[str, np.ndarray]]] = {}
    try:
        for name, make in makers.items():
            folder = root / name
            folder.mkdir()
            job = adhoc_job(str(make(folder)), poses=2, size=SIZE, samples=1)
            summary = render_one(job, folder / "out", settings, renderer=renderer)
            images = {
                f: decode_png((folder / "out" / f).read_bytes())
                for f in summary["files"]
                if f.endswith(".png")
            }
            out[name] = (summary, images)
    finally:
        renderer.close()
    return out


@pytest.mark.slow
def test_no_render_is_magenta(renders) -> None:
    for name, (_summary, images) in renders.items():
        assert len(images) >= 7, name  # rest, 2 x (expr, rot), the two QA images
        for file, image in images.items():
            assert magenta_pixels(image) == 0, f"{name}/{file}"


@pytest.mark.slow
def test_complete_model_has_no_texture_flag(renders) -> None:
    summary, _ = renders["complete"]
    qa = summary["qa"]
    assert summary["import"]["missing_textures"] == [] and summary["import"]["texture_misses"] == []
    assert not {FLAG_SOFT, FLAG_HARD} & set(qa["flags"])
    assert "textures" not in qa["regions"] and not any(k.startswith("texture") for k in qa["metrics"])


@pytest.mark.slow
def test_missing_face_texture_is_hard(renders) -> None:
    summary, _ = renders["noface"]
    qa = summary["qa"]
    assert FLAG_HARD in qa["flags"] and FLAG_SOFT not in qa["flags"]
    assert qa["metrics"]["texture_missing_files"] == [ATLAS_NAME]
    assert qa["metrics"]["texture_missing_head_share"] > 0.5  # face + hair fill most of the head box
    details = qa["metrics"]["texture_missing_materials"]
    face = next(d for d in details if d.startswith("顔:"))
    assert ATLAS_NAME in face and "name 顔" in face and "eye/mouth morph" in face and "head bone" in face
    rows = {r["name"]: r for r in qa["regions"]["textures"]["materials"]}
    assert rows["顔"]["head_share"] > 0.1 and rows["髪"]["head_share"] > 0.2
    assert rows["服"]["head"] == [] and rows["服"]["head_share"] < 0.01  # clothes: not the head


@pytest.mark.slow
def test_missing_clothes_texture_is_soft_and_drawn_in_its_diffuse_colour(renders) -> None:
    summary, images = renders["noclothes"]
    qa = summary["qa"]
    assert FLAG_SOFT in qa["flags"] and FLAG_HARD not in qa["flags"]
    assert qa["metrics"]["texture_missing_files"] == [CLOTHES_FILE]
    assert qa["metrics"]["texture_missing_head_share"] < 0.05
    (detail,) = qa["metrics"]["texture_missing_materials"]
    assert detail.startswith(f"服: {CLOTHES_FILE} (diffuse") and "% of head box" in detail
    # where the clothes differ from the complete model's, they are the diffuse colour times the
    # light (a grey scale): in linear RGB, the diffuse colour's own channel ratios
    complete = renders["complete"][1]["complete_rest.png"].astype(np.int32)
    rest = images["noclothes_rest.png"]
    changed = (np.abs(rest.astype(np.int32) - complete).max(axis=-1) > 24) & (rest[..., 3] == 255)
    assert changed.sum() > 50
    c = rest[..., :3][changed] / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    r, g, b = CLOTHES_DIFFUSE
    assert np.median(linear[:, 0] / linear[:, 2]) == pytest.approx(r / b, abs=0.05)
    assert np.median(linear[:, 1] / linear[:, 2]) == pytest.approx(g / b, abs=0.05)


@pytest.mark.slow
def test_the_mask_render_leaves_the_scene_as_it_was(tmp_path: Path) -> None:
    """The material-ID render rebuilds every material afterwards: the reset image is unchanged."""
    from thagen.render.character import Timer, prepare_character
    from thagen.render.character.texture_qa import texture_record
    from thagen.render.poses.sampling import REST_POSES

    job = adhoc_job(str(write_without_clothes_texture(tmp_path)), poses=1, size=SIZE, samples=1)
    settings = RunSettings(image_size=SIZE, samples=1)
    renderer = make_renderer(settings)
    try:
        prep = prepare_character(job, renderer, settings, Timer(), ["read"])
        renderer.set_pose(REST_POSES["tha1"])
        before = renderer.render_png()
        record = texture_record(prep.model, prep.rig, renderer, prep.framing, SIZE)
        after = renderer.render_png()
    finally:
        renderer.close()
    assert record is not None and record["files"] == [CLOTHES_FILE]
    assert before == after


@pytest.mark.slow
def test_a_manifest_run_records_the_flag_and_thagen_qa_keeps_it(tmp_path: Path) -> None:
    """Through the runner (render_character) into qa.json and the journal, then `thagen qa`."""
    from thagen.render.manifest import expand_characters, load_manifest
    from thagen.render.run.recheck import qa_output
    from thagen.render.run.runner import JOURNAL, read_jsonl, run_jobs

    model = write_without_atlas(tmp_path / "model")
    manifest = {
        "version": 1,
        "seed": 0,
        "output": "out",
        "image_size": 64,
        "render": {"engine": "cycles", "device": "cpu", "samples": 1},
        "characters": [{"path": str(model)}],
        "splits": {"train": {"ratio": 1, "poses_per_character": 1}},
    }
    path = tmp_path / "manifest.yaml"
    path.write_text(yaml.safe_dump(manifest, allow_unicode=True))
    m = load_manifest(path)
    jobs = expand_characters(m)
    run_jobs(
        jobs,
        m.output_dir,
        RunSettings.from_manifest(m),
        manifest_dict=m.to_dict(),
        progress_stream=io.StringIO(),
    )
    (record,) = read_jsonl(m.output_dir / JOURNAL)
    assert FLAG_HARD in record["qa"]["flags"]
    qa_json = json.loads((m.output_dir / "characters" / jobs[0].id / "qa.json").read_text())
    assert qa_json["regions"]["textures"]["files"] == [ATLAS_NAME]
    rechecked = qa_output(m.output_dir, sheets=False)  # `thagen qa OUT`: from qa.json, no Blender
    assert FLAG_HARD in rechecked["characters"][jobs[0].id]["flags"]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("gone", "flag"),
    [(("face.png", "hair2.png", "top.png", "bottoms.png"), FLAG_HARD), (("top.png",), FLAG_SOFT)],
)
def test_gene_without_some_files(tmp_path: Path, gene_pmx: Path, gone: tuple[str, ...], flag: str) -> None:
    """The issue's two downloads: face, hair and clothes missing (hard), one clothes file (soft)."""
    shutil.copy(gene_pmx, tmp_path)
    shutil.copytree(gene_pmx.parent / "light", tmp_path / "light")
    for name in gone:
        (tmp_path / "light" / name).unlink()
    job = adhoc_job(str(tmp_path / gene_pmx.name), poses=1, size=SIZE, samples=1)
    summary = render_one(job, tmp_path / "out", RunSettings(image_size=SIZE, samples=1))
    qa = summary["qa"]
    assert flag in qa["flags"] and ({FLAG_SOFT, FLAG_HARD} - {flag}).isdisjoint(qa["flags"])
    assert sorted(qa["metrics"]["texture_missing_files"]) == sorted(f"light/{n}" for n in gone)
    for file in summary["files"]:
        if file.endswith(".png") and file != "contact_sheet.png":
            assert magenta_pixels(decode_png((tmp_path / "out" / file).read_bytes())) == 0, file


# ------------------------------------------------------------------------------ no Blender


@pytest.mark.parametrize(
    ("names", "word"),
    [
        (["顔"], "顔"),
        (["白目"], "白目"),
        (["前髪"], "前髪"),
        (["手肌"], None),  # the arms' skin
        (["肌"], "肌"),
        (["袖口"], None),  # a sleeve's cuff, not a mouth
        (["トップス", "", "top"], None),
        (["mat01", "", "hair2"], "hair"),  # the texture file's name
        (["FaceSkin"], "face"),
        (["BodySkin"], None),
        (["Eyelashes"], "eyelashes"),
        (["brown_leather"], None),
        (["Hair_Front"], "hair"),
    ],
)
def test_head_material_names(names: list[str], word: str | None) -> None:
    assert name_word(names) == word


def _row(name: str, share: float | None, head: list[str] | None = None, **kw: object) -> dict:
    row = {"material": 0, "name": name, "file": f"{name}.png", "use": "diffuse", "visible": True}
    return {**row, "head": head or [], "head_share": share, "seen": share is None or share > 0, **kw}


def test_check_textures_soft_hard_and_why() -> None:
    assert check_textures(None).to_dict() == {"ok": True, "flags": [], "metrics": {}}

    def flags(rows: list[dict], union: float | None = None) -> list[str]:
        files = [r["file"] for r in rows]
        return check_textures({"files": files, "head_share": union, "materials": rows}).flags

    assert flags([_row("collar", 0.01)], 0.01) == [FLAG_SOFT]
    assert flags([_row("face", 0.3, ["name face"])], 0.3) == [FLAG_HARD]
    assert flags([_row("hat", 0.2)], 0.2) == [FLAG_HARD]  # unnamed, but 20% of the head box
    assert flags([_row("a", 0.03), _row("b", 0.03)], 0.06) == [FLAG_HARD]  # together > 5%
    assert flags([_row("star eyes", 0.0, ["name eye"])], 0.0) == [FLAG_SOFT]  # never seen
    assert flags([_row("tears", None, ["name face"], visible=False)]) == [FLAG_SOFT]  # alpha 0
    assert flags([_row("face", 0.3, ["name face"], use="sphere")], 0.0) == [FLAG_SOFT]
    assert flags([_row("face", None, ["name face"])]) == [FLAG_HARD]  # no share measured
    res = check_textures({"files": ["collar.png"], "head_share": 0.01, "materials": [_row("collar", 0.01)]})
    assert res.metrics == {
        "texture_missing_files": ["collar.png"],
        "texture_missing_head_share": 0.01,
        "texture_missing_materials": ["collar: collar.png (diffuse; 1.0% of head box)"],
    }
