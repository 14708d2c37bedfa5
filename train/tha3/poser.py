"""THA3's five-step poser: one 512x512 RGBA image + a 45-value pose -> the posed frame.

The steps, crops and resizes are THA3's (`FiveStepPoserComputationProtocol`):

1. eyebrow decomposer on the 128x128 head box `[64:192, 192:320]`;
2. eyebrow morphing combiner on (background, eyebrow layer, pose[0:12]); its index-2 image;
3. face morpher on the 192x192 box `[32:224, 160:352]` with step 2 pasted at `[32:160, 32:160]`,
   and pose[12:39];
4. its image pasted back into a copy of the 512 input;
5. bilinear resize to 256 (`align_corners=False`) -> rotator with pose[39:45];
6. rotator warp and grid bilinearly upsampled to 512 (grid offsets are normalised coordinates,
   so they need no rescaling) -> editor with pose[39:45]; its image is the final frame.

THA3 caches step 1 while the input image is unchanged; here a caller that poses one image many
times can pass the decomposer's output back in (`decomposed=`) instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import NamedTuple, Protocol

import torch
from torch import nn
from torch.nn import functional as F

from thagen.train.tha3.blocks import IMAGE_CHANNELS, NetWidth
from thagen.train.tha3.editor import EDITOR_IMAGE_SIZE, EDITOR_WIDTH, Editor, EditorOutput
from thagen.train.tha3.eyebrow import (
    EYEBROW_POSE,
    EYEBROW_WIDTH,
    EyebrowCombinerOutput,
    EyebrowDecomposer,
    EyebrowDecomposerOutput,
    EyebrowMorphingCombiner,
)
from thagen.train.tha3.face_morpher import FACE_MORPHER_WIDTH, FACE_POSE, FaceMorpher, FaceMorpherOutput
from thagen.train.tha3.rotator import (
    ROTATION_POSE,
    ROTATOR_IMAGE_SIZE,
    ROTATOR_WIDTH,
    FaceBodyRotator,
    RotatorOutput,
)

# --- the 45-value pose vector --------------------------------------------------------------


def _two_sided(group: str, names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f"{group}_{name}_{side}" for name in names for side in ("left", "right"))


POSE_PARAMETER_NAMES: tuple[str, ...] = (
    *_two_sided("eyebrow", ("troubled", "angry", "lowered", "raised", "happy", "serious")),  # 0-11
    *_two_sided("eye", ("wink", "happy_wink", "surprised", "relaxed", "unimpressed", "raised_lower_eyelid")),
    "iris_small_left",  # 24
    "iris_small_right",
    "mouth_aaa",  # 26
    "mouth_iii",
    "mouth_uuu",
    "mouth_eee",
    "mouth_ooo",
    "mouth_delta",
    "mouth_lowered_corner_left",  # 32
    "mouth_lowered_corner_right",
    "mouth_raised_corner_left",  # 34
    "mouth_raised_corner_right",
    "mouth_smirk",  # 36
    "iris_rotation_x",  # 37
    "iris_rotation_y",
    "head_x",  # 39
    "head_y",
    "neck_z",
    "body_y",  # 42
    "body_z",
    "breathing",  # 44
)
POSE_SIZE = len(POSE_PARAMETER_NAMES)  # 45
SIGNED_POSE = slice(37, 44)  # iris rotation, head, neck and body take [-1, 1]; the rest [0, 1]
POSE_SLICES: dict[str, slice] = {"eyebrow": EYEBROW_POSE, "face": FACE_POSE, "rotation": ROTATION_POSE}

# --- crops of the 512x512 input ------------------------------------------------------------

IMAGE_SIZE = EDITOR_IMAGE_SIZE  # 512


class Box(NamedTuple):
    """A square region `[top:top+size, left:left+size]` of an image batch."""

    top: int
    left: int
    size: int

    def crop(self, image: torch.Tensor) -> torch.Tensor:
        return image[:, :, self.top : self.top + self.size, self.left : self.left + self.size]

    def paste(self, image: torch.Tensor, patch: torch.Tensor) -> torch.Tensor:
        """A copy of `image` with `patch` in this box (autograd flows into both)."""
        out = image.clone()
        out[:, :, self.top : self.top + self.size, self.left : self.left + self.size] = patch
        return out


EYEBROW_BOX = Box(top=64, left=192, size=128)  # the head box: 128x128 centred in the top half
FACE_BOX = Box(top=32, left=160, size=192)  # 192x192 around the same centre
EYEBROW_IN_FACE_BOX = Box(top=32, left=32, size=128)  # EYEBROW_BOX inside FACE_BOX

# --- widths and published sizes ------------------------------------------------------------

NETWORK_NAMES = ("eyebrow_decomposer", "eyebrow_combiner", "face_morpher", "rotator", "editor")

# Parameter counts of THA3's released networks (standard_float and separable_float modes).
THA3_PARAMETERS: dict[str, dict[str, int]] = {
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


@dataclass(frozen=True)
class Tha3Widths:
    """One `NetWidth` per network; the defaults are THA3's published (standard) sizes."""

    eyebrow_decomposer: NetWidth = EYEBROW_WIDTH
    eyebrow_combiner: NetWidth = EYEBROW_WIDTH
    face_morpher: NetWidth = FACE_MORPHER_WIDTH
    rotator: NetWidth = ROTATOR_WIDTH
    editor: NetWidth = EDITOR_WIDTH

    @classmethod
    def published(cls, separable: bool = False) -> Tha3Widths:
        return cls().variant(separable)

    def variant(self, separable: bool) -> Tha3Widths:
        return Tha3Widths(**{f.name: getattr(self, f.name).variant(separable) for f in fields(self)})

    def scaled(self, divisor: int) -> Tha3Widths:
        """Every network's channels divided by `divisor` (THA3's divide by up to 32; 16 is tiny)."""
        return Tha3Widths(**{f.name: getattr(self, f.name).scaled(divisor) for f in fields(self)})


