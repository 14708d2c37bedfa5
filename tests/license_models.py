"""A small model collection with known licenses, shared by the license tests.

Every model is the built-in character (it renders in seconds) under another name, so each file
has its own hash and id; its PMX comment says CC0, and a readme beside it can say otherwise:

    models/alice/alice.pmx    the comment's CC0 only: everything allowed, no credit needed
    models/bob/bob.pmx        readme.txt: 再配布禁止 (redistribution forbidden, with evidence)
    models/carol/carol.pmx    no comment, no readme: nothing known
    models/pack/dora/dora.pmx pack/ReadMe.txt one folder up: credit required, with a credit line
"""

from __future__ import annotations

import shutil
from pathlib import Path

from thagen.rigs.builtin import builtin_character, write_builtin_character
from thagen.rigs.formats.pmx.reader import write_pmx

REPO = Path(__file__).resolve().parents[1]
GENE_PMX = REPO / "tests" / "data" / "gene" / "Gene_light.pmx"
GENE_CREDIT = (
    "CG-CA Gene (c) 2023 by Nagoya Institute of Technology, Moonshot R&D Goal 1 Avatar Symbiotic Society"
)
DORA_CREDIT = "Dora model (c) 2024 Example Workshop"
BOB_README = "ボブ モデル\n\n■禁止事項■\n再配布禁止\n"


def write_model(folder: Path, name: str, template: Path, *, comment: bool = True) -> Path:
    """The built-in character as `folder/<name>.pmx`, named `name`, its textures copied from
    `template` (a folder `write_builtin_character` filled; written there when missing)."""
    if not template.is_dir():
        write_builtin_character(template)
    shutil.copytree(template, folder, dirs_exist_ok=True)
    (folder / "builtin.pmx").unlink()
    model = builtin_character()
    model.name = model.name_en = name.title()
    if not comment:
        model.comment = model.comment_en = ""
    path = folder / f"{name}.pmx"
    write_pmx(model, path)
    return path


def make_collection(root: Path) -> dict[str, Path]:
    """The models above under `root/models`; returns name -> model path."""
    models, template = root / "models", root / ".template"
    paths = {
        "alice": write_model(models / "alice", "alice", template),
        "bob": write_model(models / "bob", "bob", template),
        "carol": write_model(models / "carol", "carol", template, comment=False),
        "dora": write_model(models / "pack" / "dora", "dora", template),
    }
    (models / "bob" / "readme.txt").write_text(BOB_README, encoding="utf-8")
    (models / "pack" / "ReadMe.txt").write_text(
        f"Dora\n\nクレジット表記必須\ncredit: {DORA_CREDIT}\n", encoding="utf-8"
    )
    shutil.rmtree(template)
    return paths
