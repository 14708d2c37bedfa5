"""THA1 networks: parameter counts, shapes, output compositions, image conversion."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from thagen.train.data.images import (
    ImageInputError,
    decode_png,
    linear_to_srgb,
    load_front_image,
    rgba8_to_array,
    srgb_to_linear,
    tensor_to_rgba8,
    to_network,
)
from thagen.train.tha1.networks import THA1_PARAMETERS, NetSpec, apply_flow, build, count_parameters

TINY = NetSpec(width=8, blocks=2)


@pytest.mark.parametrize("name", ["morpher", "rotator", "combiner"])
def test_full_width_parameter_count_matches_tha1(name: str) -> None:
    n = count_parameters(build(name))
    assert abs(n - THA1_PARAMETERS[name]) <= 0.05 * THA1_PARAMETERS[name]
    assert n == THA1_PARAMETERS[name]  # the layer facts reproduce the count exactly


@pytest.mark.parametrize("size", [32, 48])
def test_shapes_at_any_multiple_of_8(size: int) -> None:
    x = torch.rand(2, 4, size, size) * 2 - 1
    p = torch.rand(2, 3)
    assert build("morpher", TINY)(x, p).shape == (2, 4, size, size)
    a, b = build("rotator", TINY)(x, p)
    assert a.shape == b.shape == (2, 4, size, size)
    assert build("combiner", TINY)(a, b, p).shape == (2, 4, size, size)


def _zero_heads(model: torch.nn.Module, names: list[str]) -> None:
    with torch.no_grad():
        for n in names:
            getattr(model, n).weight.zero_()


def test_zero_flow_offset_reproduces_input() -> None:
    torch.manual_seed(0)
    x = torch.rand(3, 4, 40, 24) * 2 - 1
    assert torch.allclose(apply_flow(x, torch.zeros(3, 2, 40, 24)), x, atol=1e-5)
    rot = build("rotator", TINY)
    _zero_heads(rot, ["flow"])
    _, by_flow = rot(x[:, :, :32, :24], torch.rand(3, 3))
    assert torch.allclose(by_flow, x[:, :, :32, :24], atol=1e-5)


def test_flow_offset_moves_pixels_by_grid_units() -> None:
    x = torch.zeros(1, 1, 8, 9)
    x[0, 0, 4, 4] = 1.0
    offset = torch.zeros(1, 2, 8, 9)
    offset[:, 0] = 2.0 / 8  # one pixel in x (align_corners: 9 columns span [-1, 1] in 8 steps)
    y = apply_flow(x, offset)
    assert y[0, 0, 4, 3] == pytest.approx(1.0, abs=1e-5)  # output samples input one pixel to the right
    assert y[0, 0, 4, 4] == pytest.approx(0.0, abs=1e-5)


def test_compositions_follow_the_formulas() -> None:
    """With all heads zero: alpha = 0.5, change = 0, so the outputs are exact halves."""
    torch.manual_seed(1)
    x, y = torch.rand(2, 4, 32, 32) * 2 - 1, torch.rand(2, 4, 32, 32) * 2 - 1
    p = torch.rand(2, 3)
    morpher = build("morpher", TINY)
    _zero_heads(morpher, ["alpha", "change"])
    assert torch.allclose(morpher(x, p), 0.5 * x, atol=1e-6)
    combiner = build("combiner", TINY)
    _zero_heads(combiner, ["combine_alpha", "retouch_alpha", "retouch_change"])
    assert torch.allclose(combiner(x, y, p), 0.5 * (0.5 * x + 0.5 * y), atol=1e-6)


def test_pose_changes_the_output() -> None:
    torch.manual_seed(2)
    m = build("morpher", TINY)
    x = torch.rand(1, 4, 32, 32) * 2 - 1
    assert not torch.allclose(m(x, torch.zeros(1, 3)), m(x, torch.ones(1, 3)))


def test_srgb_linear_round_trip_and_alpha_untouched() -> None:
    rgba = np.zeros((2, 3, 4), dtype=np.uint8)
    rgba[..., 0] = [[0, 64, 128], [188, 255, 30]]
    rgba[..., 3] = [[255, 128, 0], [255, 255, 1]]
    arr = rgba8_to_array(rgba)
    assert arr.min() >= -1 and arr.max() <= 1
    assert arr[3, 0, 1] == pytest.approx(128 / 255 * 2 - 1, abs=1e-6)  # alpha is linear scaling only
    assert arr[0, 0, 2] == -1.0  # colour under a fully transparent pixel is black
    mid = (arr[0, 1, 0] + 1) / 2  # sRGB 188 -> linear ~0.5
    assert mid == pytest.approx(0.5029, abs=1e-3)
    back = tensor_to_rgba8(torch.from_numpy(arr))
    expect = rgba.copy()
    expect[0, 2, 0] = 0
    assert np.array_equal(back, expect)
    batched = to_network(torch.from_numpy(rgba.transpose(2, 0, 1).copy())[None])
    assert torch.allclose(batched[0], torch.from_numpy(arr), atol=1e-6)  # device path == numpy path
    t = torch.linspace(0, 1, 101)
    assert torch.allclose(linear_to_srgb(srgb_to_linear(t)), t, atol=1e-5)


def _png(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def test_decode_png_checks_size_and_names_the_sample() -> None:
    data = _png(Image.new("RGBA", (16, 16)))
    assert decode_png(data, where="x", size=16).shape == (4, 16, 16)
    with pytest.raises(ImageInputError, match=r"shard\.tar: k/000001.*16x16, expected 32x32"):
        decode_png(data, where="shard.tar: k/000001", size=32)
    with pytest.raises(ImageInputError, match="cannot decode PNG"):
        decode_png(b"not a png", where="y")


def test_loader_resizes_square_renders_without_colour_bleed() -> None:
    """256-px renders feed the 64-px tiny config; transparent pixels' colour must not bleed in."""
    from thagen.train.data.images import decode_png_rgba8

    arr = np.zeros((8, 8, 4), np.uint8)
    arr[:, :4] = (255, 0, 0, 255)  # opaque red left half
    arr[:, 4:] = (0, 255, 0, 0)  # transparent, but green underneath
    out = decode_png_rgba8(_png(Image.fromarray(arr, "RGBA")), where="x", size=4, resize=True)
    assert out.shape == (4, 4, 4)
    assert (out[:, :2] == (255, 0, 0, 255)).all() and (out[:, 2:, 3] == 0).all()
    # a 2x2 box straddling the edge of an opaque red column next to transparent green: red only
    arr[:, :] = (0, 255, 0, 0)
    arr[:, 0::2] = (255, 0, 0, 255)
    mixed = decode_png_rgba8(_png(Image.fromarray(arr, "RGBA")), where="x", size=4, resize=True)
    assert (mixed[..., 1] <= 2).all() and (abs(mixed[..., 3].astype(int) - 128) <= 1).all()
    with pytest.raises(ImageInputError, match="8x4, expected 4x4"):
        decode_png_rgba8(_png(Image.new("RGBA", (8, 4))), where="x", size=4, resize=True)


def test_front_image_must_be_rgba_at_size(tmp_path) -> None:
    Image.new("RGBA", (64, 64), (255, 0, 0, 255)).save(tmp_path / "ok.png")
    assert load_front_image(tmp_path / "ok.png", 64).shape == (4, 64, 64)
    Image.new("RGBA", (256, 256), (255, 0, 0, 255)).save(tmp_path / "render.png")  # a 256-px reset image
    assert torch.equal(
        load_front_image(tmp_path / "render.png", 64), load_front_image(tmp_path / "ok.png", 64)
    )
    Image.new("RGBA", (100, 64)).save(tmp_path / "big.png")
    with pytest.raises(ImageInputError, match=r"100x64.*framed like a reset image: 64x64 RGBA"):
        load_front_image(tmp_path / "big.png", 64)
    Image.new("RGB", (64, 64)).save(tmp_path / "rgb.png")
    with pytest.raises(ImageInputError, match="no alpha channel"):
        load_front_image(tmp_path / "rgb.png", 64)
