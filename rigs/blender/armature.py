"""The Blender armature of a `Model`: one edit bone per MMD bone, with its parent.

Heads are the MMD bone positions; tails follow the tail bone or tail offset, and bones shorter
than `MIN_BONE_LENGTH` are lengthened (Blender drops zero-length bones). Only the rest skeleton
is built: IK, inherited rotation (付与) and physics are not, since thagen only poses the head
and neck and renders the rest as it stands.
"""

from __future__ import annotations

import bpy
import numpy as np

from thagen.rigs.coordinates import mmd_to_blender
from thagen.rigs.model import BoneFlag, Model

MIN_BONE_LENGTH = 0.01  # metres; Blender drops zero-length bones


def build_armature(model: Model, name: str) -> tuple[bpy.types.Object, list[str]]:
    """The armature object, linked to the scene, and the Blender bone name per MMD bone index."""
    arm_data = bpy.data.armatures.new(name)
    arm = bpy.data.objects.new(name, arm_data)
    bpy.context.scene.collection.objects.link(arm)
    heads = mmd_to_blender(np.array([b.position for b in model.bones], np.float64).reshape(-1, 3))
    tails = heads.copy()
    for i, bone in enumerate(model.bones):
        if bone.flags & BoneFlag.TAIL_IS_BONE:
            if 0 <= bone.tail_bone < len(model.bones):
                tails[i] = heads[bone.tail_bone]
        else:
            tails[i] = heads[i] + mmd_to_blender(bone.tail_offset)
    direction = tails - heads
    length = np.linalg.norm(direction, axis=1)
    up = np.array([0.0, 0.0, 1.0])
    safe = np.where(length[:, None] > 1e-9, direction / np.maximum(length, 1e-9)[:, None], up)
    tails = np.where((length < MIN_BONE_LENGTH)[:, None], heads + safe * MIN_BONE_LENGTH, tails)

    view_layer = bpy.context.view_layer
    previous = view_layer.objects.active
    view_layer.objects.active = arm
    bpy.ops.object.mode_set(mode="EDIT")
    try:
        edit_bones = arm_data.edit_bones
        created = []
        for i, bone in enumerate(model.bones):
            eb = edit_bones.new(bone.name or f"bone{i}")
            eb.head = heads[i]
            eb.tail = tails[i]
            eb.use_deform = True
            created.append(eb)
        for i, bone in enumerate(model.bones):
            if 0 <= bone.parent < len(model.bones) and bone.parent != i:
                created[i].parent = created[bone.parent]
        names = [eb.name for eb in created]
    finally:
        bpy.ops.object.mode_set(mode="OBJECT")
        view_layer.objects.active = previous
    return arm, names
