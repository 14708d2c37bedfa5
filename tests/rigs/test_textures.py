"""Texture path resolution: Windows-style, case-insensitive, relative to the model."""

from __future__ import annotations

import shutil
from pathlib import Path

from thagen.rigs.formats.textures import MAX_UP, resolve_texture, split_pmd_texture, texture_report
from thagen.rigs.model import Material, Model


def _touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_gene_textures_all_resolve(gene_pmx: Path) -> None:
    from thagen.rigs.formats.pmx.reader import read_pmx

    model = read_pmx(gene_pmx.read_bytes(), gene_pmx)
    model.source_path = gene_pmx
    rows = texture_report(model)
    assert len(rows) == 10
    assert all(r["found"] for r in rows), [r for r in rows if not r["found"]]
    assert rows[0]["path"] == str(gene_pmx.parent / "light" / "hair2.png")
    assert rows[0]["used_by"] == ["髪"]


def test_backslashes_and_case(tmp_path: Path) -> None:
    real = _touch(tmp_path / "Tex" / "Face.PNG")
    model = tmp_path / "m.pmx"
    assert resolve_texture(model, "tex\\face.png") == real
    assert resolve_texture(model, "TEX/FACE.png") == real
    assert resolve_texture(model, ".\\Tex\\\\Face.PNG") == real
    assert resolve_texture(model, "tex\\missing.png") is None
    assert resolve_texture(model, "") is None
    assert resolve_texture(model, "Tex") is None  # a folder is not a texture


def test_exact_spelling_wins_over_other_case(tmp_path: Path) -> None:
    lower = _touch(tmp_path / "a.png", b"lower")
    upper = _touch(tmp_path / "A.png", b"upper")
    model = tmp_path / "m.pmx"
    assert resolve_texture(model, "a.png") == lower
    assert resolve_texture(model, "A.png") == upper


def test_japanese_names(tmp_path: Path) -> None:
    real = _touch(tmp_path / "テクスチャ" / "顔.png")
    assert resolve_texture(tmp_path / "モデル.pmx", "テクスチャ\\顔.png") == real


def test_parent_folders_allowed_up_to_the_limit(tmp_path: Path) -> None:
    shared = _touch(tmp_path / "dist" / "tex" / "skin.png")
    model = _touch(tmp_path / "dist" / "models" / "m.pmx")
    assert resolve_texture(model, "..\\tex\\skin.png") == shared
    assert resolve_texture(model, "..\\TEX\\Skin.png") == shared
    # climbing further than MAX_UP levels is refused even when the file exists
    deep = model.parent
    for _ in range(MAX_UP + 1):
        deep = deep / "d"
    deep.mkdir(parents=True)
    deep_model = deep / "m.pmx"
    assert resolve_texture(deep_model, "..\\" * (MAX_UP + 1) + "m.pmx") is None
    at_limit = _touch(deep.parents[MAX_UP - 1] / "ok.png")
    assert resolve_texture(deep_model, "..\\" * MAX_UP + "OK.png") == at_limit


def test_absolute_paths_fall_back_to_the_model_folder(tmp_path: Path) -> None:
    real = _touch(tmp_path / "face.png")
    model = tmp_path / "m.pmx"
    assert resolve_texture(model, "C:\\Users\\author\\Desktop\\model\\Face.png") == real
    assert resolve_texture(model, "/home/author/face.png") == real
    assert resolve_texture(model, "C:\\etc\\passwd") is None


def test_pmd_texture_and_sphere(tmp_path: Path) -> None:
    tex = _touch(tmp_path / "body.bmp")
    _touch(tmp_path / "metal.spa")
    assert split_pmd_texture("body.bmp*metal.spa") == ("body.bmp", "metal.spa")
    assert split_pmd_texture("metal.spa") == ("metal.spa", "")
    assert resolve_texture(tmp_path / "m.pmd", "body.bmp*metal.spa") == tex


def test_listing_cache_sees_new_files(tmp_path: Path) -> None:
    model = tmp_path / "m.pmx"
    assert resolve_texture(model, "late.png") is None
    late = _touch(tmp_path / "Late.png")
    assert resolve_texture(model, "late.png") == late


def test_report_marks_missing_textures(tmp_path: Path, gene_pmx: Path) -> None:
    from thagen.rigs.formats.pmx.reader import read_pmx

    copy = tmp_path / "gene.pmx"
    shutil.copyfile(gene_pmx, copy)
    _touch(copy.parent / "light" / "Face.png")  # only one texture present, in another case
    model = read_pmx(copy.read_bytes(), copy)
    model.source_path = copy
    rows = texture_report(model)
    found = [r["stored"] for r in rows if r["found"]]
    assert found == ["light/face.png"]
    assert sum(not r["found"] for r in rows) == 9


def test_report_without_a_source_path() -> None:
    model = Model(textures=["a.png", "toon.bmp"], materials=[Material("m", texture=0, toon_index=1)])
    rows = texture_report(model)
    assert [r["found"] for r in rows] == [False, False]
    assert rows[1]["used_by"] == ["m"] and rows[1]["path"] is None
    shared = Model(
        textures=["a.png", "b.png"], materials=[Material("m", texture=0, toon_shared=True, toon_index=1)]
    )
    assert texture_report(shared)[1]["used_by"] == []  # a shared toon index is not a texture slot
