"""Fonts for the text thagen draws into images (contact sheets, QA sheets).

Model names are mostly Japanese (`プロ生ちゃん`, `ジェネ`), and Pillow's built-in font has no
kana or kanji: they come out as identical empty boxes. So labels use a font that covers
Japanese, found on the system at run time (Debian's `fonts-noto-cjk`, which the Makefile
installs, or IPA / VL / Takao / Droid fallbacks), or the file named by `THAGEN_FONT`. Where
none is present, a name the font cannot draw is replaced by the character id (ASCII) and a
warning says how to install one: a readable id beats a row of boxes.
"""

from __future__ import annotations

import logging
import os
from functools import lru_cache
from pathlib import Path

from PIL import ImageFont

log = logging.getLogger(__name__)

FONT_DIRS = (
    Path("/usr/share/fonts"),
    Path("/usr/local/share/fonts"),
    Path.home() / ".local" / "share" / "fonts",
    Path.home() / ".fonts",
)
# File names of fonts with Japanese glyphs, most preferred first (Sans before Serif).
CJK_FONT_FILES = (
    "NotoSansCJK-Regular.ttc",
    "NotoSansCJKjp-Regular.otf",
    "NotoSansJP-Regular.otf",
    "NotoSansJP-Regular.ttf",
    "NotoSerifCJK-Regular.ttc",
    "ipaexg.ttf",
    "ipag.ttf",
    "VL-Gothic-Regular.ttf",
    "TakaoPGothic.ttf",
    "DroidSansFallbackFull.ttf",
)
INSTALL_HINT = "install a Japanese font (Debian: apt-get install fonts-noto-cjk) or set THAGEN_FONT"
_NO_GLYPH = "\U0010fffd"  # a private-use code point no font maps: draws the .notdef box

LabelFont = ImageFont.FreeTypeFont | ImageFont.ImageFont


@lru_cache(maxsize=1)
def cjk_font_path() -> Path | None:
    """The first Japanese-capable font file on this system (THAGEN_FONT wins), or None."""
    env = os.environ.get("THAGEN_FONT")
    if env:
        if Path(env).is_file():
            return Path(env)
        log.warning("THAGEN_FONT=%s is not a file; looking for a system font instead", env)
    for name in CJK_FONT_FILES:
        for d in FONT_DIRS:
            if not d.is_dir():
                continue
            direct = d / name
            if direct.is_file():
                return direct
            for found in d.rglob(name):
                return found
    return None


@lru_cache(maxsize=8)
def label_font(size: int = 11) -> LabelFont:
    """The label font at `size` px: the CJK font where there is one, else Pillow's default."""
    path = cjk_font_path()
    if path is not None:
        try:
            return ImageFont.truetype(str(path), size=size, index=0)  # .ttc index 0 = the JP face
        except OSError as exc:
            log.warning("cannot load font %s (%s); labels fall back to Pillow's font", path, exc)
    return ImageFont.load_default(size=size)


def _mask_bytes(font: LabelFont, ch: str) -> bytes:
    mask = font.getmask(ch)
    return bytes(mask) + repr(mask.size).encode()


def covers(font: LabelFont, text: str) -> bool:
    """True when every visible character of `text` has a real glyph in `font` (not .notdef)."""
    box = _mask_bytes(font, _NO_GLYPH)
    return all(_mask_bytes(font, ch) != box for ch in set(text) if not ch.isspace())


_warned: set[str] = set()


def sheet_title(name: str, character_id: str, font: LabelFont | None = None) -> str:
    """`name (id)` when the font can draw the name; the id alone (with one warning) otherwise."""
    font = font or label_font()
    name = name.strip()
    if not name or name == character_id:
        return character_id
    if covers(font, name):
        return f"{name} ({character_id})"
    if character_id not in _warned:
        _warned.add(character_id)
        log.warning(
            "no font can draw the model name %r of %s; showing its id (%s)", name, character_id, INSTALL_HINT
        )
    return character_id
