"""THA3's five networks and poser, written from THA3's published layer facts.

`Tha3Poser` runs the eyebrow decomposer, the eyebrow morphing combiner, the face morpher, the
two-algorithm face-body rotator and the editor in THA3's order. Every network takes a `NetWidth`
(the published sizes are the defaults; `separable=True` gives THA3's separable variant, and
`NetWidth.scaled` / `Tha3Widths.scaled` shrink them for cheap tests), and starts out returning
(nearly) its input.
"""

from thagen.train.tha3.blocks import INITIAL_BLEND_ALPHA, NetWidth
from thagen.train.tha3.editor import EDITOR_WIDTH, Editor, EditorOutput
from thagen.train.tha3.eyebrow import (
    EYEBROW_POSE,
    EYEBROW_WIDTH,
    EyebrowCombinerOutput,
    EyebrowDecomposer,
    EyebrowDecomposerOutput,
    EyebrowMorphingCombiner,
)
from thagen.train.tha3.face_morpher import FACE_MORPHER_WIDTH, FACE_POSE, FaceMorpher, FaceMorpherOutput
from thagen.train.tha3.poser import (
    EYEBROW_BOX,
    EYEBROW_IN_FACE_BOX,
    FACE_BOX,
    NETWORK_NAMES,
    POSE_PARAMETER_NAMES,
    POSE_SIZE,
    POSE_SLICES,
    SIGNED_POSE,
    THA3_PARAMETERS,
    Box,
    Tha3Poser,
    Tha3PoserOutput,
    Tha3Widths,
)
from thagen.train.tha3.rotator import ROTATION_POSE, ROTATOR_WIDTH, FaceBodyRotator, RotatorOutput

__all__ = [
    "EDITOR_WIDTH",
    "EYEBROW_BOX",
    "EYEBROW_IN_FACE_BOX",
    "EYEBROW_POSE",
    "EYEBROW_WIDTH",
    "FACE_BOX",
    "FACE_MORPHER_WIDTH",
    "FACE_POSE",
    "INITIAL_BLEND_ALPHA",
    "NETWORK_NAMES",
    "POSE_PARAMETER_NAMES",
    "POSE_SIZE",
    "POSE_SLICES",
    "ROTATION_POSE",
    "ROTATOR_WIDTH",
    "SIGNED_POSE",
    "THA3_PARAMETERS",
    "Box",
    "Editor",
    "EditorOutput",
    "EyebrowCombinerOutput",
    "EyebrowDecomposer",
    "EyebrowDecomposerOutput",
    "EyebrowMorphingCombiner",
    "FaceBodyRotator",
    "FaceMorpher",
    "FaceMorpherOutput",
    "NetWidth",
    "RotatorOutput",
    "Tha3Poser",
    "Tha3PoserOutput",
    "Tha3Widths",
]
