"""`thagen inspect`: real models through the real command line entry point."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest

from thagen.cli import main
from thagen.rigs.builtin import builtin_character, write_builtin_character
from thagen.rigs.inspect import format_report, inspect_model


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run `thagen ARGS` as the console script does; return (exit code, stdout, stderr)."""
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_pmx_json_matches_the_readme(capsys: pytest.CaptureFixture[str], gene_pmx: Path) -> None:
    code, out, err = _run(capsys, "inspect", str(gene_pmx), "--json")
    assert code == 0, err
    report = json.loads(out)
    assert "ジェネ / Gene" in out  # not \u-escaped
    assert (report["format"], report["version"], report["encoding"]) == ("pmx", 2.0, "utf-16-le")
    assert report["name"] == {"jp": "ジェネ / Gene", "en": "CHMSgeneric.model.v0"}
    c = report["counts"]
    assert (c["vertices"], c["faces"], c["materials"], c["bones"], c["morphs"]) == (
        28_646,
        47_106,
        13,
        224,
        184,
    )
    assert (c["rigid_bodies"], c["joints"], c["display_frames"], c["ik_bones"]) == (87, 92, 15, 6)
    assert report["morph_kinds"] == {"vertex": 177, "material": 3, "group": 3, "uv": 1}
    assert report["deform_types"] == {"BDEF1": 13_552, "BDEF2": 10_178, "BDEF4": 4_916}
    assert report["additional_uv"] == 0
    assert (report["textures_found"], report["textures_missing"]) == (10, 0)
    blink = next(m for m in report["morphs"] if m["name"] == "まばたき")
    assert blink["kind"] == "vertex" and blink["elements"] > 0
    assert len(report["morphs"]) == 184 and len(report["display_frames"]) == 15


def test_pmd_json(capsys: pytest.CaptureFixture[str], gene_pmd: Path) -> None:
    code, out, err = _run(capsys, "inspect", str(gene_pmd), "--json")
    assert code == 0, err
    report = json.loads(out)
    assert (report["format"], report["encoding"]) == ("pmd", "cp932")
    c = report["counts"]
    assert (c["vertices"], c["faces"], c["materials"], c["bones"]) == (28_646, 47_106, 13, 224)
    assert report["morph_kinds"] == {"vertex": 177} and c["morphs"] == 177
    assert (c["rigid_bodies"], c["joints"]) == (87, 92)
    assert report["textures_found"] == 10


def test_text_output_is_aligned(capsys: pytest.CaptureFixture[str], gene_pmx: Path) -> None:
    code, out, _ = _run(capsys, "inspect", str(gene_pmx))
    assert code == 0
    lines = out.splitlines()
    summary = lines[: lines.index("")]
    values = {line.split()[0]: line for line in summary}
    assert "28,646" in values["vertices"] and "47,106" in values["faces"]
    assert "184 (vertex 177" in values["morphs"]
    # every summary value starts in the same column
    columns = {len(line) - len(line[line.index("  ") :].lstrip()) for line in summary}
    assert len(columns) == 1
    assert "Textures" in lines and "Morphs" in lines and "まばたき" in out


def test_missing_textures_are_reported(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, gene_pmx: Path
) -> None:
    copy = tmp_path / "Gene_light.pmx"
    shutil.copyfile(gene_pmx, copy)
    (tmp_path / "LIGHT").mkdir()
    shutil.copyfile(gene_pmx.parent / "light" / "face.png", tmp_path / "LIGHT" / "FACE.png")
    code, out, _ = _run(capsys, "inspect", str(copy), "--json")
    assert code == 0
    report = json.loads(out)
    assert (report["textures_found"], report["textures_missing"]) == (1, 9)
    assert [t["stored"] for t in report["textures"] if t["found"]] == ["light/face.png"]
    code, out, _ = _run(capsys, "inspect", str(copy))
    assert out.count("MISSING") == 9 and "(1 found, 9 missing)" in out


