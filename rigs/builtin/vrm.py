"""The built-in character as a VRM 0.x / 1.0 avatar, so VRM tests and benchmarks know its truth.

Its morph and bone names in VRM vocabulary (expression presets, humanoid bones); the writer
itself is rigs/formats/vrm/writer.py.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TypedDict, Unpack

from thagen.files import atomic_write_bytes
from thagen.rigs.builtin.character import builtin_character
from thagen.rigs.builtin.textures import builtin_textures
from thagen.rigs.formats.vrm.writer import vrm_bytes

# the built-in character's morphs and bones in VRM vocabulary
BUILTIN_PRESETS = {
    "まばたき": "blink", "ウィンク２": "blinkLeft", "ｳｨﾝｸ２右": "blinkRight",
    "あ": "aa", "い": "ih", "う": "ou", "え": "ee", "お": "oh",
}  # fmt: skip
BUILTIN_HUMANOID = {
    "hips": "センター",
    "spine": "上半身",
    "neck": "首",
    "head": "頭",
    "leftEye": "左目",
    "rightEye": "右目",
}


class BuiltinVrmOptions(TypedDict, total=False):
    """`builtin_vrm_bytes`'s keyword options, as `write_builtin_vrm` forwards them."""

    target_vertices: int | None
    binary: frozenset[str]


def builtin_vrm_bytes(
    version: str = "1.0", *, target_vertices: int | None = None, binary: frozenset[str] = frozenset()
) -> bytes:
    """The built-in character as VRM `version`, textures embedded, presets and humanoid mapped."""
    model = builtin_character(target_vertices)
    return vrm_bytes(
        model,
        version,
        images=builtin_png_bytes(),
        presets=BUILTIN_PRESETS,
        humanoid=BUILTIN_HUMANOID,
        binary=binary,
    )


def builtin_png_bytes() -> dict[str, bytes]:
    from PIL import Image

    encoded = {}
    for name, pixels in builtin_textures().items():
        buf = io.BytesIO()
        Image.fromarray(pixels).save(buf, format="PNG")
        encoded[name] = buf.getvalue()
    return encoded


def write_builtin_vrm(
    directory: str | Path, version: str = "1.0", name: str = "builtin", **options: Unpack[BuiltinVrmOptions]
) -> Path:
    """Write `<name>.vrm` (the built-in character, self-contained) into `directory`; return its path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.vrm"
    atomic_write_bytes(path, builtin_vrm_bytes(version, **options))
    return path
