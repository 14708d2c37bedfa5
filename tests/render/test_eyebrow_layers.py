"""THA3's eyebrow decomposer targets: `eyebrow_layer` (the rest image's eyebrows alone) and
`face_no_eyebrow` (the rest image with the eyebrows hidden), from `images: tha3_stages`.

How the eyebrow geometry is found (rigs/normalize/eyebrows.py) is checked on the real models
without Blender; the pixels (render/scene/eyebrow_layer.py) with real renders of Gene (two
eyebrow islands inside its face material) and the built-in character (eyebrows shaped in the
skin under its bangs: none to find). Tolerances of the composite, in linear light: mean absolute
error below 0.5/255 and at most 0.5% of the pixels off by more than 8/255 (8-bit rounding at the
eyebrows' anti-aliased edges; Gene measures about 0.0002/255 and none).
"""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import yaml

from thagen.errors import ConfigError
from thagen.render.manifest import expand_characters, load_manifest, parse_manifest
from thagen.render.output.shards import POSE_NAMES
from thagen.rigs.model import Material, Model
from thagen.rigs.normalize import normalize
from thagen.rigs.normalize.eyebrows import find_eyebrows, is_eyebrow_name, vertex_components
from thagen.rigs.normalize.geometry import head_from_model
from thagen.rigs.reader import read_model

MEAN_ABS_MAX = 0.5 / 255
OFF_SHARE_MAX = 0.005  # share of pixels with a channel off by more than 8/255
SIZE = 128


def _write(folder: Path, data: dict) -> Path:
    path = folder / "m.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def builtin_model(tmp_path_factory: pytest.TempPathFactory) -> Model:
    from thagen.rigs.builtin import write_builtin_character

    return read_model(write_builtin_character(tmp_path_factory.mktemp("builtin")))


# ----------------------------------------------------------------------------- finding the eyebrows


def test_eyebrow_material_names() -> None:
    for name in ("眉", "まゆ毛", "ﾏﾕ", "eyebrow", "Eyebrows_L", "BrowR", "brow", "mayu", "mayuge_l"):
        assert is_eyebrow_name(name), name
    for name in ("顔", "まつげ", "brown_hair", "Mayumi", "eyelash", "hair"):
        assert not is_eyebrow_name(name), name


def test_vertex_components_join_vertices_sharing_triangles() -> None:
    faces = np.array([[0, 1, 2], [2, 3, 4], [5, 6, 7], [9, 8, 7]])
    labels = vertex_components(11, faces)
    assert len({labels[i] for i in (0, 1, 2, 3, 4)}) == 1
    assert len({labels[i] for i in (5, 6, 7, 8, 9)}) == 1
    assert len({labels[0], labels[5], labels[10]}) == 3  # vertex 10 is alone


def test_gene_eyebrows_are_its_two_brow_islands_not_its_eyelids(gene_pmx: Path) -> None:
    model = read_model(gene_pmx)
    rig = normalize(model, pose_vector="tha3")
    assert rig.extended is not None
    brows = rig.extended.eyebrows
    assert brows.found and brows.method == "morphs" and brows.islands == 2 and brows.materials == ()
    assert brows.faces.size == 88 and brows.vertices == 70
    face_material = next(m for m in model.materials if m.name == "顔")
    assert np.all(
        (brows.faces >= face_material.face_start)
        & (brows.faces < face_material.face_start + face_material.face_count)
    )
    vertices = np.unique(model.faces[brows.faces])
    assert model.positions[vertices, 1].min() > rig.extended.eye_line_y
    # browDown also nudges the eyelids a little: the eye-close morph's vertices stay out
    wink = next(m for m in model.morphs if m.name == rig.extended.params["eye_wink_left"].source)
    assert not np.intersect1d(vertices, wink.indices).size
    report = rig.to_dict()["extended"]["eyebrows"]
    assert report["found"] and report["faces"] == 88 and "困り左" in report["morphs"]


def test_builtin_character_has_no_eyebrow_geometry_and_says_why(builtin_model: Model) -> None:
    rig = normalize(builtin_model, pose_vector="tha3")
    assert rig.extended is not None
    brows = rig.extended.eyebrows
    assert not brows.found and brows.method == "none" and brows.faces.size == 0
    # its eyebrow morphs shape the brow band of the face skin (rigs/builtin/expressions.py)
    assert "no mesh island of their own" in brows.note and "face_no_eyebrow equals rest" in brows.note
    assert rig.to_dict()["extended"]["eyebrows"]["found"] is False
    assert normalize(builtin_model).extended is None  # THA1: no extended roles, no eyebrows


