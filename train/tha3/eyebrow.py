"""THA3's two eyebrow networks, which work on the 128x128 head crop.

Eyebrows are drawn over the hair and can be hidden behind it, so THA3 does not morph them in
place: the *decomposer* splits the crop into an eyebrow layer and a background without
eyebrows, and the *morphing combiner* warps and recolours the eyebrow layer by the 12 eyebrow
pose values and lays it back over the background. Both use the pose-conditioned
`EncoderDecoder` at 64 channels (512 at the 16x16 bottleneck).

Untrained, the decomposer returns the crop as both layers and the combiner's index-2 output is
the crop again, so the poser starts from the identity.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from thagen.train.tha3.blocks import (
    IMAGE_CHANNELS,
    INITIAL_BLEND_ALPHA,
    EncoderDecoder,
    NetWidth,
    alpha_head,
    blend,
    blend_rgb,
    colour_head,
    grid_head,
    warp,
)

EYEBROW_POSE = slice(0, 12)  # eyebrow troubled/angry/lowered/raised/happy/serious, left & right
EYEBROW_POSE_PARAMS = EYEBROW_POSE.stop - EYEBROW_POSE.start
EYEBROW_IMAGE_SIZE = 128
EYEBROW_WIDTH = NetWidth(start_channels=64)  # 64 @128 -> 512 @16


class EyebrowDecomposerOutput(NamedTuple):
    """The decomposer's six outputs, in THA3's order."""

    eyebrow_layer: torch.Tensor  # 0: alpha * image + (1 - alpha) * colour
    eyebrow_alpha: torch.Tensor  # 1: (B, 1, H, W)
    eyebrow_colour: torch.Tensor  # 2
    background: torch.Tensor  # 3: alpha' * colour' + (1 - alpha') * image
    background_alpha: torch.Tensor  # 4: (B, 1, H, W)
    background_colour: torch.Tensor  # 5


class EyebrowDecomposer(nn.Module):
    """Head crop (B, 4, 128, 128) -> eyebrow layer and eyebrow-less background; no pose."""

    def __init__(self, width: NetWidth = EYEBROW_WIDTH) -> None:
        super().__init__()
        self.width = width
        c = width.start_channels
        self.body = EncoderDecoder(IMAGE_CHANNELS, 0, width)
        # The eyebrow layer's alpha weighs the *image* (THA3's formula), so keeping the input
        # means starting near 1 here but near 0 for the background's alpha.
        self.eyebrow_alpha = alpha_head(c, initial=1.0 - INITIAL_BLEND_ALPHA)
        self.eyebrow_colour = colour_head(c)
        self.background_alpha = alpha_head(c)
        self.background_colour = colour_head(c)

    def forward(self, image: torch.Tensor) -> EyebrowDecomposerOutput:
        f = self.body(image)
        eyebrow_alpha, eyebrow_colour = self.eyebrow_alpha(f), self.eyebrow_colour(f)
        background_alpha, background_colour = self.background_alpha(f), self.background_colour(f)
        return EyebrowDecomposerOutput(
            eyebrow_layer=blend(eyebrow_alpha, image, eyebrow_colour),
            eyebrow_alpha=eyebrow_alpha,
            eyebrow_colour=eyebrow_colour,
            background=blend(background_alpha, background_colour, image),
            background_alpha=background_alpha,
            background_colour=background_colour,
        )


class EyebrowCombinerOutput(NamedTuple):
    """The morphing combiner's eight outputs, in THA3's order (the poser uses index 2)."""

    image: torch.Tensor  # 0: morphed layer's RGB over the background by `combine_alpha`
    combine_alpha: torch.Tensor  # 1: (B, 1, H, W)
    image_no_combine_alpha: torch.Tensor  # 2: same, by the morphed layer's own alpha channel
    morphed_layer: torch.Tensor  # 3: blend(layer_alpha, layer_colour, warped_layer)
    layer_alpha: torch.Tensor  # 4: (B, 1, H, W)
    layer_colour: torch.Tensor  # 5
    warped_layer: torch.Tensor  # 6
    grid: torch.Tensor  # 7: (B, 2, H, W) flow offset


class EyebrowMorphingCombiner(nn.Module):
    """(background, eyebrow layer, 12 eyebrow values) -> the crop with the eyebrows morphed.

    The 8-channel input is background then eyebrow layer; the pose joins at the bottleneck
    (512 + 12 -> 512 in THA3). The eyebrow layer is warped, colour-blended, and its RGB laid over
    the background; the alpha channel of the result is always the background's.
    """

    def __init__(self, width: NetWidth = EYEBROW_WIDTH) -> None:
        super().__init__()
        self.width = width
        c = width.start_channels
        self.body = EncoderDecoder(2 * IMAGE_CHANNELS, EYEBROW_POSE_PARAMS, width)
        self.grid = grid_head(c)
        self.layer_alpha = alpha_head(c)
        self.layer_colour = colour_head(c)
        # No blend here has an identity to start from (the right mix is the layer's own alpha,
        # which varies per pixel), so this one starts neutral: 0.5 everywhere.
        self.combine_alpha = alpha_head(c, initial=0.5)

    def forward(
        self, background: torch.Tensor, eyebrow_layer: torch.Tensor, pose: torch.Tensor
    ) -> EyebrowCombinerOutput:
        f = self.body(torch.cat([background, eyebrow_layer], dim=1), pose)
        grid = self.grid(f)
        layer_alpha, layer_colour = self.layer_alpha(f), self.layer_colour(f)
        warped_layer = warp(eyebrow_layer, grid)
        morphed_layer = blend(layer_alpha, layer_colour, warped_layer)
        combine_alpha = self.combine_alpha(f)
        own_alpha = (morphed_layer[:, 3:4] + 1.0) / 2.0
        return EyebrowCombinerOutput(
            image=blend_rgb(combine_alpha, morphed_layer, background),
            combine_alpha=combine_alpha,
            image_no_combine_alpha=blend_rgb(own_alpha, morphed_layer, background),
            morphed_layer=morphed_layer,
            layer_alpha=layer_alpha,
            layer_colour=layer_colour,
            warped_layer=warped_layer,
            grid=grid,
        )
