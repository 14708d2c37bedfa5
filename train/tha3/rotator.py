"""THA3's two-algorithm face-body rotator, run at half resolution (256x256).

It turns head, neck and body and adds breathing (the 6 rotation values) in two ways at once: a
directly generated image and an appearance-flow warp of the input. The poser keeps only the
warp and its grid, which the editor then refines at full resolution; the direct image is an
auxiliary output (a training signal) that THA3's poser never uses.

Body: a resize-convolution encoder-decoder without skips (conv7 10 -> 64 @256, three 4x4
stride-2 downsamplings to 512 @32, six ResNet blocks, three nearest x2 + conv3 blocks back to
64 @256); LeakyReLU 0.1, except that THA3's standard variant builds its stride-2 downsample
blocks with plain ReLU (its block factory passes them no activation) while the separable variant
gives them LeakyReLU too.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from thagen.train.tha3.blocks import (
    DOWNSAMPLINGS,
    IMAGE_CHANNELS,
    Activation,
    NetWidth,
    ResBlock,
    colour_head,
    conv_block,
    down_block,
    grid_head,
    he_init,
    leaky_relu,
    relu,
    resize_up_block,
    tile_pose,
    warp,
)

# head_x, head_y, neck_z, body_y, body_z, breathing (the editor reads the same six)
ROTATION_POSE = slice(39, 45)
ROTATION_POSE_PARAMS = ROTATION_POSE.stop - ROTATION_POSE.start
ROTATOR_IMAGE_SIZE = 256
ROTATOR_WIDTH = NetWidth(start_channels=64)  # 64 @256 -> 512 @32


def downsample_activation(width: NetWidth) -> Activation:
    """THA3's quirk for the rotator and the editor: ReLU when standard, LeakyReLU when separable."""
    return leaky_relu if width.separable else relu


class ResizeConvEncoderDecoder(nn.Module):
    """conv7 stem, stride-2 downsamplings, ResNet bottleneck, resize-conv decoder; no skips."""

    def __init__(self, in_channels: int, width: NetWidth) -> None:
        super().__init__()
        sep, down_act = width.separable, downsample_activation(width)
        c = width.channels(DOWNSAMPLINGS)
        self.body = nn.Sequential(
            conv_block(in_channels, width.channels(0), 7, leaky_relu, separable=sep),
            *[
                down_block(width.channels(i), width.channels(i + 1), down_act, separable=sep)
                for i in range(DOWNSAMPLINGS)
            ],
            *[ResBlock(c, leaky_relu, separable=sep) for _ in range(width.bottleneck_blocks)],
            *[
                resize_up_block(width.channels(i), width.channels(i - 1), leaky_relu, separable=sep)
                for i in range(DOWNSAMPLINGS, 0, -1)
            ],
        )
        he_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class RotatorOutput(NamedTuple):
    """The rotator's three outputs, in THA3's order (the poser uses 1 and 2)."""

    direct_image: torch.Tensor  # 0: conv3 + Tanh
    warped: torch.Tensor  # 1: the input warped by `grid`
    grid: torch.Tensor  # 2: (B, 2, H, W) flow offset in normalised coordinates


class FaceBodyRotator(nn.Module):
    """Face-morphed image at 256 (B, 4, 256, 256) + 6 rotation values -> direct and warped images."""

    def __init__(self, width: NetWidth = ROTATOR_WIDTH) -> None:
        super().__init__()
        self.width = width
        self.body = ResizeConvEncoderDecoder(IMAGE_CHANNELS + ROTATION_POSE_PARAMS, width)
        self.direct = colour_head(width.start_channels)
        self.grid = grid_head(width.start_channels)

    def forward(self, image: torch.Tensor, pose: torch.Tensor) -> RotatorOutput:
        if pose.shape[1] != ROTATION_POSE_PARAMS:
            raise ValueError(f"expected a (B, {ROTATION_POSE_PARAMS}) pose, got {tuple(pose.shape)}")
        h, w = image.shape[2], image.shape[3]
        f = self.body(torch.cat([image, tile_pose(pose.to(image.dtype), h, w)], dim=1))
        grid = self.grid(f)
        return RotatorOutput(direct_image=self.direct(f), warped=warp(image, grid), grid=grid)