def test_truncated_file_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, gene_pmx: Path
) -> None:
    bad = tmp_path / "cut.pmx"
    bad.write_bytes(gene_pmx.read_bytes()[:50_000])
    code, out, err = _run(capsys, "inspect", str(bad))
    assert code != 0 and out == ""
    assert len(err.strip().splitlines()) == 1 and str(bad) in err and "Traceback" not in err
    code, out, err = _run(capsys, "inspect", str(tmp_path / "nothing.pmx"))
    assert code != 0 and len(err.strip().splitlines()) == 1 and "nothing.pmx" in err


def test_zip_with_several_models(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    src = write_builtin_character(tmp_path / "src", "one").parent
    write_builtin_character(src, "two")
    zpath = tmp_path / "pack.zip"
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(src.iterdir()):
            zf.write(f, f"pack/{f.name}")
    cache = str(tmp_path / "cache")
    code, out, err = _run(capsys, "inspect", str(zpath), "--cache-dir", cache)
    assert code != 0 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert "pack.zip" in err and "pack/one.pmx" in err and "pack/two.pmx" in err
    code, out, err = _run(
        capsys, "inspect", str(zpath), "--member", "two.pmx", "--cache-dir", cache, "--json"
    )
    assert code == 0, err
    report = json.loads(out)
    assert report["member"] == "pack/two.pmx" and report["file"] == str(zpath)
    assert report["counts"]["vertices"] == builtin_character().vertex_count
    assert report["textures_missing"] == 0 and report["model_path"].startswith(cache)


def test_member_needs_a_zip(capsys: pytest.CaptureFixture[str], gene_pmx: Path) -> None:
    code, _, err = _run(capsys, "inspect", str(gene_pmx), "--member", "x.pmx")
    assert code == 2 and "--member" in err


def test_report_of_the_builtin_character() -> None:
    model = builtin_character()
    report = inspect_model(model)
    assert report["counts"]["vertices"] == model.vertex_count
    assert report["morph_kinds"] == {"vertex": 10 + 26}  # THA1's 10, then THA2's expressions
    assert (report["textures_found"], report["textures_missing"]) == (0, 2)  # never written to disk
    text = format_report(report)
    assert "ウィンク右" in text and "wink_R" in text


def test_json_lists_bones_with_the_flags_an_override_needs(
    capsys: pytest.CaptureFixture[str], gene_pmx: Path
) -> None:
    code, out, _ = _run(capsys, "inspect", str(gene_pmx), "--json")
    assert code == 0
    bones = json.loads(out)["bones"]
    assert len(bones) == 224 and [b["index"] for b in bones] == list(range(224))
    by_name = {b["name"]: b for b in bones}
    head, neck = by_name["頭"], by_name["首"]
    assert head["parent"] == neck["index"] and head["parent_name"] == "首"
    assert head["visible"] and head["operable"] and not head["ik"]
    assert sum(b["ik"] for b in bones) == 6  # the README's 6 IK bones
    assert bones[0]["parent"] == -1 and bones[0]["parent_name"] is None
    # bones that take part of another bone's rotation (MMD's 捩 / 付与 bones) say from which
    inherits = [b for b in bones if b["inherit_rotation"]]
    assert inherits and all(0 <= b["inherit_rotation"]["from"] < 224 for b in inherits)


def test_bones_table_in_text_output(capsys: pytest.CaptureFixture[str], gene_pmx: Path) -> None:
    code, plain, _ = _run(capsys, "inspect", str(gene_pmx))
    assert code == 0 and "\nBones\n" not in plain
    code, out, _ = _run(capsys, "inspect", str(gene_pmx), "--bones")
    assert code == 0
    table = out.split("\nBones\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert table[0].split() == ["#", "name", "english", "parent", "flags", "inherits", "rotation"]
    assert len(table) == 1 + 224
    head_row = next(r for r in table[1:] if r.split()[1] == "頭")
    assert "首" in head_row and "visible" in head_row
    assert sum(" IK" in r for r in table[1:]) == 6
