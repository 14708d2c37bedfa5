"""PMX physics sections: rigid bodies, joints and (PMX 2.1) soft bodies.

Kept apart from rigs/formats/pmx/reader.py because these sections come after everything a
pose or a render uses and only reference it (bones, materials, vertices), so the reader's
module stays about the model itself. Read as strictly as the rest: an unknown shape, mode,
kind or flag raises `ModelFormatError`; indices are collected in `IndexRefs` and checked by
the reader once every section is read.
"""

from __future__ import annotations

import struct

import numpy as np

from thagen.rigs.formats.binary import I32, U8, Cursor, index_code, index_dtype
from thagen.rigs.formats.pmx.layout import Header
from thagen.rigs.formats.pmx.records import IndexRefs
from thagen.rigs.model import Joint, Model, RigidBody, SoftBody


def read_rigid_bodies(cur: Cursor, h: Header, model: Model, refs: IndexRefs) -> None:
    fmt = struct.Struct(f"<{index_code(h.bone_size, True)}BHB3f3f3f5fB")
    n = cur.count(I32, 8 + fmt.size, "rigid body count")
    for i in range(n):
        f = f"rigid_body[{i}]"
        r = RigidBody(name=cur.text(h.encoding, f + ".name"), name_en=cur.text(h.encoding, f + ".name_en"))
        at = cur.pos
        v = cur.unpack(fmt, f)
        r.bone, r.group, r.no_collide_mask, r.shape = v[0:4]
        refs.add("bone", r.bone, f + ".bone", at)
        if r.shape > 2:
            raise cur.error(f"unknown shape {r.shape}", f + ".shape", at + h.bone_size + 3)
        r.size = np.array(v[4:7], np.float32)
        r.position = np.array(v[7:10], np.float32)
        r.rotation = np.array(v[10:13], np.float32)
        r.mass, r.linear_damping, r.angular_damping, r.restitution, r.friction, r.mode = v[13:19]
        if r.mode > 2:
            raise cur.error(f"unknown physics mode {r.mode}", f + ".mode", at + fmt.size - 1)
        model.rigid_bodies.append(r)


def read_joints(cur: Cursor, h: Header, model: Model, refs: IndexRefs) -> None:
    r = index_code(h.rigid_size, True)
    fmt = struct.Struct(f"<{r}{r}24f")
    kinds = range(6) if h.version >= 2.1 else (0,)
    n = cur.count(I32, 8 + 1 + fmt.size, "joint count")
    for i in range(n):
        f = f"joint[{i}]"
        j = Joint(name=cur.text(h.encoding, f + ".name"), name_en=cur.text(h.encoding, f + ".name_en"))
        j.kind = cur.enum(U8, kinds, f + ".kind")
        at = cur.pos
        v = cur.unpack(fmt, f)
        j.body_a, j.body_b = v[0], v[1]
        refs.add("rigid", j.body_a, f + ".body_a", at)
        refs.add("rigid", j.body_b, f + ".body_b", at + h.rigid_size)
        arr = np.array(v[2:], np.float32).reshape(8, 3)
        j.set_vectors(arr)
        model.joints.append(j)


def read_soft_bodies(cur: Cursor, h: Header, model: Model, refs: IndexRefs) -> None:
    fmt = struct.Struct(f"<B{index_code(h.material_size, True)}BHBiiffi12f6f4i3f")
    anchor_dt = np.dtype(
        [
            ("body", index_dtype(h.rigid_size, True)),
            ("vertex", index_dtype(h.vertex_size, False)),
            ("near", "u1"),
        ]
    )
    vdt = index_dtype(h.vertex_size, False)
    n = cur.count(I32, 8 + fmt.size + 8, "soft body count")
    for i in range(n):
        f = f"soft_body[{i}]"
        s = SoftBody(name=cur.text(h.encoding, f + ".name"), name_en=cur.text(h.encoding, f + ".name_en"))
        at = cur.pos
        v = cur.unpack(fmt, f)
        s.shape, s.material, s.group, s.no_collide_mask, s.flags = v[0:5]
        if s.shape > 1:
            raise cur.error(f"unknown soft body shape {s.shape}", f + ".shape", at)
        refs.add("material", s.material, f + ".material", at + 1)
        s.b_link_distance, s.clusters, s.total_mass, s.margin, s.aero_model = v[5:10]
        if not 0 <= s.aero_model <= 4:
            raise cur.error(
                f"unknown aero model {s.aero_model}", f + ".aero_model", at + 1 + h.material_size + 20
            )
        s.config = np.array(v[10:22], np.float32)
        s.cluster = np.array(v[22:28], np.float32)
        s.iteration = np.array(v[28:32], np.int32)
        s.material_params = np.array(v[32:35], np.float32)
        k = cur.count(I32, anchor_dt.itemsize, f + ".anchor count")
        start = cur.pos
        a = cur.array(anchor_dt, k, f + ".anchors")
        if k and a["near"].max() > 1:
            j = int(np.flatnonzero(a["near"] > 1)[0])
            raise cur.error(
                f"unknown near mode {int(a['near'][j])}",
                f"{f}.anchors[{j}].near",
                start + (j + 1) * anchor_dt.itemsize - 1,
            )
        s.anchors = np.stack([a["body"], a["vertex"], a["near"]], axis=1).astype(np.int32).reshape(-1, 3)
        offs = start + np.arange(k, dtype=np.int64) * anchor_dt.itemsize
        refs.add_array("rigid", s.anchors[:, 0], f + ".anchors[*].body", offs)
        refs.add_array("vertex", s.anchors[:, 1], f + ".anchors[*].vertex", offs + h.rigid_size)
        k = cur.count(I32, h.vertex_size, f + ".pin count")
        start = cur.pos
        s.pins = cur.array(vdt, k, f + ".pins").astype(np.int32)
        refs.add_array("vertex", s.pins, f + ".pins[*]", start + np.arange(k, dtype=np.int64) * h.vertex_size)
        model.soft_bodies.append(s)
