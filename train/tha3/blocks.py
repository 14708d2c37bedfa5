"""Layers shared by THA3's five networks, and the one encoder-decoder three of them use.

Everything here follows THA3's published layer facts (see the facts file the issue cites):
convolutions without bias, each followed by an affine InstanceNorm (no running statistics) and
an activation, He-initialised; 4x4 stride-2 convolutions halve the size; ResNet blocks add
conv3-IN-act-conv3-IN to their input. The *separable* variant replaces every body convolution
(the transposed ones too) by a depthwise kxk plus a pointwise 1x1 convolution; heads stay dense.

All five networks go down exactly three times (128->16, 192->24, 256->32, 512->64), so any input
whose sides are multiples of 8 works; the pose is tiled to whatever size the feature has.

Initialisation is chosen so that an untrained network hands back (nearly) its input: flow
heads start at zero, as THA3's do, and blend-alpha heads start with zero weights and a bias that
makes every blend keep the input (THA3 itself leaves those at PyTorch's defaults). With
`INITIAL_BLEND_ALPHA = 0.01` each blend moves a pixel by at most 2 * 0.01 (colours are in [-1, 1]).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

IMAGE_CHANNELS = 4  # RGBA in [-1, 1]
GRID_CHANNELS = 2  # appearance-flow offset (x, y) in normalised grid units
DOWNSAMPLINGS = 3  # every THA3 network: full size -> 1/8 at the bottleneck

# How much of the network's own colour each blend takes before training (see module docstring).
INITIAL_BLEND_ALPHA = 0.01

Activation = Callable[[], nn.Module]


def relu() -> nn.Module:
    """THA3's default activation (the eyebrow networks, the face morpher, some downsamplings)."""
    return nn.ReLU(inplace=True)


def leaky_relu() -> nn.Module:
    """The rotator's and the editor's activation: LeakyReLU with slope 0.1."""
    return nn.LeakyReLU(negative_slope=0.1, inplace=True)


@dataclass(frozen=True)
class NetWidth:
    """Channel configuration of one network.

    `start_channels` at full resolution, doubling at every downsampling up to `max_channels`.
    `bottleneck_blocks` counts every block at the bottleneck, as THA3's arguments do (for the
    pose-conditioned encoder-decoder the first of them is the plain conv block that takes the
    pose; the rest are ResNet blocks). `separable` selects THA3's separable-convolution variant.
    """

    start_channels: int
    max_channels: int = 512
    bottleneck_blocks: int = 6
    separable: bool = False

    def __post_init__(self) -> None:
        if self.start_channels < 1 or self.max_channels < self.start_channels:
            raise ValueError(f"bad channel counts: {self}")
        if self.bottleneck_blocks < 1:
            raise ValueError(f"need at least one bottleneck block: {self}")

    def channels(self, level: int) -> int:
        """Channels after `level` downsamplings (level 0 = full resolution)."""
        return min(self.start_channels * 2**level, self.max_channels)

    def scaled(self, divisor: int) -> NetWidth:
        """The same network with every channel count divided by `divisor` (for cheap tests)."""
        if self.start_channels % divisor or self.max_channels % divisor:
            raise ValueError(f"{self} is not divisible by {divisor}")
        return replace(
            self, start_channels=self.start_channels // divisor, max_channels=self.max_channels // divisor
        )

    def variant(self, separable: bool) -> NetWidth:
        return replace(self, separable=separable)


def conv(cin: int, cout: int, kernel: int, *, stride: int = 1, separable: bool = False) -> nn.Module:
    """A bias-free body convolution that keeps the size (stride 1) or halves it (4x4, stride 2)."""
    padding = (kernel - stride) // 2  # 3 -> 1, 7 -> 3, 4 (stride 2) -> 1
    if not separable:
        return nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, bias=False)
    return nn.Sequential(
        nn.Conv2d(cin, cin, kernel, stride=stride, padding=padding, groups=cin, bias=False),
        nn.Conv2d(cin, cout, 1, bias=False),
    )


def conv_block(
    cin: int, cout: int, kernel: int, act: Activation, *, stride: int = 1, separable: bool = False
) -> nn.Sequential:
    """conv (no bias) -> affine InstanceNorm -> activation."""
    return nn.Sequential(
        conv(cin, cout, kernel, stride=stride, separable=separable),
        nn.InstanceNorm2d(cout, affine=True),
        act(),
    )


def down_block(cin: int, cout: int, act: Activation, *, separable: bool = False) -> nn.Sequential:
    """Halve the size: 4x4 stride-2 conv block."""
    return conv_block(cin, cout, 4, act, stride=2, separable=separable)


def transposed_up_block(cin: int, cout: int, act: Activation, *, separable: bool = False) -> nn.Sequential:
    """Double the size with a 4x4 stride-2 transposed conv (the eyebrow nets, the face morpher)."""
    layers: list[nn.Module]
    if separable:
        layers = [
            nn.ConvTranspose2d(cin, cin, 4, stride=2, padding=1, groups=cin, bias=False),
            nn.Conv2d(cin, cout, 1, bias=False),
        ]
    else:
        layers = [nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1, bias=False)]
    return nn.Sequential(*layers, nn.InstanceNorm2d(cout, affine=True), act())


def resize_up_block(cin: int, cout: int, act: Activation, *, separable: bool = False) -> nn.Sequential:
    """Double the size by nearest-neighbour resizing, then a conv3 block (the rotator's decoder)."""
    return nn.Sequential(
        nn.Upsample(scale_factor=2, mode="nearest"), conv_block(cin, cout, 3, act, separable=separable)
    )