# --- the poser -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Tha3PoserOutput:
    """The final frame and every stage's outputs."""

    image: torch.Tensor  # (B, 4, 512, 512) the editor's image
    eyebrow_decomposer: EyebrowDecomposerOutput  # at 128
    eyebrow_combiner: EyebrowCombinerOutput  # at 128
    face_morpher: FaceMorpherOutput  # at 192
    face_morphed: torch.Tensor  # (B, 4, 512, 512) the input with the morphed face pasted in
    face_morphed_half: torch.Tensor  # (B, 4, 256, 256) the rotator's input
    rotator: RotatorOutput  # at 256
    editor: EditorOutput  # at 512

    def tha3_outputs(self) -> list[torch.Tensor]:
        """THA3's flat list of 29: editor, rotator, face morpher, combiner, decomposer outputs."""
        return [
            *self.editor,
            *self.rotator,
            *self.face_morpher,
            *self.eyebrow_combiner,
            *self.eyebrow_decomposer,
        ]


class Tha3Poser(nn.Module):
    """The five THA3 networks run in THA3's order on (B, 4, 512, 512) images and (B, 45) poses."""

    def __init__(self, widths: Tha3Widths = Tha3Widths()) -> None:
        super().__init__()
        self.widths = widths
        self.eyebrow_decomposer = EyebrowDecomposer(widths.eyebrow_decomposer)
        self.eyebrow_combiner = EyebrowMorphingCombiner(widths.eyebrow_combiner)
        self.face_morpher = FaceMorpher(widths.face_morpher)
        self.rotator = FaceBodyRotator(widths.rotator)
        self.editor = Editor(widths.editor)

    def networks(self) -> dict[str, nn.Module]:
        """The five networks by name (`NETWORK_NAMES` order)."""
        return {name: getattr(self, name) for name in NETWORK_NAMES}

    def forward(
        self,
        image: torch.Tensor,
        pose: torch.Tensor,
        decomposed: EyebrowDecomposerOutput | None = None,
    ) -> Tha3PoserOutput:
        b = image.shape[0]
        if image.shape != (b, IMAGE_CHANNELS, IMAGE_SIZE, IMAGE_SIZE):
            raise ValueError(f"expected a (B, 4, {IMAGE_SIZE}, {IMAGE_SIZE}) image, got {tuple(image.shape)}")
        if pose.shape != (b, POSE_SIZE):
            raise ValueError(f"expected a ({b}, {POSE_SIZE}) pose, got {tuple(pose.shape)}")
        if decomposed is None:
            decomposed = self.eyebrow_decomposer(EYEBROW_BOX.crop(image))
        return run_stages(self.networks(), THA3_GEOMETRY, image, pose, decomposed)


