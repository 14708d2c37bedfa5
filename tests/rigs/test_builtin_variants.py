"""Variants of the built-in character (chibi, low poly, bow, ears, hat, tall ahoge) and their truth."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from thagen.rigs import builtin
from thagen.rigs.builtin import (
    VARIANTS,
    BuiltinVariant,
    builtin_character,
    builtin_truth,
    variant_named,
    write_builtin_character,
)
from thagen.rigs.builtin.lowpoly import HAIRLINE_MARGIN, hairline_y
from thagen.rigs.formats.pmx.writer import pmx_bytes
from thagen.rigs.model import Model
from thagen.rigs.normalize import normalize
from thagen.rigs.reader import read_model

# sha256 of pmx_bytes(builtin_character()): renders of existing manifests are digest-compared,
# so adding variants must not change one byte of the default character
DEFAULT_PMX_SHA256 = "e474554c4c89109aec41d2209d51d2ac5664303c6af95ac6a2c45f63ccc45906"


@pytest.fixture(scope="module")
def models() -> dict[str, Model]:
    return {name: builtin_character(variant=v) for name, v in VARIANTS.items()}


def _material(model: Model, name: str) -> np.ndarray:
    mat = next(m for m in model.materials if m.name == name)
    return np.unique(model.faces[mat.face_start : mat.face_start + mat.face_count])


def test_the_default_variant_is_the_default_character_byte_for_byte() -> None:
    default = pmx_bytes(builtin_character())
    assert hashlib.sha256(default).hexdigest() == DEFAULT_PMX_SHA256, "the default character changed"
    assert pmx_bytes(builtin_character(variant=BuiltinVariant())) == default
    assert pmx_bytes(builtin_character(variant=VARIANTS["default"])) == default
    assert BuiltinVariant().is_default and not VARIANTS["hat"].is_default


@pytest.mark.parametrize("name", list(VARIANTS))
def test_every_variant_is_a_complete_rig(models: dict[str, Model], name: str) -> None:
    model = models[name]
    assert model.faces.min() >= 0 and model.faces.max() < model.vertex_count
    rig = normalize(model)
    assert rig.ok, rig.missing_required
    for role in ("head", "neck", "eye_close_both", "mouth_open"):
        assert rig.matches[role].found, role
    if "low_poly" in name:
        assert 1_500 <= model.vertex_count <= 3_500  # a few thousand, like the VRM (3,100)
    else:
        assert 4_500 <= model.vertex_count <= 7_000


def test_chibi_heads_are_a_third_to_a_half_of_the_figure(models: dict[str, Model]) -> None:
    for name in ("chibi", "chibi_low_poly"):
        truth = builtin_truth(VARIANTS[name], model=models[name])
        figure = truth.head_top[1] - float(models[name].positions[:, 1].min())
        assert 1 / 3 <= truth.height / figure <= 1 / 2, name
    truth = builtin_truth(model=models["default"])
    assert truth.height / (truth.head_top[1] - float(models["default"].positions[:, 1].min())) < 1 / 5
    # the head grows as a whole: the jaw drop of あ too
    drop = {
        n: float(np.abs(models[n].morphs[models[n].morph_index("あ")].values[:, 1]).max()) for n in models
    }
    assert drop["chibi"] == pytest.approx(1.6 * drop["default"], rel=1e-5)


def test_low_poly_heads_have_big_hair_triangles_and_no_scalp(models: dict[str, Model]) -> None:
    low, default = models["low_poly"], models["default"]
    assert len(_material(low, "髪")) < len(_material(default, "髪")) / 4
    face = low.positions[_material(low, "顔")]
    assert np.all(face[:, 1] < hairline_y(face[:, 0], face[:, 2]) + HAIRLINE_MARGIN + 1e-4)
    # the default's skin goes over the skull, up to just under the hair cap
    assert default.positions[_material(default, "顔"), 1].max() > builtin.HEAD_CENTER[1] + 1.5


def test_accessories_stand_above_the_true_head_top(models: dict[str, Model]) -> None:
    top = builtin_truth().head_top[1]
    hat, bow = models["hat"], models["bow"]
    assert [m.name for m in hat.materials][-1] == "帽子" and [m.name for m in bow.materials][-1] == "リボン"
    assert hat.positions[_material(hat, "帽子"), 1].max() > top + 0.5
    assert bow.positions[_material(bow, "リボン"), 1].max() > top + 0.5
    hair = models["ears"].positions[_material(models["ears"], "髪")]  # ears: drawn with the hair
    high = hair[hair[:, 1] > top + 0.4]
    assert high[:, 0].max() > 0.9 and high[:, 0].min() < -0.9  # one on each side
    # the tall ahoge rises far above the skull, higher than the default's strand
    assert models["ahoge"].positions[:, 1].max() > models["default"].positions[:, 1].max() + 0.8
    for name in ("default", "chibi", "low_poly", "ears", "ahoge"):
        assert [m.name for m in models[name].materials] == [m.name for m in models["default"].materials]


def test_the_truth_is_the_head_the_code_builds(models: dict[str, Model]) -> None:
    """The head top is the hair cap's top (scaled with a chibi head); the chin where the face
    skin gives way to the neck on the centre line, as the analytic face surface says."""
    truth = builtin_truth(model=models["default"])
    assert truth.head_top[1] == pytest.approx(builtin.HEAD_CENTER[1] + builtin.HEAD_RADII[1] + 0.12)
    drop = builtin.MOUTH_SHAPES["あ"][1][3]
    y = np.linspace(builtin.HEAD_CENTER[1] - 2.0, builtin.MOUTH_Y, 200_001)
    from thagen.rigs.builtin.head import _face_z, _face_z_jaw

    neck_front = 0.18 - 0.36
    assert truth.chin[1] == pytest.approx(
        float(y[_face_z_jaw(np.zeros_like(y), y, drop) <= neck_front].min()), abs=0.005
    )
    closed = builtin_truth(model=models["default"], mouth_weight=0.0)
    assert closed.chin[1] == pytest.approx(
        float(y[_face_z(np.zeros_like(y), y) <= neck_front].min()), abs=0.005
    )
    assert closed.head_top[1] == truth.head_top[1]
    for name in ("bow", "ears", "hat", "ahoge"):  # what stands on the head is not the head
        other = builtin_truth(VARIANTS[name], model=models[name])
        assert np.allclose(other.head_top, truth.head_top) and np.allclose(other.chin, truth.chin, atol=1e-9)
    chibi = builtin_truth(VARIANTS["chibi"], model=models["chibi"])
    assert chibi.height == pytest.approx(1.6 * truth.height, rel=0.03)


def test_variants_write_and_read_back(tmp_path: Path, models: dict[str, Model]) -> None:
    path = write_builtin_character(tmp_path, "hat", variant=VARIANTS["hat"])
    back = read_model(path)
    assert back.vertex_count == models["hat"].vertex_count
    assert [m.name for m in back.materials] == [m.name for m in models["hat"].materials]
    assert (tmp_path / builtin.ATLAS_NAME).is_file()


def test_unknown_variant_names_list_the_known_ones() -> None:
    assert variant_named("chibi") == VARIANTS["chibi"]
    with pytest.raises(KeyError, match="chibi_low_poly"):
        variant_named("giant")
