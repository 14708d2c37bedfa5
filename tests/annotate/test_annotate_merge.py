"""`thagen annotate merge`: several annotators' folders into one, conflicts listed, not resolved."""

from __future__ import annotations

from pathlib import Path

import yaml
from click.testing import CliRunner

from thagen.annotate.merge import merge_folders
from thagen.errors import ConfigError
from thagen.render.framing.annotation_file import Annotation, load_annotation, save_annotation

HEIGHT = 3.0  # head top 20, chin 17


def _ann(folder: Path, cid: str, *, top: float = 20.0, chin: float = 17.0, kind: str = "manual",
         who: str = "a", when: str = "2026-11-01T10:00:00+00:00") -> Path:  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    ann = Annotation([0, top, 0], [0, chin, -1], annotator=who, created=when, kind=kind)
    if kind == "auto":
        ann.confidence = 0.7
    return save_annotation(folder / f"{cid}.annotation.yaml", ann)


def _skip(folder: Path, cid: str, when: str, reason: str = "hat") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{cid}.skip.yaml"
    path.write_text(yaml.safe_dump({"reason": reason, "annotator": "b", "created": when}))
    return path


def test_manual_beats_auto_newer_beats_older_conflicts_listed(tmp_path: Path) -> None:
    a, b, out = tmp_path / "alice", tmp_path / "bob", tmp_path / "merged"
    # manual beats auto, even a newer auto
    _ann(a, "one-00000001", top=19.5, who="alice")
    _ann(b, "one-00000001", top=20.3, kind="auto", who="estimate", when="2026-11-30T00:00:00+00:00")
    # two people within the tolerance (0.2% of the head height): the newer one wins
    _ann(a, "two-00000002", top=20.000, who="alice", when="2026-11-01T10:00:00+00:00")
    _ann(b, "two-00000002", top=20.006, who="bob", when="2026-11-02T10:00:00+00:00")
    # two people 3.2% of the head height apart on the chin: a conflict
    _ann(a, "three-00000003", chin=17.0, who="alice")
    _ann(b, "three-00000003", chin=16.9, who="bob", when="2026-11-05T00:00:00+00:00")
    # a skip against an annotation: a conflict too
    _ann(a, "four-00000004", who="alice")
    _skip(b, "four-00000004", "2026-11-03T00:00:00+00:00")
    # only in one folder; two autos: the newer
    _ann(b, "five-00000005", who="bob")
    _ann(a, "six-00000006", top=20.1, kind="auto", when="2026-11-01T00:00:00+00:00")
    _ann(b, "six-00000006", top=20.2, kind="auto", when="2026-11-02T00:00:00+00:00")
    (b / "seven-00000007.annotation.yaml").write_text("head_top: [0, 1, 0]\nchin: [0, 2, 0]\n")

    result = merge_folders([a, b], out)
    assert sorted(result.written) == ["five-00000005", "one-00000001", "six-00000006", "two-00000002"]
    assert load_annotation(out / "one-00000001.annotation.yaml").annotator == "alice"
    assert load_annotation(out / "two-00000002.annotation.yaml").annotator == "bob"
    assert load_annotation(out / "six-00000006.annotation.yaml").head_top[1] == 20.2
    # copied byte for byte
    assert (out / "five-00000005.annotation.yaml").read_bytes() == (
        b / "five-00000005.annotation.yaml"
    ).read_bytes()
    conflicts = {c.cid: c for c in result.conflicts}
    assert sorted(conflicts) == ["four-00000004", "three-00000003"]
    assert "chin 3.2%" in conflicts["three-00000003"].why
    assert "skipped" in conflicts["four-00000004"].why
    assert not (out / "three-00000003.annotation.yaml").exists()  # neither answer written
    assert not (out / "four-00000004.skip.yaml").exists()
    assert len(result.problems) == 1 and "seven-00000007" in result.problems[0]
    assert "head_top" in result.problems[0]

    # a wider tolerance resolves the chin disagreement (the newer answer, bob's)
    wide = merge_folders([a, b], tmp_path / "wide", tolerance=0.05)
    assert wide.written["three-00000003"].annotation.annotator == "bob"


def test_the_output_folder_counts_as_an_input(tmp_path: Path) -> None:
    a, out = tmp_path / "a", tmp_path / "out"
    _ann(out, "one-00000001", top=20.0, who="earlier person")  # already merged before
    _ann(a, "one-00000001", top=20.5, kind="auto", when="2026-12-01T00:00:00+00:00")
    _skip(a, "two-00000002", "2026-11-03T00:00:00+00:00")
    _ann(out, "two-00000002", top=20.0, kind="auto")
    result = merge_folders([a], out)
    # the person's answer already in OUT is not replaced by a newer estimate
    assert load_annotation(out / "one-00000001.annotation.yaml").annotator == "earlier person"
    # a skip beats OUT's auto annotation, which is removed (a skip and an annotation never both)
    assert (out / "two-00000002.skip.yaml").is_file()
    assert not (out / "two-00000002.annotation.yaml").exists()
    assert result.written["two-00000002"].kind == "skip"


def test_one_folder_answer_is_its_later_file(tmp_path: Path) -> None:
    a, b, out = tmp_path / "a", tmp_path / "b", tmp_path / "out"
    _ann(a, "one-00000001", when="2026-11-01T00:00:00+00:00")
    _skip(a, "one-00000001", "2026-11-02T00:00:00+00:00")  # alice skipped it after annotating
    _skip(b, "one-00000001", "2026-11-04T00:00:00+00:00", reason="unusable model")
    result = merge_folders([a, b], out)
    assert not result.conflicts
    assert yaml.safe_load((out / "one-00000001.skip.yaml").read_text())["reason"] == "unusable model"


def test_merge_cli(tmp_path: Path) -> None:
    from thagen.cli import cli

    a, b, out = tmp_path / "a", tmp_path / "b", tmp_path / "out"
    _ann(a, "one-00000001", chin=17.0)
    _ann(b, "one-00000001", chin=16.5, who="bob")
    _ann(b, "two-00000002")
    runner = CliRunner()
    result = runner.invoke(cli, ["annotate", "merge", str(a), str(b), "--out", str(out)])
    assert result.exit_code == 1, result.output
    assert "one-00000001: conflict: more than 1% of the head height apart (chin 14.3%)" in result.output
    assert "1 characters written" in result.output and "1 conflicts left to decide" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["two-00000002.annotation.yaml"]
    result = runner.invoke(cli, ["annotate", "merge", str(a), "--out", str(tmp_path / "o2")])
    assert result.exit_code == 0 and "1 manual" in result.output
    missing = runner.invoke(cli, ["annotate", "merge", str(tmp_path / "nope"), "--out", str(out)])
    assert isinstance(missing.exception, ConfigError)  # the CLI prints it in one line
    assert "nope: no such annotations folder" in str(missing.exception)
