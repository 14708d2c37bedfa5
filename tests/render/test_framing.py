"""Head top / chin: the geometric estimate (built-in character, Gene) and annotation files."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pytest
import yaml

from thagen.errors import ConfigError
from thagen.render.framing.annotation_file import (
    Annotation,
    annotation_path_for,
    load_annotation,
    now_iso,
    save_annotation,
)
from thagen.render.framing.estimate import Framing, estimate_framing, load_framing
from thagen.rigs import builtin
from thagen.rigs.builtin import builtin_character, write_builtin_character
from thagen.rigs.normalize import normalize
from thagen.rigs.reader import read_model

# built-in geometry (thagen.rigs.builtin.head): the hair cap is the head ellipsoid grown by 0.12 in y
HAIR_TOP = float(builtin.HEAD_CENTER[1] + builtin.HEAD_RADII[1] + 0.12)
SKULL_BOTTOM = float(builtin.HEAD_CENTER[1] - builtin.HEAD_RADII[1])  # the head ellipsoid's bottom pole
JAW_DROP = builtin.MOUTH_SHAPES["あ"][1][3]


@pytest.fixture(scope="module")
def builtin_model():
    model = builtin_character()
    return model, normalize(model)


@pytest.fixture(scope="module")
def gene(gene_pmx: Path):
    model = read_model(gene_pmx)
    return model, normalize(model)


def test_builtin_head_top_excludes_the_ahoge(builtin_model) -> None:
    model, rig = builtin_model
    f = estimate_framing(model, rig)
    assert f.source == "estimate"
    assert abs(f.head_top[1] - HAIR_TOP) < 0.03
    ahoge_top = float(model.positions[:, 1].max())  # the ahoge is the highest thing on the model
    assert ahoge_top > HAIR_TOP + 1.0
    assert any("ahoge" in n for n in f.notes)
    assert abs(f.center_x) < 0.01


def test_builtin_chin_is_the_face_not_the_hair(builtin_model) -> None:
    model, rig = builtin_model
    closed = estimate_framing(model, rig, mouth_weight=0.0)
    # the skull's bottom pole is hidden inside the neck: the visible chin is just above it
    assert SKULL_BOTTOM - 0.01 < closed.chin[1] < SKULL_BOTTOM + 0.1
    # hair strands hang far below the chin (down the back, beside the face); none of it counts
    hair = model.materials[[m.name for m in model.materials].index("髪")]
    hair_v = np.unique(model.faces[hair.face_start : hair.face_start + hair.face_count])
    assert model.positions[hair_v, 1].min() < closed.chin[1] - 2.0
    # THA1's reset pose has the mouth open: the jaw drops and so does the chin
    opened = estimate_framing(model, rig)
    assert abs((closed.chin[1] - opened.chin[1]) - JAW_DROP) < 0.02
    assert abs(closed.head_top[1] - opened.head_top[1]) < 1e-9
    assert 3.0 < opened.height < 3.5


def test_builtin_estimate_does_not_depend_on_tessellation(builtin_model) -> None:
    model, rig = builtin_model
    coarse = estimate_framing(model, rig)
    dense_model = builtin_character(target_vertices=4 * model.vertex_count)
    dense = estimate_framing(dense_model, normalize(dense_model))
    assert abs(dense.head_top[1] - coarse.head_top[1]) < 0.02
    assert abs(dense.chin[1] - coarse.chin[1]) < 0.02


def test_without_a_rig_the_names_are_used(builtin_model) -> None:
    model, rig = builtin_model
    a, b = estimate_framing(model, rig), estimate_framing(model, None)
    assert np.allclose(a.head_top, b.head_top) and np.allclose(a.chin, b.chin)


def test_without_a_mouth_morph_the_estimate_still_holds(builtin_model) -> None:
    model, rig = builtin_model
    reference = estimate_framing(model, rig, mouth_weight=0.0)
    bare = dataclasses.replace(model, morphs=[])
    f = estimate_framing(bare, None)
    assert any("no mouth-open morph" in n for n in f.notes)
    assert abs(f.chin[1] - reference.chin[1]) < 0.1
    assert abs(f.head_top[1] - reference.head_top[1]) < 0.03


def test_gene_is_plausible(gene) -> None:
    model, rig = gene
    f = estimate_framing(model, rig)
    mouth = model.morphs[rig.matches["mouth_open"].index]
    lips = mouth.indices[np.linalg.norm(mouth.values, axis=1) > 1e-4]
    assert f.chin[1] < model.positions[lips, 1].min()
    eye_y = max(model.bones[rig.matches[r].index].position[1] for r in ("eye_left", "eye_right"))
    assert f.head_top[1] > eye_y
    assert 1.5 < f.height < 4.0
    assert abs(f.center_x) < 0.05
    # the chin is the bottom of the face skin (material 顔, which also covers the neck) on the
    # centre line, in front of the throat (the neck bone's frontmost vertices)
    face = model.materials[[m.name for m in model.materials].index("顔")]
    face_v = np.unique(model.faces[face.face_start : face.face_start + face.face_count])
    neck = rig.matches["neck"].index
    neck_v = np.any((model.bone_indices == neck) & (model.bone_weights >= 0.5), axis=1)
    central = np.abs(model.positions[:, 0]) < 0.2
    throat_z = model.positions[neck_v & central, 2].min()
    front = face_v[central[face_v] & (model.positions[face_v, 2] < throat_z - 0.1)]
    assert abs(f.chin[1] - model.positions[front, 1].min()) < 0.05
    assert f.chin[1] > model.positions[face_v, 1].min() + 0.2  # not the neck part of the face mesh
    # the head top is the hair: above every face vertex
    assert f.head_top[1] > model.positions[face_v, 1].max()


def test_gene_pmd_frames_like_the_pmx(gene, gene_pmd: Path) -> None:
    pmx = estimate_framing(*gene)
    model = read_model(gene_pmd)
    pmd = estimate_framing(model, normalize(model))
    assert abs(pmd.head_top[1] - pmx.head_top[1]) < 0.05 and abs(pmd.chin[1] - pmx.chin[1]) < 0.05


def _with_strand(model, rig, points: np.ndarray, width: float):
    """The model plus a thin ribbon along `points`, skinned to the head bone (a new hair strand)."""
    head = rig.matches["head"].index
    n = len(points)
    ribbon = np.concatenate([points - [width / 2, 0, 0], points + [width / 2, 0, 0]]).astype(np.float32)
    base = model.vertex_count
    i = np.arange(n - 1)
    faces = np.concatenate([np.stack([i, i + 1, i + n], 1), np.stack([i + 1, i + n + 1, i + n], 1)]) + base
    bone_idx = np.full((2 * n, 4), -1, np.int32)
    bone_idx[:, 0] = head
    weights = np.zeros((2 * n, 4), np.float32)
    weights[:, 0] = 1.0
    return dataclasses.replace(
        model,
        positions=np.concatenate([model.positions, ribbon]),
        bone_indices=np.concatenate([model.bone_indices, bone_idx]),
        bone_weights=np.concatenate([model.bone_weights, weights]),
        faces=np.concatenate([model.faces, faces.astype(model.faces.dtype)]),
    )


def test_gene_with_an_added_ahoge_keeps_its_head_top(gene) -> None:
    model, rig = gene
    before = estimate_framing(model, rig)
    t = np.linspace(0, 1, 12)[:, None]
    top = before.head_top
    stem = np.concatenate([top[0] + 0.3 * t, top[1] - 0.1 + 1.2 * t, top[2] - 0.4 * t], axis=1)
    spiky = _with_strand(model, rig, stem, 0.15)
    after = estimate_framing(spiky, rig)
    assert spiky.positions[:, 1].max() > before.head_top[1] + 1.0
    assert abs(after.head_top[1] - before.head_top[1]) < 0.05
    assert any("ahoge" in n for n in after.notes)


def test_gene_with_hair_hanging_over_the_chin_keeps_its_chin(gene) -> None:
    model, rig = gene
    before = estimate_framing(model, rig)
    t = np.linspace(0, 1, 12)[:, None]
    chin = before.chin
    strand = np.concatenate([0 * t, chin[1] + 1.5 - 3.0 * t, np.full_like(t, chin[2] - 0.15)], axis=1)
    after = estimate_framing(_with_strand(model, rig, strand, 0.3), rig)
    assert abs(after.chin[1] - before.chin[1]) < 1e-6


# ---------------------------------------------------------------- annotation files


def test_annotation_round_trip(tmp_path: Path) -> None:
    ann = Annotation(
        head_top=[0.0, 19.9, 0.1],
        chin=[0.0, 16.66, -1.0],
        center_x=0.01,
        model="Gene_light.pmx",
        model_sha256="a" * 64,
        annotator="tester",
        created=now_iso(),
        notes="ahoge left out",
    )
    path = save_annotation(tmp_path / "Gene_light.annotation.yaml", ann)
    assert os.listdir(tmp_path) == ["Gene_light.annotation.yaml"]  # no temporary file left
    back = load_annotation(path)
    assert back == ann and back.source == str(path)
    f = load_framing(path)
    assert f.source == "annotation" and f.head_top[1] == 19.9 and f.center_x == 0.01
    assert any("tester" in n for n in f.notes)


def test_annotation_defaults_and_dates(tmp_path: Path) -> None:
    path = tmp_path / "a.annotation.yaml"
    path.write_text("head_top: [0.5, 20, 0]\nchin: [0.25, 17, -1]\ncreated: 2026-11-25\n")
    ann = load_annotation(path)
    assert ann.center_x is None and ann.effective_center_x == 0.25 and ann.created == "2026-11-25"
    assert ann.version == 1 and ann.annotator == ""


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("head_top: [0, 2, 0]\n", "chin"),
        ("chin: [0, 1, 0]\n", "head_top"),
        ("head_top: [0, 2]\nchin: [0, 1, 0]\n", "head_top"),
        ("head_top: [0, x, 0]\nchin: [0, 1, 0]\n", "head_top[1]"),
        ("head_top: [0, .nan, 0]\nchin: [0, 1, 0]\n", "head_top[1]"),
        ("head_top: [0, 1, 0]\nchin: [0, 2, 0]\n", "head_top"),
        ("head_top: [0, 2, 0]\nchin: [0, 1, 0]\ncenter: 0\n", "center"),
        ("head_top: [0, 2, 0]\nchin: [0, 1, 0]\ncenter_x: no\n", "center_x"),
        ("head_top: [0, 2, 0]\nchin: [0, 1, 0]\nversion: 2\n", "version"),
        ("head_top: [0, 2, 0]\nchin: [0, 1, 0]\nmodel_sha256: xyz\n", "model_sha256"),
        ("head_top: [0, 2, 0]\nchin: [0, 1, 0]\nannotator: [a, b]\n", "annotator"),
    ],
)
def test_bad_annotations_name_file_and_key(tmp_path: Path, text: str, key: str) -> None:
    path = tmp_path / "bad.annotation.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_annotation(path)
    assert str(info.value).startswith(f"{path}: {key}: "), str(info.value)


def test_unreadable_annotations(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such annotation file"):
        load_annotation(tmp_path / "missing.annotation.yaml")
    (tmp_path / "x.annotation.yaml").write_text("head_top: [0, 2\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_annotation(tmp_path / "x.annotation.yaml")


def test_load_framing_prefers_an_annotation_beside_the_model(tmp_path: Path, builtin_model) -> None:
    model_path = write_builtin_character(tmp_path)
    estimated = load_framing(model_path)
    assert estimated.source == "estimate" and abs(estimated.head_top[1] - HAIR_TOP) < 0.03
    ann_path = annotation_path_for(model_path)
    assert ann_path == tmp_path / "builtin.annotation.yaml"
    ann_path.write_text(yaml.safe_dump({"head_top": [0, 18.5, 0], "chin": [0, 14.8, -0.5]}))
    annotated = load_framing(model_path)
    assert annotated.source == "annotation" and annotated.head_top[1] == 18.5
    # a model passed in is measured, not re-read, when there is no annotation
    model, rig = builtin_model
    f = load_framing(tmp_path / "elsewhere.pmx", model=model, rig=rig)
    assert isinstance(f, Framing) and f.source == "estimate"


def test_load_framing_for_a_job(tmp_path: Path) -> None:
    from thagen.render.manifest import expand_characters, load_manifest

    manifest = tmp_path / "m.yaml"
    manifest.write_text("characters: [{builtin: true}]\nrest_pose: tha2\n")
    (job,) = expand_characters(load_manifest(manifest))
    f = load_framing(job)
    model = builtin_character()
    closed = estimate_framing(model, normalize(model), mouth_weight=0.0)
    assert f.source == "estimate" and np.allclose(f.chin, closed.chin)  # tha2: mouth closed at rest
    ann = tmp_path / "b.yaml"
    ann.write_text("head_top: [0, 18.2, 0]\nchin: [0, 15, -0.5]\n")
    manifest.write_text(f"characters: [{{builtin: true, annotation: {ann.name}}}]\n")
    (job,) = expand_characters(load_manifest(manifest))
    assert job.annotation_path == ann and load_framing(job).source == "annotation"