class ResBlock(nn.Module):
    """x + (conv3 -> IN -> act -> conv3 -> IN); no activation after the sum."""

    def __init__(self, channels: int, act: Activation, *, separable: bool = False) -> None:
        super().__init__()
        self.body = nn.Sequential(
            conv(channels, channels, 3, separable=separable),
            nn.InstanceNorm2d(channels, affine=True),
            act(),
            conv(channels, channels, 3, separable=separable),
            nn.InstanceNorm2d(channels, affine=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def he_init(module: nn.Module) -> nn.Module:
    """He-normal weights for every convolution inside `module` (THA3's 'he'); biases untouched."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
            nn.init.kaiming_normal_(m.weight)
    return module


def colour_head(cin: int, cout: int = IMAGE_CHANNELS) -> nn.Sequential:
    """Dense conv3 (with bias) -> Tanh: a full-colour image in [-1, 1]."""
    return nn.Sequential(he_init(nn.Conv2d(cin, cout, 3, padding=1, bias=True)), nn.Tanh())


def alpha_head(cin: int, cout: int = 1, *, initial: float = INITIAL_BLEND_ALPHA) -> nn.Sequential:
    """Dense conv3 (with bias) -> Sigmoid, starting at the constant `initial` everywhere.

    Zero weights plus the bias logit(initial) make the untrained blend keep its input; the
    weights still receive gradients (the features are not zero), so the head trains normally.
    """
    if not 0.0 < initial < 1.0:
        raise ValueError(f"a sigmoid cannot start at {initial}")
    layer = nn.Conv2d(cin, cout, 3, padding=1, bias=True)
    assert layer.bias is not None
    nn.init.zeros_(layer.weight)
    nn.init.constant_(layer.bias, math.log(initial / (1.0 - initial)))
    return nn.Sequential(layer, nn.Sigmoid())


def grid_head(cin: int) -> nn.Conv2d:
    """Dense bias-free conv3 giving a 2-channel flow offset; zero-initialised as in THA3."""
    layer = nn.Conv2d(cin, GRID_CHANNELS, 3, padding=1, bias=False)
    nn.init.zeros_(layer.weight)
    return layer


def tile_pose(pose: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(B, k) pose -> (B, k, height, width) constant channels."""
    return pose[:, :, None, None].expand(-1, -1, height, width)


def warp(image: torch.Tensor, grid_change: torch.Tensor) -> torch.Tensor:
    """Resample `image` at the identity grid plus a (B, 2, H, W) offset in normalised coordinates.

    `affine_grid` identity, bilinear `grid_sample`, `border` padding, `align_corners=False`: with
    a zero offset every sample lands on a pixel centre, so the image comes back unchanged.
    """
    n, c, h, w = image.shape
    identity = torch.eye(2, 3, dtype=grid_change.dtype, device=grid_change.device).expand(n, 2, 3)
    grid = F.affine_grid(identity, [n, c, h, w], align_corners=False) + grid_change.permute(0, 2, 3, 1)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=False)


def blend(alpha: torch.Tensor, colour: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """alpha * colour + (1 - alpha) * image: alpha is how much of `colour` replaces `image`."""
    return alpha * colour + (1 - alpha) * image


def blend_rgb(alpha: torch.Tensor, top: torch.Tensor, bottom: torch.Tensor) -> torch.Tensor:
    """Blend only the RGB of `top` over `bottom`; the result keeps `bottom`'s alpha channel."""
    rgb = alpha * top[:, :3] + (1 - alpha) * bottom[:, :3]
    return torch.cat([rgb, bottom[:, 3:4]], dim=1)


class EncoderDecoder(nn.Module):
    """The body of the eyebrow decomposer, the eyebrow combiner and the face morpher.

    conv3 block (in -> start) at full size; three 4x4 stride-2 downsamplings; at the bottleneck
    the pose (if any) is tiled and concatenated, one conv3 block maps back to the bottleneck
    width, then `bottleneck_blocks - 1` ResNet blocks; three 4x4 transposed convs back to
    `start_channels` at full size. No skips; ReLU throughout. Returns the full-size feature.
    """

    def __init__(self, in_channels: int, pose_params: int, width: NetWidth) -> None:
        super().__init__()
        sep = width.separable
        self.pose_params = pose_params
        self.down = nn.Sequential(
            conv_block(in_channels, width.channels(0), 3, relu, separable=sep),
            *[
                down_block(width.channels(i), width.channels(i + 1), relu, separable=sep)
                for i in range(DOWNSAMPLINGS)
            ],
        )
        c = width.channels(DOWNSAMPLINGS)
        self.bottleneck = nn.Sequential(
            conv_block(c + pose_params, c, 3, relu, separable=sep),
            *[ResBlock(c, relu, separable=sep) for _ in range(width.bottleneck_blocks - 1)],
        )
        self.up = nn.Sequential(
            *[
                transposed_up_block(width.channels(i), width.channels(i - 1), relu, separable=sep)
                for i in range(DOWNSAMPLINGS, 0, -1)
            ]
        )
        he_init(self)

    def forward(self, image: torch.Tensor, pose: torch.Tensor | None = None) -> torch.Tensor:
        feature = self.down(image)
        if self.pose_params:
            if pose is None or pose.shape[1] != self.pose_params:
                raise ValueError(f"expected a (B, {self.pose_params}) pose")
            h, w = feature.shape[2], feature.shape[3]
            feature = torch.cat([feature, tile_pose(pose.to(feature.dtype), h, w)], dim=1)
        elif pose is not None:
            raise ValueError("this network takes no pose")
        return self.up(self.bottleneck(feature))
