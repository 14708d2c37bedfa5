"""THA3's face morpher: eyes, irises and mouth on the 192x192 face crop.

Irises and mouth mostly *move* (irises rotate, the jaw opens), so they get a flow warp followed
by a colour blend; eyelids mostly *cover*, so the eyes get a second colour blend on top. The
second blend reads the first result through `.detach()`, exactly as THA3 does: the eye heads
cannot push gradients back into the iris/mouth heads, so each pair of heads learns its own job.

Body: the pose-conditioned `EncoderDecoder` (64 @192 -> 512 @24, 27 face values tiled 24x24
at the bottleneck, 539 -> 512). Standard and separable variants share this class.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from thagen.train.tha3.blocks import (
    IMAGE_CHANNELS,
    EncoderDecoder,
    NetWidth,
    alpha_head,
    blend,
    colour_head,
    grid_head,
    warp,
)

# eye (12), iris_small (2), mouth (11), iris_rotation_x/y (2)
FACE_POSE = slice(12, 39)
FACE_POSE_PARAMS = FACE_POSE.stop - FACE_POSE.start
FACE_IMAGE_SIZE = 192
FACE_MORPHER_WIDTH = NetWidth(start_channels=64)  # 64 @192 -> 512 @24


class FaceMorpherOutput(NamedTuple):
    """The face morpher's seven outputs, in THA3's order."""

    image: torch.Tensor  # 0: blend(eye_alpha, eye_colour, iris_mouth_image.detach())
    eye_alpha: torch.Tensor  # 1: (B, 1, H, W)
    eye_colour: torch.Tensor  # 2
    iris_mouth_image: torch.Tensor  # 3: blend(iris_mouth_alpha, iris_mouth_colour, warped)
    iris_mouth_alpha: torch.Tensor  # 4: (B, 1, H, W)
    iris_mouth_colour: torch.Tensor  # 5
    warped: torch.Tensor  # 6: the input warped by the iris/mouth flow


class FaceMorpher(nn.Module):
    """Face crop (B, 4, 192, 192) + 27 face values -> the crop with that expression."""

    def __init__(self, width: NetWidth = FACE_MORPHER_WIDTH) -> None:
        super().__init__()
        self.width = width
        c = width.start_channels
        self.body = EncoderDecoder(IMAGE_CHANNELS, FACE_POSE_PARAMS, width)
        self.iris_mouth_grid = grid_head(c)
        self.iris_mouth_colour = colour_head(c)
        self.iris_mouth_alpha = alpha_head(c)
        self.eye_colour = colour_head(c)
        self.eye_alpha = alpha_head(c)

    def forward(self, image: torch.Tensor, pose: torch.Tensor) -> FaceMorpherOutput:
        f = self.body(image, pose)
        warped = warp(image, self.iris_mouth_grid(f))
        iris_mouth_alpha, iris_mouth_colour = self.iris_mouth_alpha(f), self.iris_mouth_colour(f)
        iris_mouth_image = blend(iris_mouth_alpha, iris_mouth_colour, warped)
        eye_alpha, eye_colour = self.eye_alpha(f), self.eye_colour(f)
        return FaceMorpherOutput(
            image=blend(eye_alpha, eye_colour, iris_mouth_image.detach()),
            eye_alpha=eye_alpha,
            eye_colour=eye_colour,
            iris_mouth_image=iris_mouth_image,
            iris_mouth_alpha=iris_mouth_alpha,
            iris_mouth_colour=iris_mouth_colour,
            warped=warped,
        )
