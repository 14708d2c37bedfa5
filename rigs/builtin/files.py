"""Writing the built-in character to disk: the .pmx and its texture PNGs, as a real model folder,
for the code paths (Blender import, rendering, the demo) that read models from files.
"""

from __future__ import annotations

from pathlib import Path

from thagen.rigs.builtin.character import builtin_character
from thagen.rigs.builtin.textures import builtin_textures
from thagen.rigs.builtin.variants import BuiltinVariant


def write_builtin_character(
    directory: str | Path,
    name: str = "builtin",
    *,
    target_vertices: int | None = None,
    variant: BuiltinVariant | None = None,
) -> Path:
    """Write `<name>.pmx` and its texture PNGs into `directory`; return the PMX path.

    `variant` (rigs/builtin/variants.py): a chibi, low-poly or accessorised variant instead of
    the default character; the textures are the same for all.
    """
    from PIL import Image

    from thagen.rigs.formats.pmx.reader import write_pmx

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for file_name, pixels in builtin_textures().items():
        Image.fromarray(pixels).save(directory / file_name)
    path = directory / f"{name}.pmx"
    write_pmx(builtin_character(target_vertices, variant=variant), path)
    return path
