"""PMD's optional physics section: rigid bodies and joints.

A job of its own because it is the one section whose values are converted rather than
copied: rigid body positions are stored relative to their bone (bone 0 when none) and are
made absolute, as PMX stores them.
"""

from __future__ import annotations

import numpy as np

from thagen.rigs.formats.binary import U32, Cursor
from thagen.rigs.formats.pmd.layout import JOINT, NONE16, RIGID, fixed_name
from thagen.rigs.model import Joint, Model, RigidBody


def read_physics(cur: Cursor, model: Model) -> None:
    """Append the rigid bodies, then the joints between them."""
    n = cur.count(U32, RIGID.itemsize, "rigid body count")
    start = cur.pos
    rec = cur.array(RIGID, n, "rigid bodies")
    nb = len(model.bones)
    for i in range(n):
        at = start + 83 * i
        f = f"rigid_body[{i}]"
        r = RigidBody(name=fixed_name(cur, rec["name"][i].tobytes(), f + ".name", at))
        bone = int(rec["bone"][i])
        r.bone = -1 if bone == NONE16 else bone
        if r.bone >= nb:
            raise cur.error(f"bone index {bone} out of range ({nb} bones)", f + ".bone", at + 20)
        r.group, r.no_collide_mask = int(rec["group"][i]), int(rec["mask"][i])
        r.shape, r.mode = int(rec["shape"][i]), int(rec["mode"][i])
        if r.shape > 2:
            raise cur.error(f"unknown shape {r.shape}", f + ".shape", at + 25)
        if r.mode > 2:
            raise cur.error(f"unknown physics mode {r.mode}", f + ".mode", at + 82)
        r.size = rec["size"][i].astype(np.float32)
        origin = model.bones[max(r.bone, 0)].position if nb else np.zeros(3, np.float32)
        r.position = (rec["pos"][i] + origin).astype(np.float32)
        r.rotation = rec["rot"][i].astype(np.float32)
        r.mass, r.linear_damping, r.angular_damping, r.restitution, r.friction = (
            float(x) for x in rec["params"][i]
        )
        model.rigid_bodies.append(r)
    n = cur.count(U32, JOINT.itemsize, "joint count")
    start = cur.pos
    rec = cur.array(JOINT, n, "joints")
    nr = len(model.rigid_bodies)
    for i in range(n):
        at = start + 124 * i
        f = f"joint[{i}]"
        j = Joint(name=fixed_name(cur, rec["name"][i].tobytes(), f + ".name", at))
        j.body_a, j.body_b = int(rec["a"][i]), int(rec["b"][i])
        for value, off, what in ((j.body_a, 20, "body_a"), (j.body_b, 24, "body_b")):
            if not -1 <= value < nr:
                raise cur.error(f"rigid body index {value} out of range ({nr})", f"{f}.{what}", at + off)
        v = rec["v"][i].astype(np.float32)
        j.set_vectors(v)
        model.joints.append(j)
