"""Japanese model names are drawn as glyphs on contact sheets, not as empty boxes."""

from __future__ import annotations

import io
import logging

import numpy as np
import pytest
from PIL import Image, ImageFont

from thagen.render.character import fonts
from thagen.render.character.contact_sheet import HEADER_H, make_contact_sheet

NAME = "プロ生ちゃん"
NO_GLYPH = "\U0010fffd"


@pytest.fixture(scope="module")
def cjk_font() -> fonts.LabelFont:
    if fonts.cjk_font_path() is None:
        pytest.skip(
            f"no Japanese font on this machine ({fonts.INSTALL_HINT}); make test installs fonts-noto-cjk"
        )
    return fonts.label_font()


def _header(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("L"))[:HEADER_H]


def test_cjk_font_draws_every_kana_as_its_own_glyph(cjk_font: fonts.LabelFont) -> None:
    assert fonts.covers(cjk_font, NAME)
    masks = {bytes(cjk_font.getmask(ch)) for ch in NAME}
    assert len(masks) == len(set(NAME))  # six different glyphs
    assert bytes(cjk_font.getmask(NO_GLYPH)) not in masks  # none of them is the .notdef box


def test_pillow_default_font_cannot_draw_kana() -> None:
    assert not fonts.covers(ImageFont.load_default(), NAME)
    assert fonts.covers(ImageFont.load_default(), "Gene")


def test_contact_sheet_header_shows_the_name_not_boxes(cjk_font: fonts.LabelFont) -> None:
    tile = np.zeros((64, 64, 4), np.uint8)
    title = fonts.sheet_title(NAME, "pro-0123abcd")
    assert title == f"{NAME} (pro-0123abcd)"
    named = _header(make_contact_sheet([("rest", tile)], title=title))
    boxes = _header(make_contact_sheet([("rest", tile)], title=f"{NO_GLYPH * len(NAME)} (pro-0123abcd)"))
    blank = _header(make_contact_sheet([("rest", tile)], title=""))
    assert (named != blank).sum() > 50  # something is drawn
    assert (named != boxes).sum() > 50  # and it is not the fallback boxes


def test_without_a_capable_font_the_title_falls_back_to_the_id(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="thagen.render.character.fonts"):
        title = fonts.sheet_title(NAME, "pro-fallback1", font=ImageFont.load_default())
    assert title == "pro-fallback1"
    assert "fonts-noto-cjk" in caplog.text and "pro-fallback1" in caplog.text
    assert fonts.sheet_title("Gene", "gene-1", font=ImageFont.load_default()) == "Gene (gene-1)"