def _with_material(model: Model, name: str, y_low: float, y_high: float) -> tuple[Model, Material]:
    """A copy of the built-in character with the face triangles between two heights over the
    eyes duplicated into a new material `name` (drawn brows on top of the skin)."""
    face = next(m for m in model.materials if m.name == "顔")
    tris = model.faces[face.face_start : face.face_start + face.face_count]
    centre = model.positions[tris].mean(axis=1)
    pick = tris[
        (centre[:, 1] > y_low) & (centre[:, 1] < y_high) & (np.abs(np.abs(centre[:, 0]) - 0.5) < 0.25)
    ]
    assert len(pick)
    mat = Material(name=name, face_start=model.face_count, face_count=len(pick))
    faces = np.concatenate([model.faces, pick]).astype(model.faces.dtype)
    return dataclasses.replace(model, faces=faces, materials=[*model.materials, mat]), mat


def test_an_eyebrow_material_on_the_head_above_the_eyes_is_taken_whole(builtin_model: Model) -> None:
    model, mat = _with_material(builtin_model, "眉", 16.5, 16.8)
    rig = normalize(model, pose_vector="tha3")
    assert rig.extended is not None
    brows = rig.extended.eyebrows
    assert brows.method == "material" and brows.materials == ("眉",) and brows.islands == 0
    assert brows.faces.tolist() == list(range(mat.face_start, mat.face_start + mat.face_count))
    # the same name below the eye line (a character called Mayu's mouth, say) is not eyebrows
    low, _ = _with_material(builtin_model, "mayu", 15.3, 15.7)
    rig = normalize(low, pose_vector="tha3")
    assert rig.extended is not None and not rig.extended.eyebrows.found


def test_no_eyebrow_morphs_and_no_material_is_a_note(builtin_model: Model) -> None:
    rig = normalize(builtin_model, pose_vector="tha3")
    assert rig.extended is not None
    no_brows = {n: p for n, p in rig.extended.params.items() if not n.startswith("eyebrow_")}
    got = find_eyebrows(builtin_model, no_brows, head_from_model(builtin_model), rig.extended.eye_line_y)
    assert not got.found and "no eyebrow morph plays an eyebrow_* parameter" in got.note


# ----------------------------------------------------------------------------- the manifest side


def test_tha3_stages_and_layer_entries_in_a_manifest(tmp_path: Path) -> None:
    from thagen.render.poses.sample_images import PRESETS

    assert [s.name for s in PRESETS["tha3_stages"]] == ["eyebrow", "face", "eyebrow_layer", "face_no_eyebrow"]
    assert [s.layer for s in PRESETS["tha3_stages"]] == [None, None, "eyebrow_layer", "no_eyebrow"]
    base = {"pose_vector": "tha3", "characters": [{"builtin": True}]}
    custom = [{"name": "brows", "layer": "eyebrow_layer"}, {"name": "mouth", "apply": ["mouth"]}]
    m = load_manifest(_write(tmp_path, {**base, "images": custom}))
    assert [(s.name, s.layer) for s in m.images] == [("brows", "eyebrow_layer"), ("mouth", None)]
    assert m.to_dict()["images"] == custom
    again = parse_manifest(yaml.safe_load(yaml.safe_dump(m.to_dict(), sort_keys=False)), m.path)
    assert again == m
    for bad, field in (
        ([{"name": "x", "layer": "brows"}], "images[0].layer"),
        ([{"name": "x", "layer": "no_eyebrow", "apply": ["eye"]}], "images[0].apply"),
    ):
        path = _write(tmp_path, {**base, "images": bad})
        with pytest.raises(ConfigError) as info:
            load_manifest(path)
        assert f"{path}: {field}:" in str(info.value)


class _FakeRenderer:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def set_lighting(self, preset: str = "phong", ambient: float = 0.5, diffuse: float = 0.5) -> None:
        self.calls.append(f"light {ambient}")

    def set_pose(self, pose: dict) -> None:
        self.calls.append(f"pose {pose['mouth']}")

    def render_png(self) -> bytes:
        self.calls.append("png")
        return b"png"

    def render_layer(self, which: str) -> bytes:
        self.calls.append(which)
        return which.encode()


