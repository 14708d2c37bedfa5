"""THA2 / THA3 poses as morph weights and bone rotations, and their records (pure numpy, no bpy).

The renderer applies THA1's part of a pose as before (eye closes from eye_wink_*, which the pose
also carries as left_eye / right_eye; the mouth from mouth_aaa = mouth; head and neck), then
this module's targets: every other morph parameter at its value on the morph the rig found
(`rigs/normalize/extended_roles.py`), and the extra bone rotations. A parameter the model cannot show
(availability `missing`) is 0 in the images and in the record.

Rotations (character axes: x toward the character's left, y up, z toward the camera; the same
sign rule as THA1's: every positive value moves things up or to the image's right):

================ =================================================================================
iris_rotation_x  each eye bone about x: +1 turns the eyes up (the iris moves up) by the model's
                 calibrated angle (the angle that moves the iris 0.2 of the eye's width)
iris_rotation_y  each eye bone about y: +1 turns the eyes toward the character's left (the iris
                 moves to the image's right), the same calibrated angle
body_y           the upper-body bone (上半身) about y: +1 turns the body toward the character's
                 left by BODY_MAX_DEGREES (15, as THA1's head); 上半身2 and everything above follow
body_z           the upper-body bone about z: +1 tilts the body toward the character's left
                 (the shoulders' line turns clockwise on screen), BODY_MAX_DEGREES
breathing        0..1, thagen's inhale (the sources define none): the chest bone (上半身2, else
                 上半身) leans back by BREATHING_CHEST_DEGREES (2) and each shoulder bone (左肩 /
                 右肩) turns up by BREATHING_SHOULDER_DEGREES (4) while its arm (左腕 / 右腕)
                 turns back by as much, so the shoulders and arms rise and the chest lifts
                 while the head barely moves (docs/img/breathing.png)::

                        exhale (0)             inhale (1)
                          ___O___                _.-O-._        shoulders up 4 deg
                         /   |   \\              /   |   \\
                             |  chest             (  |  chest leans back 2 deg
================ =================================================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from thagen.pose_vectors import THA1_ALIASES, pose_vector_def, with_tha1_view
from thagen.rigs.coordinates import axis_rotation

if TYPE_CHECKING:
    from thagen.rigs.normalize.extended_rig import ExtendedRig

BODY_MAX_DEGREES = 15.0
BREATHING_CHEST_DEGREES = 2.0
BREATHING_SHOULDER_DEGREES = 4.0
# THA1's renderer already drives these (through left_eye / right_eye / mouth and the head/neck)
_THA1_DRIVEN = set(THA1_ALIASES.values()) | {"head_x", "head_y", "neck_z"}
# parameters the expression-only image leaves at 0 (THA2's face morpher does iris rotation, so
# expr keeps it; the rotations of THA1's rotator and THA3's body rotator are left to rot)
ROTATION_PARAMS = ("head_x", "head_y", "neck_z", "body_y", "body_z", "breathing")


@dataclass
class PoseTargets:
    """What one extended pose sets on the imported character, besides THA1's part."""

    morphs: dict[str, float] = field(default_factory=dict)  # shape key / morph name -> weight
    bones: dict[str, np.ndarray] = field(default_factory=dict)  # bone -> 3x3 rotation, char axes


def is_vector_pose(pose: Mapping[str, Any]) -> bool:
    return "eye_wink_left" in pose


