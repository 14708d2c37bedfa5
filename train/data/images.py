"""Image conversion between PNG files and network tensors.

Networks see RGBA in [-1, 1] with the colour channels in *linear* light, as the THA1 demo code
does: sRGB colour is decoded to linear (the IEC 61966-2-1 curve), alpha is left as it is (alpha
is coverage, not colour), then everything is scaled from [0, 1] to [-1, 1]. Colour under fully
transparent pixels carries no information, so it is set to black on load.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from thagen.errors import ThagenError


class ImageInputError(ThagenError):
    """An image handed to the trainer, evaluator or demo has the wrong size, mode or content."""


def srgb_to_linear_np(c: np.ndarray) -> np.ndarray:
    c = np.asarray(c, dtype=np.float32)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4).astype(np.float32)


# 8-bit sRGB code -> linear value: decoding becomes one table lookup per pixel
_SRGB8_TO_LINEAR = srgb_to_linear_np(np.arange(256, dtype=np.float32) / 255.0)


def srgb_to_linear(c: torch.Tensor) -> torch.Tensor:
    return torch.where(c <= 0.04045, c / 12.92, ((c.clamp(min=0) + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(c: torch.Tensor) -> torch.Tensor:
    c = c.clamp(0.0, 1.0)
    return torch.where(c <= 0.0031308, c * 12.92, 1.055 * c.clamp(min=1e-12) ** (1 / 2.4) - 0.055)


def rgba8_to_array(rgba: np.ndarray) -> np.ndarray:
    """(H, W, 4) uint8 sRGB RGBA -> (4, H, W) float32 network input in [-1, 1]."""
    out = np.empty((4, *rgba.shape[:2]), dtype=np.float32)
    out[:3] = _SRGB8_TO_LINEAR[rgba[..., :3]].transpose(2, 0, 1)
    out[3] = rgba[..., 3].astype(np.float32) / 255.0
    out[:3] *= out[3] > 0
    return out * 2.0 - 1.0


def to_network(rgba8: torch.Tensor) -> torch.Tensor:
    """(B, 4, H, W) uint8 sRGB RGBA (any device) -> float32 network input in [-1, 1].

    Batches travel from loader workers as uint8 (4x less to copy) and are converted here,
    on the training device.
    """
    lut = torch.from_numpy(_SRGB8_TO_LINEAR).to(rgba8.device)
    alpha = rgba8[:, 3:4].float() / 255.0
    rgb = lut[rgba8[:, :3].long()] * (alpha > 0)
    return torch.cat([rgb, alpha], dim=1) * 2.0 - 1.0


def decode_png(data: bytes, *, where: str, size: int | None = None) -> np.ndarray:
    """PNG bytes -> (4, H, W) network array; `where` names the file/sample in errors."""
    return rgba8_to_array(decode_png_rgba8(data, where=where, size=size))


def decode_png_rgba8(data: bytes, *, where: str, size: int | None = None, resize: bool = False) -> np.ndarray:
    """PNG bytes -> (H, W, 4) uint8 sRGB RGBA; `where` names the file/sample in errors.

    With `resize`, a square image of another size is scaled to `size` (`scale_rgba8`): the tiny
    config trains at 64 px on 256-px renders. Without it, another size is an error.
    """
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            rgba = np.asarray(im.convert("RGBA"))
    except Exception as exc:  # PIL raises many types for corrupt data
        raise ImageInputError(f"{where}: cannot decode PNG ({exc})") from exc
    if size is not None and rgba.shape[:2] != (size, size):
        if not resize:
            h, w = rgba.shape[:2]
            raise ImageInputError(f"{where}: image is {w}x{h}, expected {size}x{size}")
        rgba = scale_rgba8(rgba, size, where=where)
    return rgba


def scale_rgba8(rgba: np.ndarray, size: int, *, where: str) -> np.ndarray:
    """Scale a square (H, W, 4) uint8 image to size x size: a box filter on premultiplied alpha,
    so the colour under transparent pixels does not bleed into the edges."""
    h, w = rgba.shape[:2]
    if h != w:
        raise ImageInputError(f"{where}: image is {w}x{h}, expected {size}x{size}")
    if h == size:
        return rgba
    im = Image.fromarray(np.ascontiguousarray(rgba), "RGBA").convert("RGBa")
    return np.asarray(im.resize((size, size), Image.Resampling.BOX).convert("RGBA"))


def tensor_to_rgba8(x: torch.Tensor) -> np.ndarray:
    """(4, H, W) network tensor -> (H, W, 4) uint8 sRGB RGBA with straight alpha."""
    x = ((x.detach().float().cpu() + 1.0) / 2.0).clamp(0, 1)
    rgb = linear_to_srgb(x[:3])
    out = torch.cat([rgb, x[3:4]], dim=0).permute(1, 2, 0).numpy()
    return np.round(out * 255.0).astype(np.uint8)


def tensor_to_image(x: torch.Tensor) -> Image.Image:
    return Image.fromarray(tensor_to_rgba8(x), "RGBA")


def load_front_image(path: Path, size: int = 256, *, need: str | None = None) -> torch.Tensor:
    """Read a user's front image for the demo: it must already be framed like a reset image.

    A square image of another size keeps its framing when scaled, so it is scaled to the
    network's size (a 256-px reset image drives a 64-px tiny network); anything else is refused.
    `need` words the requirement in errors ("must be ...", THA1's reset-image framing by default).
    """
    path = Path(path)
    need = need or (
        f"must be framed like a reset image: {size}x{size} RGBA with a transparent background "
        "(a square image of another size is scaled)"
    )
    try:
        with Image.open(path) as im:
            im.load()
            mode, dims = im.mode, im.size
            has_alpha = mode in ("RGBA", "LA") or (mode == "P" and "transparency" in im.info)
            rgba_image = im.convert("RGBA") if has_alpha else None
    except FileNotFoundError as exc:
        raise ImageInputError(f"{path}: no such file") from exc
    except Exception as exc:
        raise ImageInputError(f"{path}: cannot read image ({exc})") from exc
    if dims[0] != dims[1]:
        raise ImageInputError(f"{path}: image is {dims[0]}x{dims[1]}; it {need}")
    if rgba_image is None:
        raise ImageInputError(f"{path}: image has no alpha channel (mode {mode}); it {need}")
    rgba = scale_rgba8(np.asarray(rgba_image), size, where=str(path))
    return torch.from_numpy(rgba8_to_array(rgba))


def checkerboard(height: int, width: int, cell: int = 8) -> np.ndarray:
    """A grey checkerboard (H, W, 3) uint8, to show transparency in previews."""
    yy, xx = np.mgrid[0:height, 0:width]
    board = ((yy // cell + xx // cell) % 2).astype(np.uint8)
    return np.repeat((200 + 40 * board)[..., None], 3, axis=2).astype(np.uint8)


def over_background(rgba: np.ndarray, background: np.ndarray) -> np.ndarray:
    """Alpha-composite (H, W, 4) uint8 over an (H, W, 3) uint8 background, in sRGB as viewers do."""
    a = rgba[..., 3:4].astype(np.float32) / 255.0
    out = rgba[..., :3].astype(np.float32) * a + background.astype(np.float32) * (1 - a)
    return np.round(out).astype(np.uint8)
