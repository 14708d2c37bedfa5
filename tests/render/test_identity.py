"""Identity signals and grouping on real models: Gene (PMX, PMD, transformed copies) and the
built-in character (and its dense variant)."""

from __future__ import annotations

from pathlib import Path

import pytest
from identity_variants import builtin_variant, gene_copy

from thagen.render.identity import cache as identity_cache
from thagen.render.identity.grouping import group_models, texture_evidence, texture_near
from thagen.render.identity.names import name_key
from thagen.render.identity.plan import location_key
from thagen.render.identity.signals import ModelSignals, signals_for_file
from thagen.rigs.builtin import write_builtin_character


@pytest.fixture(scope="module")
def signed(
    tmp_path_factory: pytest.TempPathFactory, gene_pmx: Path, gene_pmd: Path
) -> dict[str, ModelSignals]:
    root = tmp_path_factory.mktemp("identity-models")
    paths = {
        "gene_pmx": gene_pmx,
        "gene_pmd": gene_pmd,
        "gene_jpeg": gene_copy(gene_pmx, root / "jpeg", textures="jpeg", file_name="gene_reencoded.pmx"),
        "gene_hair": gene_copy(gene_pmx, root / "hair", textures="hair"),
        "gene_outfit": gene_copy(gene_pmx, root / "outfit", outfit=0.3, name="ジェネ / Gene 水着"),
        "gene_renamed": gene_copy(gene_pmx, root / "renamed", outfit=0.5, name="Zeta"),
        "builtin": write_builtin_character(root / "builtin"),
        "dense": write_builtin_character(root / "dense", name="dense", target_vertices=20000),
        "other": builtin_variant(root / "other", 3, 0),
    }
    out = {}
    for key, path in paths.items():
        out[key] = signals_for_file(path)[0]
        assert not out[key].problem, (key, out[key].problem)
    return out


def _group(signed: dict[str, ModelSignals], *keys: str):
    return group_models({k: signed[k] for k in keys})


@pytest.mark.slow
def test_signals_pick_face_and_eye_textures_not_hair(signed: dict[str, ModelSignals]) -> None:
    gene = signed["gene_pmx"]
    names = {t.name for t in gene.face_textures}
    assert {"face.png", "eye.png"} <= names and "hair2.png" not in names
    assert any(t.name == "hair2.png" for t in gene.all_textures)
    assert gene.name_key == "ジェネgene" and len(gene.face_shape) == 15
    assert ModelSignals.from_dict(gene.to_dict()) == gene


def test_gene_pmx_and_pmd_are_one_duplicate_pair(signed: dict[str, ModelSignals]) -> None:
    result = _group(signed, "gene_pmx", "gene_pmd")
    assert len(result.groups) == 1
    kept, why = result.duplicate_of["gene_pmd"]
    assert kept == "gene_pmx" and "pmd and pmx" in why
    assert "gene_pmx" not in result.duplicate_of
    group = next(iter(result.groups.values()))
    assert set(group.signals) == {"texture", "geometry", "name"}


def test_builtin_and_dense_variant_are_one_group_not_duplicates(signed: dict[str, ModelSignals]) -> None:
    assert signed["builtin"].vertex_count * 3 < signed["dense"].vertex_count
    result = _group(signed, "builtin", "dense")
    assert len(result.groups) == 1 and not result.duplicate_of
    assert "texture" in next(iter(result.groups.values())).signals


def test_reencoded_textures_join_genes_group(signed: dict[str, ModelSignals]) -> None:
    assert texture_evidence(signed["gene_pmx"], signed["gene_jpeg"]) is not None
    result = _group(signed, "gene_pmx", "gene_jpeg", "builtin")
    assert result.group_of["gene_jpeg"] == result.group_of["gene_pmx"] != result.group_of["builtin"]
    # the same mesh with the same drawings: a re-saved copy is a duplicate (the smaller id is kept)
    assert result.duplicate_of["gene_pmx"][0] == "gene_jpeg" and "gene_jpeg" not in result.duplicate_of