def test_layer_images_are_the_rest_pose_rendered_once_per_character() -> None:
    from thagen.render.character.prepare import Shot, Timer
    from thagen.render.poses.sample_images import PRESETS, extra_images

    renderer = _FakeRenderer()
    counted: list[int] = []
    lighting = SimpleNamespace(preset="phong", ambient=0.5, diffuse=0.5)
    shot = Shot(renderer, SimpleNamespace(lighting=lighting), Timer(), counted.append)  # type: ignore[arg-type]
    job = SimpleNamespace(images=PRESETS["tha3_stages"], pose_vector="tha1")
    rest = {n: 0.0 for n in POSE_NAMES} | {"mouth": 1.0}
    for i in range(3):
        pose = {n: 0.1 * i for n in POSE_NAMES} | {"ambient": 0.9}
        images = extra_images(shot, job, pose, rest)
        assert images["eyebrow_layer"] == b"eyebrow_layer" and images["face_no_eyebrow"] == b"no_eyebrow"
    assert renderer.calls.count("eyebrow_layer") == 1 and renderer.calls.count("no_eyebrow") == 1
    # rendered in the rest pose with the rest image's lighting, not the sample's ambient 0.9
    first = renderer.calls.index("eyebrow_layer")
    assert renderer.calls[first - 2 : first] == ["light 0.5", "pose 1.0"]
    assert len(counted) == shot.images == 3 * 4  # every stored image counts for progress


# ----------------------------------------------------------------------------- pixels (real renders)


@pytest.mark.slow
def test_each_mesh_part_maps_its_polygons_to_the_model_triangles(gene_pmx: Path) -> None:
    """The static split (rigs/blender/static_split.py) leaves two objects; eyebrow_layer.py
    finds the eyebrow polygons of each through `MeshPart.sources`."""
    from thagen.render.scene.blender_scene import BlenderRenderer
    from thagen.rigs.coordinates import mmd_to_blender

    model = read_model(gene_pmx)
    renderer = BlenderRenderer(image_size=64)
    try:
        renderer.load_character(model, normalize(model, pose_vector="tha3"), gene_pmx)
        assert len(renderer.parts) == 2 and renderer.static is not None  # Gene splits
        for part in renderer.parts:
            mesh = part.obj.data
            co = np.empty(len(mesh.vertices) * 3, np.float32)
            mesh.vertices.foreach_get("co", co)
            corners = np.empty(len(mesh.loops), np.int32)
            mesh.loops.foreach_get("vertex_index", corners)
            got = co.reshape(-1, 3)[corners].reshape(-1, 3, 3).mean(axis=1)
            want = mmd_to_blender(model.positions[model.faces[part.sources]].reshape(-1, 3))
            np.testing.assert_allclose(got, want.reshape(-1, 3, 3).mean(axis=1), atol=1e-4)
    finally:
        renderer.close()


def _rgba(png: bytes) -> np.ndarray:
    from thagen.render.character.qa_checks import decode_png

    return decode_png(png).astype(np.float64) / 255.0


def _linear(c: np.ndarray) -> np.ndarray:
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _srgb(c: np.ndarray) -> np.ndarray:
    c = np.clip(c, 0.0, 1.0)
    return np.where(c <= 0.0031308, c * 12.92, 1.055 * c ** (1 / 2.4) - 0.055)


def composite(layer: np.ndarray, base: np.ndarray) -> np.ndarray:
    """`layer` over `base` (straight-alpha sRGB RGBA in [0, 1]), blended in linear light."""
    la, ba = layer[..., 3:], base[..., 3:]
    alpha = la + ba * (1 - la)
    colour = (_linear(layer[..., :3]) * la + _linear(base[..., :3]) * ba * (1 - la)) / np.maximum(alpha, 1e-9)
    return np.concatenate([_srgb(colour), alpha], axis=-1)


def composite_error(layer: np.ndarray, face: np.ndarray, rest: np.ndarray) -> tuple[float, float]:
    """(mean absolute error, share of pixels off by more than 8/255) of layer-over-face against
    rest; colour counts only as much as the rest image is opaque there."""
    err = np.abs(composite(layer, face) - rest)
    err[..., :3] *= rest[..., 3:]
    return float(err.mean()), float((err.max(axis=-1) > 8 / 255).mean())


