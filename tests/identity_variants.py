"""Model variants built from real models by transformation, for the identity tests and bench.

Every variant is a real model file with real texture files: Gene re-encoded (JPEG / resized
textures), Gene with its hair recoloured, Gene in another outfit (non-head vertices moved), and
"characters" made from the built-in one (own face drawing, own name, own head proportions) with
outfit variants. Nothing here is a stand-in for thagen's code: the tests run that on these files.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from thagen.rigs.builtin import ATLAS_NAME, TOON_NAME, builtin_character, builtin_textures
from thagen.rigs.formats.pmx.reader import write_pmx
from thagen.rigs.model import Model
from thagen.rigs.reader import read_model

NAMES = (
    "Alice", "Bella", "Chika", "Daisy", "Emiri", "Fuuka", "Grace", "Hana", "Iroha", "Juri",
    "Kanon", "Luna", "Mio", "Nanami", "Olive", "Popura", "Quinn", "Rin", "Sakura", "Tsubasa",
    "Ume", "Violet", "Wakaba", "Xenia", "Yuzu", "Zoe",
)  # fmt: skip
OUTFITS = ("", " 水着", "_制服", " (T-shirt)", " winter ver2", " 浴衣", "_casual", " メイド")


def reencode(src: Path, dst: Path, *, jpeg_quality: int | None = 70, scale: float = 1.0) -> None:
    """Re-encode an image: JPEG at a quality (kept under the same file name) and/or resized."""
    with Image.open(src) as im:
        img = im.convert("RGB") if jpeg_quality is not None else im.copy()
    if scale != 1.0:
        img = img.resize(
            (max(1, round(img.width * scale)), max(1, round(img.height * scale))), Image.Resampling.LANCZOS
        )
    if jpeg_quality is not None:
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=jpeg_quality)
        dst.write_bytes(buf.getvalue())
    else:
        img.save(dst, "PNG")


def recolour(src: Path, dst: Path) -> None:
    """Swap the colour channels (R, G, B -> B, R, G): the same drawing in other colours."""
    with Image.open(src) as im:
        rgba = np.asarray(im.convert("RGBA")).copy()
    rgba[..., :3] = rgba[..., [2, 0, 1]]
    Image.fromarray(rgba).save(dst)


def head_bones(model: Model, head_bone: str = "頭") -> np.ndarray:
    """The head bone and every bone below it (eyes, jaw, hair, accessories)."""
    parents = np.array([b.parent for b in model.bones])
    inside = np.zeros(len(model.bones), bool)
    inside[model.bone_index(head_bone)] = True
    for _ in range(len(model.bones)):
        grown = inside | ((parents >= 0) & inside[np.clip(parents, 0, None)])
        if (grown == inside).all():
            break
        inside = grown
    return np.flatnonzero(inside)


def head_mask(model: Model, head_bone: str = "頭") -> np.ndarray:
    """Vertices with any weight on the head bone or a bone below it: all of the head."""
    hit = np.isin(model.bone_indices, head_bones(model, head_bone)) & (model.bone_weights > 0)
    return hit.any(axis=1)


def move_body(model: Model, amount: float) -> Model:
    """Another outfit: every non-head vertex pushed out from the body's axis by `amount`."""
    keep = head_mask(model)
    pos = model.positions.astype(np.float64)
    centre = pos[~keep].mean(axis=0)
    pos[~keep, 0] = centre[0] + (pos[~keep, 0] - centre[0]) * (1 + amount)
    pos[~keep, 2] = centre[2] + (pos[~keep, 2] - centre[2]) * (1 + amount)
    model.positions = pos.astype(np.float32)
    return model


def gene_copy(
    gene_pmx: Path,
    dst: Path,
    *,
    textures: str = "same",
    outfit: float = 0.0,
    name: str | None = None,
    file_name: str = "Gene_light.pmx",
) -> Path:
    """A copy of Gene in `dst`: textures 'same', 'jpeg' (face/eye JPEG, others resized to 60%),
    'hair' (hair recoloured); `outfit` moves the non-head vertices; `name` renames the model."""
    dst.mkdir(parents=True, exist_ok=True)
    src_tex = gene_pmx.parent / "light"
    shutil.copytree(src_tex, dst / "light", dirs_exist_ok=True)
    for png in sorted((dst / "light").glob("*.png")):
        if textures == "jpeg":
            if png.stem in ("face", "eye", "eye2"):
                reencode(src_tex / png.name, png, jpeg_quality=70)
            else:
                reencode(src_tex / png.name, png, jpeg_quality=None, scale=0.6)
        elif textures == "hair" and png.stem.startswith("hair"):
            recolour(src_tex / png.name, png)
    out = dst / file_name
    if outfit == 0.0 and name is None:
        shutil.copy(gene_pmx, out)
        return out
    model = read_model(gene_pmx)
    if outfit:
        move_body(model, outfit)
    if name is not None:
        model.name = name
    write_pmx(model, out)
    return out


def character_atlas(character: int) -> np.ndarray:
    """The built-in atlas overlaid with a character's own coarse pattern: another face drawing."""
    atlas = builtin_textures()[ATLAS_NAME].astype(np.float64)
    rng = np.random.default_rng(1000 + character)
    blocks = rng.integers(0, 256, (8, 8, 3)).astype(np.float64)
    size = atlas.shape[0] // 8
    pattern = np.kron(blocks, np.ones((size, size, 1)))
    atlas[..., :3] = 0.45 * atlas[..., :3] + 0.55 * pattern
    return np.clip(np.round(atlas), 0, 255).astype(np.uint8)


def builtin_variant(root: Path, character: int, outfit: int, *, jpeg: bool = False) -> Path:
    """Character `character` (own atlas, name, head proportions) in outfit `outfit`."""
    folder = root / f"c{character:03d}" / f"o{outfit}"
    folder.mkdir(parents=True, exist_ok=True)
    atlas = Image.fromarray(character_atlas(character))
    if jpeg:
        buf = io.BytesIO()
        atlas.convert("RGB").save(buf, "JPEG", quality=75)
        (folder / ATLAS_NAME).write_bytes(buf.getvalue())
    else:
        atlas.save(folder / ATLAS_NAME)
    Image.fromarray(builtin_textures()[TOON_NAME]).save(folder / TOON_NAME)
    model = builtin_character()
    head = head_mask(model)
    origin = model.bones[model.bone_index("頭")].position.astype(np.float64)
    pos = model.positions.astype(np.float64)
    pos[head, 0] = origin[0] + (pos[head, 0] - origin[0]) * (1 + 0.06 * (character % 13))
    pos[head, 1] = origin[1] + (pos[head, 1] - origin[1]) * (1 + 0.05 * (character // 13))
    model.positions = pos.astype(np.float32)
    if outfit:
        move_body(model, 0.15 * outfit)
    name = NAMES[character % len(NAMES)] + (
        f"{chr(65 + character // len(NAMES))}" if character >= len(NAMES) else ""
    )
    model.name = name + OUTFITS[outfit % len(OUTFITS)]
    path = folder / f"{name.lower()}_{outfit}.pmx"
    write_pmx(model, path)
    return path
