"""One PNG per character to eyeball a render: reset, QA images and a few sample pairs.

Tiles sit on a checkerboard (so the transparent background and alpha fringes show), the
reset tile carries the framing guides (head-top and chin rows, centre column) and failed QA
checks are written in red across the top. The title is the model's name (Japanese included,
see `thagen.render.character.fonts`) and the character id.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

from thagen.render.character.fonts import label_font

TILE = 128
LABEL_H = 16
HEADER_H = 18
GUIDE = (0, 200, 255, 255)
FLAG = (220, 30, 30, 255)
OK = (20, 140, 40, 255)


def _checker(size: int, cell: int = 8) -> Image.Image:
    idx = (np.arange(size)[:, None] // cell + np.arange(size)[None, :] // cell) % 2
    grey = np.where(idx == 0, 200, 232).astype(np.uint8)
    rgba = np.dstack([grey, grey, grey, np.full_like(grey, 255)])
    return Image.fromarray(rgba, "RGBA")


def _tile(img: np.ndarray | Image.Image, tile: int) -> Image.Image:
    im = img if isinstance(img, Image.Image) else Image.fromarray(np.asarray(img), "RGBA")
    im = im.convert("RGBA")
    if im.size != (tile, tile):
        im = im.resize((tile, tile), Image.Resampling.BILINEAR)
    out = _checker(tile)
    out.alpha_composite(im)
    return out


def _draw_guides(tile: Image.Image, guides: dict[str, float], src_size: int) -> None:
    draw = ImageDraw.Draw(tile)
    s = tile.size[0] / float(src_size)
    for key in ("head_top", "chin"):
        if key in guides and guides[key] is not None:
            y = guides[key] * s
            draw.line([(0, y), (tile.size[0], y)], fill=GUIDE, width=1)
    if guides.get("center_x") is not None:
        x = guides["center_x"] * s
        draw.line([(x, 0), (x, tile.size[1])], fill=GUIDE, width=1)


def _draw_box(tile: Image.Image, box: Sequence[float] | None, src_size: int, colour: tuple) -> None:
    if not box:
        return
    s = tile.size[0] / float(src_size)
    x0, y0, x1, y1 = (v * s for v in box)
    ImageDraw.Draw(tile).rectangle([x0, y0, x1 - 1, y1 - 1], outline=colour, width=1)


def make_contact_sheet(
    tiles: Sequence[tuple[str, np.ndarray | Image.Image]],
    *,
    title: str = "",
    flags: Sequence[str] = (),
    guides: dict[str, float] | None = None,
    boxes: dict[int, tuple[Sequence[float] | None, tuple]] | None = None,
    columns: int = 6,
    tile: int = TILE,
) -> bytes:
    """Compose labelled tiles into one PNG (bytes).

    `guides` (head_top, chin, center_x in source pixels) is drawn on tile 0; `boxes` maps a
    tile index to (box in source pixels, colour), e.g. the expected eye region on the
    eyes-closed tile.
    """
    if not tiles:
        raise ValueError("a contact sheet needs at least one image")
    font = label_font()  # covers Japanese model names where a CJK font is installed
    rows = (len(tiles) + columns - 1) // columns
    cols = min(columns, len(tiles))
    width = cols * tile
    height = HEADER_H + rows * (tile + LABEL_H)
    sheet = Image.new("RGBA", (width, height), (255, 255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    header = title
    colour = OK
    if flags:
        header = f"{title}  QA: {', '.join(flags)}"
        colour = FLAG
    elif title:
        header = f"{title}  QA: ok"
    draw.text((3, 3), header, fill=colour, font=font)
    for i, (label, img) in enumerate(tiles):
        src = np.asarray(img).shape[0] if not isinstance(img, Image.Image) else img.size[1]
        t = _tile(img, tile)
        if i == 0 and guides:
            _draw_guides(t, guides, src)
        if boxes and i in boxes:
            _draw_box(t, boxes[i][0], src, boxes[i][1])
        r, c = divmod(i, columns)
        x, y = c * tile, HEADER_H + r * (tile + LABEL_H)
        sheet.paste(t, (x, y))
        draw.text((x + 2, y + tile + 1), label[:22], fill=(0, 0, 0, 255), font=font)
    buf = io.BytesIO()
    sheet.convert("RGB").save(buf, format="PNG", compress_level=1)  # fast: made once per character
    return buf.getvalue()
