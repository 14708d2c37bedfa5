"""PMD bones and IK chains -> PMX-style `Bone`s with flags, inherit parents and IK limits.

A job of its own because PMD states a bone's behaviour as one type number that PMX spells
out as flags and fields, and because IK, fixed axes and inheritance can only be resolved
once every bone (and every vertex's bone index) has been read:

- Bone types become PMX flags: 1 and 2 translatable, 5 inherits rotation from the IK-field
  bone (weight 1), 6/7/9 hidden, 8 (twist) gets a fixed axis towards its tail, 9 inherits
  rotation from its tail-field bone with weight ik-field / 100. A tail index of 0 means none.
- IK limit angle = control weight * 4 (radians); links named "...ひざ" (knees) get MMD's
  implicit X limit [-180, -0.5] degrees.
"""

from __future__ import annotations

import math

import numpy as np

from thagen.rigs.formats.binary import U16, Cursor
from thagen.rigs.formats.pmd.layout import BONE, IK_HEAD, NONE16, fixed_name
from thagen.rigs.model import IK, Bone, BoneFlag, IKLink, Model

_KNEE_MIN = np.array([math.radians(-180.0), 0.0, 0.0], np.float32)
_KNEE_MAX = np.array([math.radians(-0.5), 0.0, 0.0], np.float32)


def read_bones(cur: Cursor, model: Model) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Append the bones; returns their type, tail and IK fields for `finish_bones`."""
    n = cur.count(U16, BONE.itemsize, "bone count")
    start = cur.pos
    rec = cur.array(BONE, n, "bones")
    for i in range(n):
        at = start + 39 * i
        bone = Bone(name=fixed_name(cur, rec["name"][i].tobytes(), f"bone[{i}].name", at))
        parent = int(rec["parent"][i])
        bone.parent = -1 if parent == NONE16 else parent
        if not -1 <= bone.parent < n:
            raise cur.error(f"bone index {parent} out of range ({n} bones)", f"bone[{i}].parent", at + 20)
        bone.position = rec["pos"][i].astype(np.float32)
        model.bones.append(bone)
    types = rec["type"]
    if n and types.max() > 9:
        i = int(np.flatnonzero(types > 9)[0])
        raise cur.error(f"unknown bone type {int(types[i])}", f"bone[{i}].type", start + 39 * i + 24)
    return types, rec["tail"], rec["ik"]


def read_iks(cur: Cursor, model: Model) -> None:
    """The IK section: one chain per owner bone, knee links limited as MMD does."""
    nb = len(model.bones)
    n = cur.count(U16, IK_HEAD.size, "IK count")
    for i in range(n):
        f = f"ik[{i}]"
        at = cur.pos
        bone, target, length, loops, weight = cur.unpack(IK_HEAD, f)
        if bone >= nb:
            raise cur.error(f"bone index {bone} out of range ({nb} bones)", f + ".bone", at)
        if target >= nb:
            raise cur.error(f"bone index {target} out of range ({nb} bones)", f + ".target", at + 2)
        links_at = cur.pos
        chain = cur.array("<u2", length, f + ".links")
        if length and chain.max() >= nb:
            j = int(np.flatnonzero(chain >= nb)[0])
            raise cur.error(
                f"bone index {int(chain[j])} out of range ({nb} bones)", f"{f}.links[{j}]", links_at + 2 * j
            )
        owner = model.bones[bone]
        if owner.ik is not None:
            raise cur.error(f"bone {owner.name!r} already has an IK chain (unsupported)", f + ".bone", at)
        ik = IK(target=target, loop_count=loops, limit_angle=float(np.float32(weight) * np.float32(4.0)))
        for b in chain.tolist():
            link = IKLink(bone=b)
            if model.bones[b].name.endswith("ひざ"):
                link.limit_min, link.limit_max = _KNEE_MIN.copy(), _KNEE_MAX.copy()
            ik.links.append(link)
        owner.ik = ik


def finish_bones(
    cur: Cursor, model: Model, types: np.ndarray, tails: np.ndarray, iks: np.ndarray, vertices_at: int
) -> None:
    """Check the vertices' bone indices; turn each bone's type into flags and fields."""
    nb = len(model.bones)
    vb = model.bone_indices[:, :2]
    if vb.size and vb.max() >= nb:
        i = int(np.flatnonzero((vb >= nb).any(axis=1))[0])
        raise cur.error(
            f"bone index {int(vb[i].max())} out of range ({nb} bones)",
            f"vertex[{i}].bones",
            vertices_at + 38 * i + 32,
        )

    def ref(value: int, i: int, what: str) -> int:
        if value >= nb:
            raise cur.error(f"bone index {value} out of range ({nb} bones)", f"bone[{i}].{what}")
        return value

    for i, bone in enumerate(model.bones):
        t, tail, ik_field = int(types[i]), int(tails[i]), int(iks[i])
        flags = BoneFlag.ROTATABLE | BoneFlag.VISIBLE | BoneFlag.ENABLED
        if t in (1, 2):
            flags |= BoneFlag.TRANSLATABLE
        if t in (6, 7, 9):
            flags &= ~BoneFlag.VISIBLE
        if t not in (8, 9) and 0 < tail != NONE16:
            flags |= BoneFlag.TAIL_IS_BONE
            bone.tail_bone = ref(tail, i, "tail")
        if t == 5:
            flags |= BoneFlag.INHERIT_ROTATION
            bone.inherit_parent, bone.inherit_weight = ref(ik_field, i, "ik"), 1.0
        elif t == 9:
            flags |= BoneFlag.INHERIT_ROTATION
            bone.inherit_parent = ref(tail, i, "tail")
            bone.inherit_weight = float(np.float32(ik_field) / np.float32(100.0))
        elif t == 8:
            flags |= BoneFlag.FIXED_AXIS
            axis = model.bones[ref(tail, i, "tail")].position.astype(np.float64) - bone.position
            norm = float(np.linalg.norm(axis))
            bone.fixed_axis = (axis / norm if norm > 0 else np.zeros(3)).astype(np.float32)
        if bone.ik is not None:
            flags |= BoneFlag.IK
        bone.flags = int(flags)
