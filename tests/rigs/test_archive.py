"""Model archives: name decoding, model choice, safe and atomic extraction."""

from __future__ import annotations

import os
import stat
import struct
import zipfile
import zlib
from pathlib import Path

import pytest

from thagen.errors import ArchiveError
from thagen.rigs.formats.archive import default_cache_dir, extract_model, list_models


class _Cp932Info(zipfile.ZipInfo):
    """An entry named in Shift_JIS without the UTF-8 flag, as Japanese Windows tools write them."""

    def _encodeFilenameFlags(self):  # noqa: N802 - zipfile's own hook
        return self.filename.encode("cp932"), self.flag_bits & ~0x800


class _RawUtf8Info(zipfile.ZipInfo):
    """UTF-8 bytes but no UTF-8 flag (some tools do this)."""

    def _encodeFilenameFlags(self):  # noqa: N802
        return self.filename.encode("utf-8"), self.flag_bits & ~0x800


def _zip(path: Path, members: list[tuple[str | zipfile.ZipInfo, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            if isinstance(name, zipfile.ZipInfo):
                name.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(name, data)
    return path


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_cp932_names_without_the_utf8_flag(tmp_path: Path) -> None:
    zpath = _zip(
        tmp_path / "chara.zip",
        [
            (_Cp932Info("初音ミク/初音ミク.pmx"), b"PMX model"),
            (_Cp932Info("初音ミク/テクスチャ/顔.png"), b"face"),
            (_Cp932Info("初音ミク/読んでね.txt"), b"readme"),
        ],
    )
    with zipfile.ZipFile(zpath) as zf:
        assert all(not (i.flag_bits & 0x800) for i in zf.infolist())
        assert zf.infolist()[0].filename != "初音ミク/初音ミク.pmx"  # Python's cp437 reading
    assert list_models(zpath) == ["初音ミク/初音ミク.pmx"]
    cache = tmp_path / "cache"
    model = extract_model(zpath, cache_dir=cache)
    assert model.name == "初音ミク.pmx" and model.read_bytes() == b"PMX model"
    assert (model.parent / "テクスチャ" / "顔.png").read_bytes() == b"face"
    assert model.is_relative_to(cache)


def test_utf8_names_with_and_without_the_flag(tmp_path: Path) -> None:
    flagged = _zip(tmp_path / "a.zip", [("モデル/キャラ.pmx", b"m")])
    with zipfile.ZipFile(flagged) as zf:
        assert zf.infolist()[0].flag_bits & 0x800
    assert list_models(flagged) == ["モデル/キャラ.pmx"]
    raw = _zip(tmp_path / "b.zip", [(_RawUtf8Info("モデル/キャラ.PMD"), b"m")])
    assert list_models(raw) == ["モデル/キャラ.PMD"]


def test_info_zip_unicode_path_field(tmp_path: Path) -> None:
    raw_name = "model?.pmx"
    real = "モデル.pmx"
    info = zipfile.ZipInfo(raw_name)
    info.extra = (
        struct.pack("<HHBI", 0x7075, 5 + len(real.encode()), 1, zlib.crc32(raw_name.encode())) + real.encode()
    )
    zpath = _zip(tmp_path / "u.zip", [(info, b"m")])
    assert list_models(zpath) == [real]


def test_several_models_need_a_member(tmp_path: Path) -> None:
    zpath = _zip(
        tmp_path / "pack.zip",
        [
            ("pack/a/Alice.pmx", b"alice"),
            ("pack/b/Bob.pmx", b"bob"),
            ("pack/b/same.pmd", b"b-same"),
            ("pack/c/same.pmd", b"c-same"),
            ("pack/b/tex/bob.png", b"bob tex"),
            ("pack/tex/shared.png", b"shared"),
            ("pack/a/alice.png", b"alice tex"),
        ],
    )
    assert list_models(zpath) == ["pack/a/Alice.pmx", "pack/b/Bob.pmx", "pack/b/same.pmd", "pack/c/same.pmd"]
    cache = tmp_path / "cache"
    with pytest.raises(ArchiveError) as err:
        extract_model(zpath, cache_dir=cache)
    message = str(err.value)
    assert "pack.zip" in message and "'pack/a/Alice.pmx'" in message and "'pack/c/same.pmd'" in message
    bob = extract_model(zpath, member="pack/b/Bob.pmx", cache_dir=cache)
    assert bob.read_bytes() == b"bob"
    root = bob.parents[2]
    extracted = {p.relative_to(root).as_posix() for p in _files(root)} - {".thagen-extracted.json"}
    # the model's folder and textures anywhere (for '..' paths), but not the other models
    assert extracted == {"pack/b/Bob.pmx", "pack/b/tex/bob.png", "pack/tex/shared.png", "pack/a/alice.png"}
    assert extract_model(zpath, member="alice.PMX", cache_dir=cache).read_bytes() == b"alice"
    assert extract_model(zpath, member="pack\\c\\same.pmd", cache_dir=cache).read_bytes() == b"c-same"
    with pytest.raises(ArchiveError, match="ambiguous"):
        extract_model(zpath, member="same.pmd", cache_dir=cache)
    with pytest.raises(ArchiveError, match="no model 'Carol.pmx'.*Alice"):
        extract_model(zpath, member="Carol.pmx", cache_dir=cache)


def test_no_model_and_not_a_zip(tmp_path: Path) -> None:
    empty = _zip(tmp_path / "empty.zip", [("readme.txt", b"hi")])
    assert list_models(empty) == []
    with pytest.raises(ArchiveError, match="no .pmx or .pmd"):
        extract_model(empty, cache_dir=tmp_path / "c")
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"this is no zip" * 10)
    with pytest.raises(ArchiveError, match="bad.zip.*not a readable zip"):
        list_models(bad)
    with pytest.raises(ArchiveError, match="no such file"):
        list_models(tmp_path / "missing.zip")


@pytest.mark.parametrize(
    "evil",
    [
        "../escape.png",
        "model/../../escape.png",
        "/abs/escape.png",
        "C:/escape.png",
        "..\\escape.png",
        "c:evil.png",
    ],
)
def test_hostile_names_are_rejected(tmp_path: Path, evil: str) -> None:
    work = tmp_path / "work"
    work.mkdir()
    zpath = _zip(work / "evil.zip", [("model/m.pmx", b"m"), (evil, b"gotcha")])
    cache = work / "cache"
    with pytest.raises(ArchiveError, match="unsafe entry"):
        extract_model(zpath, cache_dir=cache)
    assert not any(p.name == "escape.png" or p.name == "evil.png" for p in tmp_path.rglob("*"))
    assert not cache.exists() or _files(cache) == []


def test_symlink_entries_are_rejected(tmp_path: Path) -> None:
    link = zipfile.ZipInfo("model/tex.png")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    zpath = _zip(tmp_path / "link.zip", [("model/m.pmx", b"m"), (link, b"/etc/passwd")])
    cache = tmp_path / "cache"
    with pytest.raises(ArchiveError, match="symbolic link"):
        extract_model(zpath, cache_dir=cache)
    assert _files(cache) == [] and list(cache.iterdir()) == []  # the temporary folder is gone


def test_zip_bomb_stops_at_the_limits(tmp_path: Path) -> None:
    big = b"\0" * (4 << 20)
    zpath = _zip(tmp_path / "bomb.zip", [("m/m.pmx", b"m"), ("m/huge.png", big)])
    assert zpath.stat().st_size < 100_000
    cache = tmp_path / "cache"
    with pytest.raises(ArchiveError, match="huge.png.*limit"):
        extract_model(zpath, cache_dir=cache, max_file_bytes=1 << 20)
    with pytest.raises(ArchiveError, match="limit"):
        extract_model(zpath, cache_dir=cache, max_total_bytes=2 << 20)
    assert list(cache.iterdir()) == []
    # generous limits extract it
    assert extract_model(zpath, cache_dir=cache, max_file_bytes=8 << 20).read_bytes() == b"m"


def _shrink_declared_size(zpath: Path, name: bytes, fake_size: int) -> None:
    """Make the central directory claim a smaller uncompressed size than the data has."""
    data = bytearray(zpath.read_bytes())
    at = -1
    pos = 0
    while (pos := data.find(b"PK\x01\x02", pos)) >= 0:
        name_len = struct.unpack_from("<H", data, pos + 28)[0]
        if bytes(data[pos + 46 : pos + 46 + name_len]) == name:
            struct.pack_into("<I", data, pos + 24, fake_size)
            at = pos
        pos += 4
    assert at >= 0
    zpath.write_bytes(bytes(data))


def test_lying_header_sizes_are_not_trusted(tmp_path: Path) -> None:
    zpath = _zip(tmp_path / "liar.zip", [("m/m.pmx", b"m"), ("m/huge.png", b"\1" * (3 << 20))])
    _shrink_declared_size(zpath, b"m/huge.png", 1000)
    with zipfile.ZipFile(zpath) as zf:
        assert zf.getinfo("m/huge.png").file_size == 1000
    cache = tmp_path / "cache"
    with pytest.raises(ArchiveError):
        extract_model(zpath, cache_dir=cache, max_file_bytes=1 << 20)
    assert list(cache.iterdir()) == []


def test_extraction_is_cached_and_atomic(tmp_path: Path) -> None:
    zpath = _zip(tmp_path / "c.zip", [("m/m.pmx", b"first"), ("m/t.png", b"t")])
    cache = tmp_path / "cache"
    model = extract_model(zpath, cache_dir=cache)
    model.write_bytes(b"edited")  # a complete extraction is reused, not redone
    assert extract_model(zpath, cache_dir=cache) == model and model.read_bytes() == b"edited"
    # a folder left without the completion marker (a crash) is never reused
    (model.parents[1] / ".thagen-extracted.json").unlink()
    assert extract_model(zpath, cache_dir=cache).read_bytes() == b"first"
    # a changed archive gets a fresh folder
    _zip(zpath, [("m/m.pmx", b"second, longer")])
    os.utime(zpath, ns=(1, 10**18))
    newer = extract_model(zpath, cache_dir=cache)
    assert newer != model and newer.read_bytes() == b"second, longer"
    assert not any(p.name.startswith(".tmp-") for p in cache.iterdir())


def test_default_cache_respects_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "thagen" / "archives"
    zpath = _zip(tmp_path / "d.zip", [("m.pmx", b"m")])
    assert extract_model(zpath).is_relative_to(tmp_path / "xdg" / "thagen" / "archives")


def test_read_model_from_a_zip(tmp_path: Path) -> None:
    from thagen.rigs.builtin import builtin_character, write_builtin_character
    from thagen.rigs.formats.textures import texture_report
    from thagen.rigs.reader import read_model

    folder = write_builtin_character(tmp_path / "src", "キャラ").parent
    zpath = tmp_path / "chara.zip"
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(folder.iterdir()):
            zf.writestr(_Cp932Info(f"ビルトイン/{f.name}"), f.read_bytes())
    model = read_model(zpath, cache_dir=tmp_path / "cache")
    assert model == builtin_character()
    assert model.source_path is not None and model.source_path.name == "キャラ.pmx"
    assert all(row["found"] for row in texture_report(model))