@pytest.fixture(scope="module")
def layer_run(tmp_path_factory: pytest.TempPathFactory, gene_pmx: Path):
    from thagen.render.character import RunSettings
    from thagen.render.run.runner import JOURNAL, read_jsonl, run_jobs

    tmp = tmp_path_factory.mktemp("eyebrow-layers")
    data = {
        "seed": 4,
        "output": "out",
        "image_size": SIZE,
        "pose_vector": "tha3",
        "framing_preset": "tha3",
        "images": "tha3_stages",
        "lighting": {"ambient_range": [0.5, 1.0]},  # the samples' ambient differs from the rest's
        "poses_per_character": 2,
        "characters": [{"builtin": True}, {"path": str(gene_pmx)}],
    }
    m = load_manifest(_write(tmp, data))
    jobs = expand_characters(m)
    summary = run_jobs(
        jobs,
        m.output_dir,
        RunSettings.from_manifest(m),
        manifest_dict=m.to_dict(),
        progress_stream=io.StringIO(),
    )
    assert summary.done == 2 and summary.failed == 0
    return (
        {("builtin" if j.builtin else "gene"): j for j in jobs},
        m.output_dir,
        read_jsonl(m.output_dir / JOURNAL),
    )


def _samples(out: Path, job_id: str, journal: list[dict]) -> list[dict]:
    from thagen.render.output.shards import iter_shard

    rec = next(r for r in journal if r["id"] == job_id)
    return [s for rel in rec["shards"] for s in iter_shard(out / rel)]


@pytest.mark.slow
def test_gene_layer_over_face_is_the_rest_image(layer_run) -> None:
    jobs, out, journal = layer_run
    job = jobs["gene"]
    samples = _samples(out, job.id, journal)
    assert len(samples) == 2
    for s in samples[1:]:  # the rest pose's: the same bytes in every sample
        assert s["eyebrow_layer.png"] == samples[0]["eyebrow_layer.png"]
        assert s["face_no_eyebrow.png"] == samples[0]["face_no_eyebrow.png"]
    rest, layer, face = (
        _rgba(samples[0][n]) for n in ("rest.png", "eyebrow_layer.png", "face_no_eyebrow.png")
    )
    mean, off = composite_error(layer, face, rest)
    assert mean < MEAN_ABS_MAX and off <= OFF_SHARE_MAX, (mean * 255, off)
    opaque = layer[..., 3] > 0
    assert opaque.sum() >= 4, "the eyebrow layer is empty"
    # the face differs from rest only where the layer shows eyebrows
    changed = np.abs(face - rest).max(axis=-1) > 0
    assert changed.any() and not (changed & ~opaque).any()
    # the layer lies in the upper face: inside the head's columns, from the head top to the eyes
    report = json.loads((out / "characters" / job.id / "rig_report.json").read_text(encoding="utf-8"))
    assert report["rig"]["extended"]["eyebrows"]["found"] is True
    top, chin = report["framing"]["head_top"][1], report["framing"]["chin"][1]
    eye_y = report["rig"]["extended"]["eye_line_y"]
    top_row, bottom_row = SIZE / 8, 3 * SIZE / 8  # tha3 framing: head top .. chin
    eye_row = top_row + (top - eye_y) / (top - chin) * (bottom_row - top_row)
    rows, cols = np.nonzero(opaque)
    assert rows.min() >= top_row and rows.max() < eye_row, (rows.min(), rows.max(), eye_row)
    assert cols.min() >= 3 * SIZE / 8 and cols.max() < 5 * SIZE / 8  # the decomposer's crop
    assert cols.min() < SIZE / 2 <= cols.max()  # both eyebrows


@pytest.mark.slow
def test_builtin_without_eyebrows_gets_an_empty_layer_and_the_rest_image(layer_run) -> None:
    jobs, out, journal = layer_run
    job = jobs["builtin"]
    for s in _samples(out, job.id, journal):
        assert s["face_no_eyebrow.png"] == s["rest.png"]
        layer = _rgba(s["eyebrow_layer.png"])
        assert layer.shape == (SIZE, SIZE, 4) and not layer[..., 3].any()
    report = json.loads((out / "characters" / job.id / "rig_report.json").read_text(encoding="utf-8"))
    brows = report["rig"]["extended"]["eyebrows"]
    assert brows["found"] is False and "face_no_eyebrow equals rest" in brows["note"]
    rec = next(r for r in journal if r["id"] == job.id)
    assert not rec["excluded"] and rec["images"] == 1 + 6 * 2
