"""The built-in character's skeleton: its bones, how vertices are weighted to them, and the
display frames, kept in one place because bone order is what the weights and frames index.

Bones follow MMD conventions (Japanese names, English names in name_en); the eye bones pivot at
the centre of the head's curve (rigs/builtin/head.py) and inherit 両目's rotation.
"""

from __future__ import annotations

import numpy as np

from thagen.rigs.builtin.head import EYE_CENTER_Y, EYE_PIVOT_X, HEAD_CENTER
from thagen.rigs.builtin.mesh import _smoothstep
from thagen.rigs.model import Bone, BoneFlag, DeformType, DisplayFrame

BONES = [
    # name, name_en, position, parent, tail (bone name or offset)
    ("全ての親", "master", (0.0, 0.0, 0.0), None, "センター"),
    ("センター", "center", (0.0, 8.0, 0.0), "全ての親", (0.0, -0.8, 0.0)),
    ("上半身", "upper body", (0.0, 10.6, 0.1), "センター", "首"),
    ("首", "neck", (0.0, 13.55, 0.15), "上半身", "頭"),
    ("頭", "head", (0.0, 15.25, 0.15), "首", (0.0, 1.6, 0.0)),
    ("両目", "eyes", (0.0, EYE_CENTER_Y, -1.2), "頭", (0.0, 0.0, -0.5)),
    # the eye bones pivot at the centre of the head's curve (just off the mid-plane, on their
    # own side), so turning one slides its flat eye disc along the face instead of into it
    ("左目", "eye_L", (EYE_PIVOT_X, HEAD_CENTER[1], HEAD_CENTER[2]), "頭", (0.0, 0.0, -0.5)),
    ("右目", "eye_R", (-EYE_PIVOT_X, HEAD_CENTER[1], HEAD_CENTER[2]), "頭", (0.0, 0.0, -0.5)),
    ("後髪", "hair_back", (0.0, 16.2, 1.5), "頭", (0.0, -3.5, 0.2)),
    ("下半身", "lower body", (0.0, 10.6, 0.1), "センター", (0.0, -1.6, 0.0)),
]
BONE_INDEX = {b[0]: i for i, b in enumerate(BONES)}


def _single(n: int, bone: str) -> tuple[np.ndarray, np.ndarray]:
    bones = np.full((n, 2), -1, np.int64)
    bones[:, 0] = BONE_INDEX[bone]
    return bones, np.ones(n)


def _blend(y: np.ndarray, upper: str, lower: str, y0: float, y1: float) -> tuple[np.ndarray, np.ndarray]:
    """Weights blending from `lower` (below y0) to `upper` (above y1)."""
    w_up = _smoothstep(y0, y1, y)
    bones = np.full((len(y), 2), -1, np.int64)
    bones[:, 0] = BONE_INDEX[upper]
    bones[:, 1] = BONE_INDEX[lower]
    return bones, w_up


def _deform_weights(bones2: np.ndarray, w1: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PMX deform types, bone indices and weights from each vertex's bone pair and first weight."""
    n = len(bones2)
    blended = (bones2[:, 1] >= 0) & (w1 > 1e-6) & (w1 < 1 - 1e-6)
    bone_indices = np.full((n, 4), -1, np.int32)
    bone_weights = np.zeros((n, 4), np.float32)
    # a vertex fully on the second bone of its pair is BDEF1 on that bone
    only_second = (bones2[:, 1] >= 0) & (w1 <= 1e-6)
    bone_indices[:, 0] = np.where(only_second, bones2[:, 1], bones2[:, 0])
    bone_weights[:, 0] = np.where(blended, w1, 1.0)
    bone_indices[blended, 1] = bones2[blended, 1]
    # BDEF2 stores only the first weight; the second is 1 - w in float32, as a reader rebuilds it
    bone_weights[blended, 1] = np.float32(1.0) - bone_weights[blended, 0]
    deform = np.where(blended, DeformType.BDEF2, DeformType.BDEF1).astype(np.uint8)
    return deform, bone_indices, bone_weights


def _bones() -> list[Bone]:
    """The Bone records of BONES, in order."""
    bones = []
    for name, name_en, pos, parent, tail in BONES:
        flags = BoneFlag.ROTATABLE | BoneFlag.VISIBLE | BoneFlag.ENABLED
        if name in ("全ての親", "センター"):
            flags |= BoneFlag.TRANSLATABLE
        bone = Bone(
            name=name,
            name_en=name_en,
            position=np.asarray(pos, np.float32),
            parent=BONE_INDEX[parent] if parent else -1,
        )
        if isinstance(tail, str):
            flags |= BoneFlag.TAIL_IS_BONE
            bone.tail_bone = BONE_INDEX[tail]
        else:
            bone.tail_offset = np.asarray(tail, np.float32)
        if name in ("左目", "右目"):
            flags |= BoneFlag.INHERIT_ROTATION
            bone.inherit_parent = BONE_INDEX["両目"]
            bone.inherit_weight = 1.0
        bone.flags = int(flags)
        bones.append(bone)
    return bones


def _display_frames(n_morphs: int) -> list[DisplayFrame]:
    """MMD's display panels: the root, every morph under 表情, then body, eye and hair bones."""
    frames = [
        DisplayFrame("Root", "Root", True, [(0, 0)]),
        DisplayFrame("表情", "Exp", True, [(1, i) for i in range(n_morphs)]),
        DisplayFrame(
            "体", "Body", False, [(0, BONE_INDEX[b]) for b in ("センター", "上半身", "下半身", "首", "頭")]
        ),
        DisplayFrame("目", "Eyes", False, [(0, BONE_INDEX[b]) for b in ("両目", "左目", "右目")]),
        DisplayFrame("髪", "Hair", False, [(0, BONE_INDEX["後髪"])]),
    ]
    return frames