class PoserGeometry(Protocol):
    """Where THA3's crops sit and how the rotator's half-size pass is resized: THA3's own 512 px
    boxes (`THA3_GEOMETRY`), or those boxes scaled for smaller training images
    (train/tha3_training/geometry.py), so both run the same `run_stages`."""

    @property
    def eyebrow_box(self) -> Box: ...
    @property
    def face_box(self) -> Box: ...
    @property
    def eyebrow_in_face_box(self) -> Box: ...
    def to_half(self, image: torch.Tensor) -> torch.Tensor: ...
    def to_full(self, image: torch.Tensor) -> torch.Tensor: ...


@dataclass(frozen=True)
class _Tha3Geometry:
    """THA3's own boxes at 512 px, the rotator at 256."""

    eyebrow_box: Box = EYEBROW_BOX
    face_box: Box = FACE_BOX
    eyebrow_in_face_box: Box = EYEBROW_IN_FACE_BOX

    def to_half(self, image: torch.Tensor) -> torch.Tensor:
        size = (ROTATOR_IMAGE_SIZE, ROTATOR_IMAGE_SIZE)
        return F.interpolate(image, size=size, mode="bilinear", align_corners=False)

    def to_full(self, image: torch.Tensor) -> torch.Tensor:
        return F.interpolate(image, size=(IMAGE_SIZE, IMAGE_SIZE), mode="bilinear", align_corners=False)


THA3_GEOMETRY = _Tha3Geometry()


def run_stages(
    networks: Mapping[str, nn.Module],
    geometry: PoserGeometry,
    image: torch.Tensor,
    pose: torch.Tensor,
    decomposed: EyebrowDecomposerOutput,
) -> Tha3PoserOutput:
    """THA3's steps after the eyebrow decomposer: combiner, face morpher (its face pasted back),
    rotator at half size, editor at full size."""
    pose = pose.to(image.dtype)
    combined: EyebrowCombinerOutput = networks["eyebrow_combiner"](
        decomposed.background, decomposed.eyebrow_layer, pose[:, EYEBROW_POSE]
    )
    face_input = geometry.eyebrow_in_face_box.paste(
        geometry.face_box.crop(image), combined.image_no_combine_alpha
    )
    morphed: FaceMorpherOutput = networks["face_morpher"](face_input, pose[:, FACE_POSE])
    face_morphed = geometry.face_box.paste(image, morphed.image)
    half = geometry.to_half(face_morphed)
    rotated: RotatorOutput = networks["rotator"](half, pose[:, ROTATION_POSE])
    edited: EditorOutput = networks["editor"](
        face_morphed, geometry.to_full(rotated.warped), geometry.to_full(rotated.grid), pose[:, ROTATION_POSE]
    )
    return Tha3PoserOutput(
        image=edited.image,
        eyebrow_decomposer=decomposed,
        eyebrow_combiner=combined,
        face_morpher=morphed,
        face_morphed=face_morphed,
        face_morphed_half=half,
        rotator=rotated,
        editor=edited,
    )
