"""Cheaper QA renders (render/character/qa_region.py): Cycles renders only the box the eye and
mouth morphs can change and the reset image fills in the rest. The completed images must equal
full renders pixel for pixel, on models the box was not tuned on; where the box cannot be
proven (a bone morph, a THA3 pose) the QA renders stay whole."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from thagen.render.character import RunSettings, Shot, Timer, adhoc_job, make_renderer, prepare_character
from thagen.render.character.qa_checks import decode_png
from thagen.render.character.qa_region import composite, qa_change_box
from thagen.render.character.qa_renders import qa_renders
from thagen.rigs.builtin.files import write_builtin_character
from thagen.rigs.builtin.variants import VARIANTS
from thagen.rigs.model import Morph, MorphKind

pytestmark = pytest.mark.slow
SIZE = 96


@pytest.fixture(scope="module")
def renderer():
    r = make_renderer(RunSettings(image_size=SIZE, samples=2))
    yield r
    r.close()


def _models(tmp: Path, gene_pmx: Path) -> list[str]:
    odd = [write_builtin_character(tmp / v, v, variant=VARIANTS[v]) for v in ("chibi_low_poly", "hat")]
    return ["builtin", str(gene_pmx), *map(str, odd)]


def test_region_qa_renders_equal_full_renders(renderer, tmp_path: Path, gene_pmx: Path) -> None:
    settings = RunSettings(image_size=SIZE, samples=2)
    for model in _models(tmp_path, gene_pmx):
        job = adhoc_job(model, poses=1, size=SIZE, samples=2)
        prep = prepare_character(job, renderer, settings, Timer(), ["read"])
        try:
            shot = Shot(renderer, job, Timer(), None)
            rest_pose = prep.plan.rest_pose
            rest = decode_png(shot(rest_pose))
            full = {k: decode_png(v) for k, v in qa_renders(shot, rest_pose).items()}
            box = qa_change_box(prep.model, prep.rig, renderer, rest_pose)
            assert box is not None, model
            x0, y0, x1, y1 = box
            assert (x1 - x0) * (y1 - y0) < 0.5 * SIZE * SIZE, (model, box)  # it does save pixels
            renderer.set_region(box)
            try:
                part = {k: decode_png(v) for k, v in qa_renders(shot, rest_pose).items()}
            finally:
                renderer.set_region(None)
            assert part["eyes_closed"][:y0, :, 3].max() == 0  # outside the box: not rendered
            for name in full:
                assert not np.array_equal(full[name], rest), (model, name)  # the morph shows
                assert np.array_equal(composite(rest, part[name], box), full[name]), (model, name)
        finally:
            renderer.unload_character()


def test_no_region_where_it_cannot_be_proven(renderer) -> None:
    settings = RunSettings(image_size=SIZE, samples=2)
    job = adhoc_job("builtin", poses=1, size=SIZE, samples=2)
    prep = prepare_character(job, renderer, settings, Timer(), ["read"])
    try:
        rest_pose = prep.plan.rest_pose
        assert qa_change_box(prep.model, prep.rig, renderer, rest_pose) is not None
        # a rest pose that turns the head: the morphs' vertices are not where the model has them
        assert qa_change_box(prep.model, prep.rig, renderer, {**rest_pose, "head_y": 0.2}) is None
        # a mouth made of a bone morph (a jaw): whatever the bone carries may move
        model, rig = prep.model, prep.rig
        jaw = Morph(
            "jaw", kind=MorphKind.BONE, indices=np.zeros(1, np.int32), values=np.zeros((1, 7), np.float32)
        )
        bony = dataclasses.replace(model, morphs=[*model.morphs, jaw])
        match = dataclasses.replace(rig.matches["mouth_open"], index=len(model.morphs))
        bony_rig = dataclasses.replace(rig, matches={**rig.matches, "mouth_open": match})
        assert qa_change_box(bony, bony_rig, renderer, rest_pose) is None
    finally:
        renderer.unload_character()
