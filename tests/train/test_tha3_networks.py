"""THA3 networks: published parameter counts, output shapes, identity at initialisation, poser."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from thagen.train.tha3 import (
    EDITOR_WIDTH,
    EYEBROW_BOX,
    EYEBROW_IN_FACE_BOX,
    EYEBROW_POSE,
    EYEBROW_WIDTH,
    FACE_BOX,
    FACE_MORPHER_WIDTH,
    FACE_POSE,
    INITIAL_BLEND_ALPHA,
    POSE_PARAMETER_NAMES,
    POSE_SIZE,
    POSE_SLICES,
    ROTATION_POSE,
    ROTATOR_WIDTH,
    SIGNED_POSE,
    THA3_PARAMETERS,
    Editor,
    EyebrowDecomposer,
    EyebrowMorphingCombiner,
    FaceBodyRotator,
    FaceMorpher,
    NetWidth,
    Tha3Poser,
    Tha3Widths,
)
from thagen.train.tha3.blocks import warp

# From the THA3 facts file (counted on THA3's own loaders, weights not loaded).
PUBLISHED = {
    "standard": {
        "eyebrow_decomposer": 31_479_434,
        "eyebrow_combiner": 31_535_878,
        "face_morpher": 31_605_002,
        "rotator": 32_662_276,
        "editor": 8_361_672,
    },
    "separable": {
        "eyebrow_decomposer": 3_319_982,
        "eyebrow_combiner": 3_325_370,
        "face_morpher": 3_335_201,
        "rotator": 3_580_014,
        "editor": 942_328,
    },
}
PUBLISHED_TOTALS = {"standard": 135_644_262, "separable": 14_502_895}
VARIANTS = ["standard", "separable"]

DIVISOR = 16  # tiny: 4 channels at full size (2 for the editor), 32 at the bottleneck
# Each blend moves a pixel by at most alpha * |colour - image| <= 2 * INITIAL_BLEND_ALPHA (all
# values lie in [-1, 1]). A zero-offset warp samples pixel centres, exact but for float32
# round-off in the identity grid: about size * 2**-24 pixels (3e-5 at 512) times a neighbour
# difference of at most 2, hence EPS.
STEP = 2 * INITIAL_BLEND_ALPHA
EPS = 1e-4


def count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def tiny(width: NetWidth, variant: str) -> NetWidth:
    return width.scaled(DIVISOR).variant(variant == "separable")


def rand_image(b: int, size: int) -> torch.Tensor:
    return torch.rand(b, 4, size, size) * 2 - 1


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("name", list(PUBLISHED["standard"]))
def test_published_parameter_counts_are_exact(variant: str, name: str) -> None:
    with torch.device("meta"):  # full width without allocating or initialising 135M weights
        poser = Tha3Poser(Tha3Widths.published(separable=variant == "separable"))
    assert count(poser.networks()[name]) == PUBLISHED[variant][name]
    assert THA3_PARAMETERS[variant][name] == PUBLISHED[variant][name]


@pytest.mark.parametrize("variant", VARIANTS)
def test_published_totals(variant: str) -> None:
    with torch.device("meta"):
        poser = Tha3Poser(Tha3Widths.published(separable=variant == "separable"))
    assert count(poser) == PUBLISHED_TOTALS[variant]


def test_bottlenecks_hold_most_weights() -> None:
    """Facts file: 26.09M of the face morpher and 28.32M of the rotator sit at the bottleneck."""
    with torch.device("meta"):
        morpher, rotator = FaceMorpher(), FaceBodyRotator()
    assert round(count(morpher.body.bottleneck) / 1e6, 2) == 26.09
    rotator_bottleneck = [m for m in rotator.body.body if m.__class__.__name__ == "ResBlock"]
    assert len(rotator_bottleneck) == 6
    assert round(sum(count(m) for m in rotator_bottleneck) / 1e6, 2) == 28.32


def test_downsample_activation_quirk() -> None:
    """Rotator and editor: LeakyReLU 0.1, but standard stride-2 blocks use plain ReLU."""
    for separable, expected in [(False, nn.ReLU), (True, nn.LeakyReLU)]:
        editor = Editor(tiny(EDITOR_WIDTH, "separable" if separable else "standard"))
        assert all(isinstance(d[-1], expected) for d in editor.body.downs)
        assert isinstance(editor.body.stem[-1], nn.LeakyReLU)
        assert editor.body.stem[-1].negative_slope == pytest.approx(0.1)
    assert all(
        not isinstance(m, nn.LeakyReLU) for m in FaceMorpher(tiny(FACE_MORPHER_WIDTH, "standard")).modules()
    )


@pytest.mark.parametrize("variant", VARIANTS)
def test_output_shapes(variant: str) -> None:
    torch.manual_seed(0)
    b = 2
    with torch.no_grad():
        dec = EyebrowDecomposer(tiny(EYEBROW_WIDTH, variant))(rand_image(b, 128))
        assert [tuple(t.shape) for t in dec] == [(b, 4, 128, 128), (b, 1, 128, 128), (b, 4, 128, 128)] * 2

        comb = EyebrowMorphingCombiner(tiny(EYEBROW_WIDTH, variant))(
            rand_image(b, 128), rand_image(b, 128), torch.rand(b, 12)
        )
        image, alpha, grid = (b, 4, 128, 128), (b, 1, 128, 128), (b, 2, 128, 128)
        assert [tuple(t.shape) for t in comb] == [image, alpha, image, image, alpha, image, image, grid]

        fm = FaceMorpher(tiny(FACE_MORPHER_WIDTH, variant))(rand_image(b, 192), torch.rand(b, 27))
        image, alpha = (b, 4, 192, 192), (b, 1, 192, 192)
        assert [tuple(t.shape) for t in fm] == [image, alpha, image, image, alpha, image, image]

        rot = FaceBodyRotator(tiny(ROTATOR_WIDTH, variant))(rand_image(b, 256), torch.rand(b, 6) * 2 - 1)
        assert [tuple(t.shape) for t in rot] == [(b, 4, 256, 256), (b, 4, 256, 256), (b, 2, 256, 256)]

        ed = Editor(tiny(EDITOR_WIDTH, variant))(
            rand_image(b, 512), rand_image(b, 512), torch.zeros(b, 2, 512, 512), torch.rand(b, 6)
        )
        assert [tuple(t.shape) for t in ed] == [(b, 4, 512, 512)] * 4 + [(b, 2, 512, 512)]
        assert all(bool(t.isfinite().all()) for t in [*dec, *comb, *fm, *rot, *ed])


def test_networks_take_any_multiple_of_eight() -> None:
    x = rand_image(1, 48)
    with torch.no_grad():
        assert FaceMorpher(tiny(FACE_MORPHER_WIDTH, "standard"))(x, torch.rand(1, 27)).image.shape == x.shape
        assert FaceBodyRotator(tiny(ROTATOR_WIDTH, "standard"))(x, torch.rand(1, 6)).warped.shape == x.shape


@pytest.mark.parametrize("variant", VARIANTS)
def test_untrained_networks_return_their_input(variant: str) -> None:
    """Flow heads start at zero and blend alphas keep the input: the bounds are STEP per blend."""
    torch.manual_seed(1)
    b = 2
    with torch.no_grad():
        crop = rand_image(b, 128)
        dec = EyebrowDecomposer(tiny(EYEBROW_WIDTH, variant))(crop)
        assert (dec.eyebrow_layer - crop).abs().max() <= STEP + EPS
        assert (dec.background - crop).abs().max() <= STEP + EPS

        # Eyebrow layer == background: warp (exact), one blend, then a convex RGB mix of the two.
        comb = EyebrowMorphingCombiner(tiny(EYEBROW_WIDTH, variant))(crop, crop, torch.rand(b, 12))
        assert torch.equal(comb.grid, torch.zeros_like(comb.grid))
        assert (comb.warped_layer - crop).abs().max() <= EPS
        assert (comb.image_no_combine_alpha - crop).abs().max() <= STEP + EPS

        face = rand_image(b, 192)
        fm = FaceMorpher(tiny(FACE_MORPHER_WIDTH, variant))(face, torch.rand(b, 27))
        assert (fm.warped - face).abs().max() <= EPS
        assert (fm.iris_mouth_image - face).abs().max() <= STEP + EPS
        assert (fm.image - face).abs().max() <= 2 * STEP + EPS  # two blends

        half = rand_image(b, 256)
        rot = FaceBodyRotator(tiny(ROTATOR_WIDTH, variant))(half, torch.rand(b, 6) * 2 - 1)
        assert torch.equal(rot.grid, torch.zeros_like(rot.grid))
        assert (rot.warped - half).abs().max() <= EPS

        full = rand_image(b, 512)
        editor = Editor(tiny(EDITOR_WIDTH, variant))
        ed = editor(full, rand_image(b, 512), torch.zeros(b, 2, 512, 512), torch.rand(b, 6))
        assert (ed.warped - full).abs().max() <= EPS
        assert (ed.image - full).abs().max() <= STEP + EPS
        # With a rotator grid coming in, the untrained editor applies exactly that grid.
        grid_in = (torch.rand(b, 2, 512, 512) - 0.5) * 0.1
        ed = editor(full, rand_image(b, 512), grid_in, torch.rand(b, 6))
        assert torch.equal(ed.grid, grid_in)
        assert torch.allclose(ed.warped, warp(full, grid_in), atol=EPS)


def test_zero_flow_heads_still_train() -> None:
    torch.manual_seed(2)
    rot = FaceBodyRotator(tiny(ROTATOR_WIDTH, "standard"))
    rot(rand_image(1, 64), torch.rand(1, 6)).warped.square().sum().backward()
    assert rot.grid.weight.grad is not None and rot.grid.weight.grad.abs().sum() > 0


def test_face_morpher_eye_blend_reads_a_detached_image() -> None:
    """A loss on the final image trains the eye heads and the body, never the iris/mouth heads."""
    torch.manual_seed(3)
    fm = FaceMorpher(tiny(FACE_MORPHER_WIDTH, "standard"))
    fm(rand_image(1, 64), torch.rand(1, 27)).image.square().sum().backward()
    for head in (fm.iris_mouth_alpha, fm.iris_mouth_colour, fm.iris_mouth_grid):
        assert all(p.grad is None for p in head.parameters())
    assert all(p.grad is not None for p in fm.eye_alpha.parameters())
    assert all(p.grad is not None for p in fm.body.parameters())


def test_poser_shapes_and_identity_at_tiny_width() -> None:
    torch.manual_seed(4)
    b = 2
    poser = Tha3Poser(Tha3Widths.published().scaled(DIVISOR))
    image, pose = rand_image(b, 512), torch.rand(b, POSE_SIZE)
    with torch.no_grad():
        out = poser(image, pose)
        again = poser(image, pose, decomposed=out.eyebrow_decomposer)
    assert out.image.shape == (b, 4, 512, 512)
    assert out.face_morphed.shape == (b, 4, 512, 512)
    assert out.face_morphed_half.shape == (b, 4, 256, 256)
    assert out.eyebrow_decomposer.background.shape == (b, 4, 128, 128)
    assert out.eyebrow_combiner.image_no_combine_alpha.shape == (b, 4, 128, 128)
    assert out.face_morpher.image.shape == (b, 4, 192, 192)
    assert out.rotator.grid.shape == (b, 2, 256, 256)
    assert out.editor.grid.shape == (b, 2, 512, 512)
    assert torch.equal(out.image, out.editor.image)
    flat = out.tha3_outputs()
    assert len(flat) == 29 and flat[0] is out.editor.image and flat[-1] is out.eyebrow_decomposer[-1]
    assert torch.equal(again.image, out.image)
    # Outside the face box only the editor blend touches the image; inside, the chain is
    # decomposer (1 blend) -> combiner (1 blend, then a convex mix) -> face morpher (2) -> editor (1).
    outside = torch.ones(1, 1, 512, 512, dtype=torch.bool)
    outside[:, :, FACE_BOX.top : FACE_BOX.top + 192, FACE_BOX.left : FACE_BOX.left + 192] = False
    err = (out.image - image).abs()
    assert err.max() <= 5 * STEP + EPS
    assert err.masked_select(outside.expand_as(err)).max() <= STEP + EPS


def test_poser_rejects_wrong_shapes() -> None:
    poser = Tha3Poser(Tha3Widths.published().scaled(DIVISOR))
    with pytest.raises(ValueError, match="512"):
        poser(rand_image(1, 256), torch.rand(1, POSE_SIZE))
    with pytest.raises(ValueError, match="45"):
        poser(rand_image(1, 512), torch.rand(1, 44))


def test_pose_layout() -> None:
    assert POSE_SIZE == len(POSE_PARAMETER_NAMES) == 45 == len(set(POSE_PARAMETER_NAMES))
    assert (EYEBROW_POSE, FACE_POSE, ROTATION_POSE) == (slice(0, 12), slice(12, 39), slice(39, 45))
    assert list(POSE_SLICES.values()) == [EYEBROW_POSE, FACE_POSE, ROTATION_POSE]
    names = POSE_PARAMETER_NAMES
    assert names[0:2] == ("eyebrow_troubled_left", "eyebrow_troubled_right")
    assert names[10:14] == (
        "eyebrow_serious_left",
        "eyebrow_serious_right",
        "eye_wink_left",
        "eye_wink_right",
    )
    assert names[23:27] == (
        "eye_raised_lower_eyelid_right",
        "iris_small_left",
        "iris_small_right",
        "mouth_aaa",
    )
    assert names[31:37] == (
        "mouth_delta",
        "mouth_lowered_corner_left",
        "mouth_lowered_corner_right",
        "mouth_raised_corner_left",
        "mouth_raised_corner_right",
        "mouth_smirk",
    )
    assert names[SIGNED_POSE] == (
        "iris_rotation_x",
        "iris_rotation_y",
        "head_x",
        "head_y",
        "neck_z",
        "body_y",
        "body_z",
    )
    assert names[ROTATION_POSE] == ("head_x", "head_y", "neck_z", "body_y", "body_z", "breathing")


def test_crop_boxes() -> None:
    assert EYEBROW_BOX == (64, 192, 128) and FACE_BOX == (32, 160, 192)
    # The head box is centred in the top half; the face box shares its centre.
    assert EYEBROW_BOX.top + 64 == 128 and EYEBROW_BOX.left + 64 == 256
    assert FACE_BOX.top + 96 == 128 and FACE_BOX.left + 96 == 256
    assert EYEBROW_IN_FACE_BOX == (EYEBROW_BOX.top - FACE_BOX.top, EYEBROW_BOX.left - FACE_BOX.left, 128)
    x = torch.arange(512.0).expand(1, 1, 512, 512)
    assert torch.equal(EYEBROW_IN_FACE_BOX.crop(FACE_BOX.crop(x)), EYEBROW_BOX.crop(x))


def test_widths() -> None:
    w = Tha3Widths.published().scaled(DIVISOR)
    assert [w.face_morpher.channels(i) for i in range(4)] == [4, 8, 16, 32]
    assert [w.editor.channels(i) for i in range(4)] == [2, 4, 8, 16]
    assert Tha3Widths.published(separable=True).rotator.separable
    with pytest.raises(ValueError):
        EDITOR_WIDTH.scaled(64)
