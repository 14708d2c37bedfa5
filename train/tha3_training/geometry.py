"""THA3's crops at any image size, and the five-step poser run with them.

`Tha3Poser` is fixed at 512x512, THA3's size. A tiny CPU config cannot afford 512, so every box
is scaled by `size / 512` (the head box 128 -> size/4, the face box 192 -> 3*size/8, the rotator
at size/2). The networks take any multiple of 8, so the chain is the same at every size; sizes
must be multiples of 64 for every box to land on whole pixels and be a multiple of 8. At 512 the
boxes are THA3's own and `run_poser` computes exactly what `Tha3Poser.forward` does (a test
checks).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from thagen.errors import ConfigError
from thagen.train.tha3 import (
    EYEBROW_BOX,
    EYEBROW_IN_FACE_BOX,
    FACE_BOX,
    Box,
    EyebrowDecomposerOutput,
    Tha3PoserOutput,
)
from thagen.train.tha3.poser import run_stages

THA3_SIZE = 512


def _scaled(box: Box, size: int) -> Box:
    return Box(box.top * size // THA3_SIZE, box.left * size // THA3_SIZE, box.size * size // THA3_SIZE)


@dataclass(frozen=True)
class Tha3Geometry:
    """THA3's boxes scaled to `size` (a multiple of 64; 512 gives THA3's own)."""

    size: int

    def __post_init__(self) -> None:
        if self.size < 64 or self.size % 64:
            raise ConfigError(
                f"key 'image_size': THA3's crops need a multiple of 64 (512 is THA3's size), got {self.size}"
            )

    @property
    def eyebrow_box(self) -> Box:
        return _scaled(EYEBROW_BOX, self.size)

    @property
    def face_box(self) -> Box:
        return _scaled(FACE_BOX, self.size)

    @property
    def eyebrow_in_face_box(self) -> Box:
        return _scaled(EYEBROW_IN_FACE_BOX, self.size)

    @property
    def half(self) -> int:
        return self.size // 2

    def to_half(self, image: torch.Tensor) -> torch.Tensor:
        """THA3's resize for the rotator: bilinear, align_corners=False."""
        return F.interpolate(image, size=(self.half, self.half), mode="bilinear", align_corners=False)

    def to_full(self, image: torch.Tensor) -> torch.Tensor:
        """THA3's upsampling of the rotator's warp and grid (grid offsets are normalised)."""
        return F.interpolate(image, size=(self.size, self.size), mode="bilinear", align_corners=False)


def identity_decomposition(crop: torch.Tensor) -> EyebrowDecomposerOutput:
    """What an untrained decomposer returns: the crop as both the eyebrow layer and background.

    Used when no decomposer could be trained (shards without the eyebrow-layer images): the
    combiner then learns to morph eyebrows on the crop itself.
    """
    ones = torch.ones_like(crop[:, :1])
    return EyebrowDecomposerOutput(crop, ones, crop, crop, torch.zeros_like(ones), crop)


def run_poser(
    networks: dict[str, nn.Module],
    geometry: Tha3Geometry,
    image: torch.Tensor,
    pose: torch.Tensor,
    decomposed: EyebrowDecomposerOutput | None = None,
) -> Tha3PoserOutput:
    """THA3's five steps (see `thagen.train.tha3.poser`) at `geometry`'s size.

    `networks` holds the five by THA3's names; without `eyebrow_decomposer` (and no
    `decomposed`) the eyebrow crop goes to the combiner as `identity_decomposition`.
    """
    b, s = image.shape[0], geometry.size
    if image.shape != (b, 4, s, s):
        raise ValueError(f"expected a (B, 4, {s}, {s}) image, got {tuple(image.shape)}")
    if decomposed is None:
        crop = geometry.eyebrow_box.crop(image)
        decomposer = networks.get("eyebrow_decomposer")
        decomposed = decomposer(crop) if decomposer is not None else identity_decomposition(crop)
    return run_stages(networks, geometry, image, pose, decomposed)
