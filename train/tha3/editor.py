"""THA3's editor: the last step, at full resolution (512x512).

The rotator warps a half-resolution copy, which blurs; the editor sees the full-resolution
face-morphed image, the rotator's warp and grid upsampled to 512, and the 6 rotation values,
and it corrects the grid (grid = rotator grid + its own offset), warps the *full-resolution*
image with it, then repaints what a warp cannot produce (disoccluded regions) with a colour
blend whose alpha has one channel per image channel.

Body: a resize-convolution U-Net (conv3 16 -> 32 @512, three 4x4 stride-2 downsamplings to
256 @64, six ResNet blocks, then nearest x2 + skip concat + conv3: 384 -> 128, 192 -> 64,
96 -> 32). Activations as in the rotator.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from thagen.train.tha3.blocks import (
    DOWNSAMPLINGS,
    GRID_CHANNELS,
    IMAGE_CHANNELS,
    NetWidth,
    ResBlock,
    alpha_head,
    blend,
    colour_head,
    conv_block,
    down_block,
    grid_head,
    he_init,
    leaky_relu,
    tile_pose,
    warp,
)
from thagen.train.tha3.rotator import ROTATION_POSE_PARAMS, downsample_activation

EDITOR_IMAGE_SIZE = 512
EDITOR_WIDTH = NetWidth(start_channels=32)  # 32 @512 -> 256 @64
EDITOR_IN_CHANNELS = 2 * IMAGE_CHANNELS + GRID_CHANNELS + ROTATION_POSE_PARAMS  # 16


class ResizeConvUNet(nn.Module):
    """conv3 stem, stride-2 downsamplings, ResNet bottleneck, then nearest x2 + skip + conv3."""

    def __init__(self, in_channels: int, width: NetWidth) -> None:
        super().__init__()
        sep, down_act = width.separable, downsample_activation(width)
        self.stem = conv_block(in_channels, width.channels(0), 3, leaky_relu, separable=sep)
        self.downs = nn.ModuleList(
            [
                down_block(width.channels(i), width.channels(i + 1), down_act, separable=sep)
                for i in range(DOWNSAMPLINGS)
            ]
        )
        c = width.channels(DOWNSAMPLINGS)
        self.bottleneck = nn.Sequential(
            *[ResBlock(c, leaky_relu, separable=sep) for _ in range(width.bottleneck_blocks)]
        )
        # ups[j] brings level DOWNSAMPLINGS - j to the next size up, joined with that size's skip.
        self.ups = nn.ModuleList(
            [
                conv_block(
                    width.channels(i) + width.channels(i - 1),
                    width.channels(i - 1),
                    3,
                    leaky_relu,
                    separable=sep,
                )
                for i in range(DOWNSAMPLINGS, 0, -1)
            ]
        )
        he_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = [self.stem(x)]
        for down in self.downs:
            skips.append(down(skips[-1]))
        feature = self.bottleneck(skips.pop())
        for up in self.ups:
            feature = F.interpolate(feature, scale_factor=2.0, mode="nearest")
            feature = up(torch.cat([feature, skips.pop()], dim=1))
        return feature


class EditorOutput(NamedTuple):
    """The editor's five outputs, in THA3's order (index 0 is the poser's final frame)."""

    image: torch.Tensor  # 0: blend(alpha, colour, warped)
    alpha: torch.Tensor  # 1: (B, 4, H, W)
    colour: torch.Tensor  # 2
    warped: torch.Tensor  # 3: the original image warped by `grid`
    grid: torch.Tensor  # 4: rotator grid + the editor's offset


class Editor(nn.Module):
    """(full-res image, upsampled rotator warp and grid, 6 rotation values) -> the final frame."""

    def __init__(self, width: NetWidth = EDITOR_WIDTH) -> None:
        super().__init__()
        self.width = width
        c = width.start_channels
        self.body = ResizeConvUNet(EDITOR_IN_CHANNELS, width)
        self.colour = colour_head(c)
        self.alpha = alpha_head(c, IMAGE_CHANNELS)
        self.grid = grid_head(c)

    def forward(
        self, original: torch.Tensor, warped: torch.Tensor, grid: torch.Tensor, pose: torch.Tensor
    ) -> EditorOutput:
        if pose.shape[1] != ROTATION_POSE_PARAMS:
            raise ValueError(f"expected a (B, {ROTATION_POSE_PARAMS}) pose, got {tuple(pose.shape)}")
        h, w = original.shape[2], original.shape[3]
        f = self.body(torch.cat([original, warped, grid, tile_pose(pose.to(original.dtype), h, w)], dim=1))
        out_grid = grid + self.grid(f)
        out_warped = warp(original, out_grid)
        alpha, colour = self.alpha(f), self.colour(f)
        return EditorOutput(
            image=blend(alpha, colour, out_warped),
            alpha=alpha,
            colour=colour,
            warped=out_warped,
            grid=out_grid,
        )