def test_hair_recoloured_gene_stays_gene_but_is_no_duplicate(signed: dict[str, ModelSignals]) -> None:
    hair = {t.name: t for t in signed["gene_hair"].all_textures}["hair2.png"]
    original = {t.name: t for t in signed["gene_pmx"].all_textures}["hair2.png"]
    assert texture_near(hair, original) is None  # the hair really is another colour
    result = _group(signed, "gene_pmx", "gene_hair")
    assert result.group_of["gene_hair"] == result.group_of["gene_pmx"]
    assert "gene_hair" not in result.duplicate_of


def test_outfit_variants_join_the_group_and_are_no_duplicates(signed: dict[str, ModelSignals]) -> None:
    result = _group(signed, "gene_pmx", "gene_outfit", "gene_renamed")
    assert len(set(result.group_of.values())) == 1 and not result.duplicate_of
    assert signed["gene_outfit"].name_key == signed["gene_pmx"].name_key == "ジェネgene"
    assert signed["gene_renamed"].name_key == "zeta"  # joined by its textures and face alone


def test_builtin_is_never_grouped_with_gene(signed: dict[str, ModelSignals]) -> None:
    result = group_models(signed)
    gene = result.group_of["gene_pmx"]
    for key in ("builtin", "dense", "other"):
        assert result.group_of[key] != gene
    assert result.group_of["other"] != result.group_of["builtin"]  # another face drawing, name, head
    assert {k for k, g in result.group_of.items() if g == gene} == {
        "gene_pmx",
        "gene_pmd",
        "gene_jpeg",
        "gene_hair",
        "gene_outfit",
        "gene_renamed",
    }
    assert set(result.duplicate_of) == {"gene_pmd", "gene_pmx"}  # both of gene_jpeg


def test_manual_labels_win_over_evidence(signed: dict[str, ModelSignals]) -> None:
    result = group_models(
        {k: signed[k] for k in ("gene_pmx", "gene_pmd", "builtin", "dense")},
        manual={"gene_pmx": "odd", "builtin": "odd", "dense": "alone"},
    )
    assert result.group_of == {"gene_pmx": "odd", "builtin": "odd", "gene_pmd": "odd", "dense": "alone"}
    assert any(link.signal == "manual" for link in result.groups["odd"].links)


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("初音ミク(水着) ver1.2", "初音ミク"),
        ("Gene_light", "gene"),
        ("Miku T-shirt", "miku"),
        ("【MMD】ルカ_制服", "ルカ"),
        ("ＭＩＫＵ　ｗｉｎｔｅｒ", "miku"),
        ("model", ""),
        ("A", ""),
    ],
)
def test_name_key(name: str, key: str) -> None:
    assert name_key(name) == key


def test_signals_cache_follows_textures(tmp_path: Path, gene_pmx: Path) -> None:
    copy = gene_copy(gene_pmx, tmp_path / "g")
    sig, deps = signals_for_file(copy)
    key = location_key(copy, None)
    identity_cache.store_many([(key, "sha-x", sig, identity_cache.file_deps(deps))])
    assert identity_cache.lookup_many([(key, "sha-x")])[key] == sig
    assert identity_cache.lookup_many([(key, "sha-other")]) == {}  # the model file changed
    face = tmp_path / "g" / "light" / "face.png"
    face.write_bytes(face.read_bytes())  # same bytes, new mtime: signed again
    import os

    os.utime(face, ns=(1, 1))
    assert identity_cache.lookup_many([(key, "sha-x")]) == {}


def test_a_vrm_export_with_embedded_textures_is_a_duplicate(
    tmp_path: Path, signed: dict[str, ModelSignals]
) -> None:
    from thagen.rigs.builtin.vrm import builtin_vrm_bytes

    vrm = tmp_path / "builtin.vrm"
    vrm.write_bytes(builtin_vrm_bytes("1.0"))
    sig = signals_for_file(vrm)[0]
    assert sig.format == "vrm" and len(sig.face_textures) == 1  # the embedded atlas
    result = group_models({"builtin": signed["builtin"], "vrm": sig, "gene_pmx": signed["gene_pmx"]})
    assert result.group_of["vrm"] == result.group_of["builtin"] != result.group_of["gene_pmx"]
    kept, why = result.duplicate_of["vrm"]
    assert kept == "builtin" and "pmx and vrm" in why