def vector_targets(
    pose: Mapping[str, float],
    ext: ExtendedRig,
    *,
    body_max_degrees: float = BODY_MAX_DEGREES,
    chest_degrees: float = BREATHING_CHEST_DEGREES,
    shoulder_degrees: float = BREATHING_SHOULDER_DEGREES,
) -> PoseTargets:
    """Morph weights and bone rotations for an extended pose on a rig's ExtendedRig `ext`.

    Every morph and bone the rig uses gets a value (0 / identity when the pose leaves it
    alone), so posing never depends on the previous pose.
    """
    out = PoseTargets()
    roles = ext.params
    motion = ext.motion
    body_max_degrees = float(motion.get("body_degrees", body_max_degrees))
    chest_degrees = float(motion.get("breathing_chest_degrees", chest_degrees))
    shoulder_degrees = float(motion.get("breathing_shoulder_degrees", shoulder_degrees))
    for name, role in roles.items():
        if name in _THA1_DRIVEN or role.morph is None or role.availability == "missing":
            continue
        out.morphs[role.morph] = out.morphs.get(role.morph, 0.0) + float(pose.get(name, 0.0))

    def rot(name: str) -> float:
        role = roles.get(name)
        return 0.0 if role is None or role.availability == "missing" else float(pose.get(name, 0.0))

    iris = roles.get("iris_rotation_x")
    if iris is not None and iris.availability != "missing":
        for bone, deg in zip(iris.bones, iris.degrees):
            out.bones[bone] = axis_rotation("y", rot("iris_rotation_y") * deg) @ axis_rotation(
                "x", -rot("iris_rotation_x") * deg
            )
    body = roles.get("body_y")
    if body is not None and body.availability != "missing":
        upper = body.bones[0]
        out.bones[upper] = axis_rotation("y", rot("body_y") * body_max_degrees) @ axis_rotation(
            "z", -rot("body_z") * body_max_degrees
        )
    breath = roles.get("breathing")
    if breath is not None and breath.availability != "missing":
        b = rot("breathing")
        chest, *limbs = (*breath.bones, "", "", "", "")[:5]
        lean = axis_rotation("x", -b * chest_degrees)
        out.bones[chest] = out.bones.get(chest, np.eye(3)) @ lean
        # each shoulder lifts (left: +z turns its +x bone up), its arm turns back by as much,
        # so the arm rises with the shoulder instead of swinging out
        for shoulder, arm, sign in ((limbs[0], limbs[2], 1.0), (limbs[1], limbs[3], -1.0)):
            if shoulder:
                out.bones[shoulder] = axis_rotation("z", sign * b * shoulder_degrees)
                if arm:
                    out.bones[arm] = axis_rotation("z", -sign * b * shoulder_degrees)
    return out


def masked_pose(pose: Mapping[str, float], ext: ExtendedRig | None) -> dict[str, float]:
    """The pose with every parameter the model cannot show set to 0 (THA1 aliases follow)."""
    if ext is None or not is_vector_pose(pose):
        return dict(pose)
    out = dict(pose)
    for name, role in ext.params.items():
        if role.availability == "missing":
            out[name] = 0.0
    return {
        **with_tha1_view({k: v for k, v in out.items() if k != "ambient"}),
        **({"ambient": pose["ambient"]} if "ambient" in pose else {}),
    }


def vector_expression_only(pose: Mapping[str, float]) -> dict[str, float]:
    """The expr image's pose: every morph (and iris rotation), no head or body rotation."""
    return {**pose, **{n: 0.0 for n in ROTATION_PARAMS if n in pose}}


def vector_record(
    vector: str, pose: Mapping[str, float], rest: Mapping[str, float], ext: ExtendedRig | None
) -> dict[str, Any]:
    """pose.json's extended fields (docs/dataset-format.md): the ordered names and values, the
    rest values and the availability mask (1 = the model can show it)."""
    names = pose_vector_def(vector).names
    mask = [1 if ext is None or ext.params[n].availability != "missing" else 0 for n in names]
    return {
        "vector": {
            "name": vector,
            "names": list(names),
            "values": [float(pose.get(n, 0.0)) * m for n, m in zip(names, mask)],
            "rest_values": [float(rest.get(n, 0.0)) * m for n, m in zip(names, mask)],
            "available": mask,
            "availability": [ext.params[n].availability if ext is not None else "exact" for n in names],
        }
    }
