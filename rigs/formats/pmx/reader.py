"""PMX 2.0 / 2.1 reader and writer (`Model` <-> bytes); the writer is in rigs/formats/pmx/writer.py.

The reader is strict: an unknown version, encoding, deform type, morph kind, enum value,
an index out of range, a count the file cannot hold or bytes left over after the last
section all raise `ModelFormatError` naming the file, the byte offset and the field.
Vertices (variable-size records) and morph offsets are parsed with numpy, never with a
per-vertex Python loop: see `record_starts` (rigs/formats/pmx/records.py). The physics
sections (rigid bodies, joints, soft bodies) are read by rigs/formats/pmx/physics.py.

Tolerances: none. A 2.1 file must have its soft-body section (PMX Editor always writes
it); unknown bone/material flag bits are kept as they are (they do not change the layout).

The writer (rigs/formats/pmx/writer.py, re-exported here) writes the smallest index sizes that fit;
reading what it wrote gives back an equal `Model`, and rewriting a file read here gives the
same bytes when the file used the smallest index sizes (Gene does).
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from thagen.rigs.formats.binary import I32, U8, Cursor, index_code, index_dtype
from thagen.rigs.formats.pmx.layout import (
    DEFORM_BONES,
    DEFORM_WEIGHTS,
    ENCODINGS,
    MAGIC,
    MORPH_INDEX_LOW,
    MORPH_LAYOUT,
    VERSIONS,
    Header,
    morph_dtype,
    vertex_dtype,
)
from thagen.rigs.formats.pmx.physics import read_joints, read_rigid_bodies, read_soft_bodies
from thagen.rigs.formats.pmx.records import IndexRefs, record_starts
from thagen.rigs.formats.pmx.writer import header_for, pmx_bytes, write_pmx
from thagen.rigs.model import (
    IK,
    Bone,
    BoneFlag,
    DeformType,
    DisplayFrame,
    IKLink,
    Material,
    Model,
    Morph,
)

__all__ = ["MAGIC", "Header", "header_for", "pmx_bytes", "read_pmx", "write_pmx"]

# ------------------------------------------------------------------------------------------
# reading
# ------------------------------------------------------------------------------------------


def read_pmx(data: bytes, path: str | Path | None = None, trace: list | None = None) -> Model:
    """Parse a whole PMX file held in `data` (`path` only names it in errors)."""
    cur = Cursor(data, path, trace=trace)
    h = _read_header(cur)
    model = Model(format="pmx", version=h.version, encoding=h.encoding)
    model.name = cur.text(h.encoding, "model name")
    model.name_en = cur.text(h.encoding, "model English name")
    model.comment = cur.text(h.encoding, "model comment")
    model.comment_en = cur.text(h.encoding, "model English comment")
    refs = IndexRefs()
    _read_vertices(cur, h, model, refs)
    _read_faces(cur, h, model)
    n = cur.count(I32, 4, "texture count")
    model.textures = [cur.text(h.encoding, f"texture[{i}]") for i in range(n)]
    _read_materials(cur, h, model, refs)
    _read_bones(cur, h, model, refs)
    _read_morphs(cur, h, model, refs)
    _read_display_frames(cur, h, model, refs)
    read_rigid_bodies(cur, h, model, refs)
    read_joints(cur, h, model, refs)
    if h.version >= 2.1:
        read_soft_bodies(cur, h, model, refs)
    if cur.remaining:
        raise cur.error(f"{cur.remaining} unexpected bytes after the last section", "end of file")
    counts = {
        "vertex": model.vertex_count,
        "texture": len(model.textures),
        "material": len(model.materials),
        "bone": len(model.bones),
        "morph": len(model.morphs),
        "rigid": len(model.rigid_bodies),
    }
    refs.check(cur, counts)
    return model


def _read_header(cur: Cursor) -> Header:
    if cur.raw(4, "magic") != MAGIC:
        raise cur.error("not a PMX file (magic is not 'PMX ')", "magic", 0)
    raw_version = np.float32(cur.f32("version"))
    if raw_version not in VERSIONS:
        raise cur.error(
            f"unsupported PMX version {float(raw_version)!r} (2.0 and 2.1 are supported)", "version", 4
        )
    version = VERSIONS[raw_version]
    n = cur.u8("globals count")
    if n != 8:
        raise cur.error(f"globals count {n}, PMX {version} has 8", "globals count", 8)
    g = cur.raw(8, "globals")
    if g[0] not in ENCODINGS:
        raise cur.error(f"unknown text encoding {g[0]} (0 UTF-16LE, 1 UTF-8)", "globals.encoding", 9)
    if g[1] > 4:
        raise cur.error(f"additional UV count {g[1]} (0-4)", "globals.additional_uv", 10)
    names = ("vertex", "texture", "material", "bone", "morph", "rigid")
    for i, name in enumerate(names):
        if g[2 + i] not in (1, 2, 4):
            raise cur.error(f"index size {g[2 + i]} (1, 2 or 4)", f"globals.{name}_index_size", 11 + i)
    return Header(version, ENCODINGS[g[0]], g[1], *g[2:8])


def _read_vertices(cur: Cursor, h: Header, model: Model, refs: IndexRefs) -> None:
    prefix = 4 * (8 + 4 * h.extra_uv)
    b = h.bone_size
    deforms = (0, 1, 2, 3, 4) if h.version >= 2.1 else (0, 1, 2, 3)
    dtypes = {t: vertex_dtype(h, t) for t in deforms}
    lut = np.zeros(256, np.int64)
    for t, dt in dtypes.items():
        lut[t] = dt.itemsize
    n = cur.count(I32, prefix + 1 + b + 4, "vertex count")
    starts = record_starts(cur, cur.pos, n, prefix, lut, "vertex")
    u8 = np.frombuffer(cur.data, np.uint8)
    types = u8[starts + prefix] if n else np.zeros(0, np.uint8)
    pos = np.empty((n, 3), np.float32)
    nrm = np.empty((n, 3), np.float32)
    uv = np.empty((n, 2), np.float32)
    xuv = np.zeros((n, h.extra_uv, 4), np.float32)
    bones = np.full((n, 4), -1, np.int32)
    weights = np.zeros((n, 4), np.float32)
    sdef = np.zeros((n, 3, 3), np.float32)
    edge = np.empty(n, np.float32)
    for t in np.unique(types).tolist():
        dt = dtypes[t]
        sel = np.flatnonzero(types == t)
        window = np.lib.stride_tricks.sliding_window_view(u8, dt.itemsize)
        rec = window[starts[sel]].view(dt).reshape(-1)
        pos[sel] = rec["pos"]
        nrm[sel] = rec["nrm"]
        uv[sel] = rec["uv"]
        if h.extra_uv:
            xuv[sel] = rec["xuv"]
        nb = DEFORM_BONES[t]
        bones[sel, :nb] = rec["bones"].reshape(-1, nb)
        if t == DeformType.BDEF1:
            weights[sel, 0] = 1.0
        elif DEFORM_WEIGHTS[t] == 1:
            w0 = rec["w"].reshape(-1)
            weights[sel, 0] = w0
            weights[sel, 1] = np.float32(1.0) - w0
        else:
            weights[sel] = rec["w"]
        if t == DeformType.SDEF:
            sdef[sel] = rec["sdef"]
        edge[sel] = rec["edge"]
    end = int(starts[-1]) + int(lut[types[-1]]) if n else cur.pos
    bone_offsets = starts + prefix + 1
    refs.add_array("bone", bones, "vertex[*].bones", bone_offsets, low=-1, column=b)
    cur.pos = end
    model.positions, model.normals, model.uvs, model.extra_uvs = pos, nrm, uv, xuv
    model.deform_types = types.astype(np.uint8)
    model.bone_indices, model.bone_weights, model.sdef, model.edge_scales = bones, weights, sdef, edge


def _read_faces(cur: Cursor, h: Header, model: Model) -> None:
    at = cur.pos
    n = cur.count(I32, h.vertex_size, "face index count")
    if n % 3:
        raise cur.error(f"face index count {n} is not a multiple of 3", "face index count", at)
    start = cur.pos
    idx = cur.array(index_dtype(h.vertex_size, False), n, "faces").astype(np.int32)
    if n:
        bad = np.flatnonzero((idx < 0) | (idx >= model.vertex_count))
        if bad.size:
            i = int(bad[0])
            raise cur.error(
                f"vertex index {int(idx[i])} out of range ({model.vertex_count} vertices)",
                f"faces[{i // 3}]",
                start + i * h.vertex_size,
            )
    model.faces = idx.reshape(-1, 3)


def _read_materials(cur: Cursor, h: Header, model: Model, refs: IndexRefs) -> None:
    t = index_code(h.texture_size, True)
    fmt = struct.Struct(f"<4f3ff3fB4ff{t}{t}BB")
    tex_fmt = struct.Struct(f"<{t}")
    n = cur.count(I32, 8 + fmt.size + 1 + 4 + 4, "material count")
    face_start = 0
    for i in range(n):
        f = f"material[{i}]"
        m = Material(name=cur.text(h.encoding, f + ".name"), name_en=cur.text(h.encoding, f + ".name_en"))
        at = cur.pos
        v = cur.unpack(fmt, f)
        m.diffuse = np.array(v[0:4], np.float32)
        m.specular = np.array(v[4:7], np.float32)
        m.specular_power = v[7]
        m.ambient = np.array(v[8:11], np.float32)
        m.flags = v[11]
        m.edge_color = np.array(v[12:16], np.float32)
        m.edge_size = v[16]
        m.texture, m.sphere_texture, m.sphere_mode, shared = v[17:21]
        refs.add("texture", m.texture, f + ".texture", at + fmt.size - 2 - 2 * h.texture_size)
        refs.add("texture", m.sphere_texture, f + ".sphere_texture", at + fmt.size - 2 - h.texture_size)
        if m.sphere_mode > 3:
            raise cur.error(f"unknown sphere mode {m.sphere_mode}", f + ".sphere_mode", at + fmt.size - 2)
        if shared > 1:
            raise cur.error(f"unknown shared-toon flag {shared}", f + ".toon_shared", at + fmt.size - 1)
        m.toon_shared = bool(shared)
        if m.toon_shared:
            m.toon_index = cur.enum(U8, range(10), f + ".toon_index")
        else:
            at = cur.pos
            m.toon_index = cur.unpack(tex_fmt, f + ".toon_index")[0]
            refs.add("texture", m.toon_index, f + ".toon_index", at)
        m.comment = cur.text(h.encoding, f + ".comment")
        at = cur.pos
        count = cur.i32(f + ".index_count")
        if count < 0 or count % 3:
            raise cur.error(
                f"index count {count} is not a non-negative multiple of 3", f + ".index_count", at
            )
        m.face_start, m.face_count = face_start, count // 3
        face_start += count // 3
        if face_start > model.face_count:
            raise cur.error(
                f"materials cover {face_start} triangles, the model has {model.face_count}",
                f + ".index_count",
                at,
            )
        model.materials.append(m)
    if face_start != model.face_count and n:
        raise cur.error(
            f"materials cover {face_start} of {model.face_count} triangles", "material index counts"
        )


def _read_bones(cur: Cursor, h: Header, model: Model, refs: IndexRefs) -> None:
    b = index_code(h.bone_size, True)
    bs = h.bone_size
    head = struct.Struct(f"<3f{b}iH")
    idx = struct.Struct(f"<{b}")
    idx_w = struct.Struct(f"<{b}f")
    vec3 = struct.Struct("<3f")
    vec6 = struct.Struct("<6f")
    ik_head = struct.Struct(f"<{b}ifi")
    link = struct.Struct(f"<{b}B")
    n = cur.count(I32, 8 + head.size + bs, "bone count")
    for i in range(n):
        f = f"bone[{i}]"
        bone = Bone(name=cur.text(h.encoding, f + ".name"), name_en=cur.text(h.encoding, f + ".name_en"))
        at = cur.pos
        x, y, z, bone.parent, bone.layer, flags = cur.unpack(head, f)
        bone.position = np.array((x, y, z), np.float32)
        bone.flags = flags
        refs.add("bone", bone.parent, f + ".parent", at + 12)
        if flags & BoneFlag.TAIL_IS_BONE:
            at = cur.pos
            bone.tail_bone = cur.unpack(idx, f + ".tail_bone")[0]
            refs.add("bone", bone.tail_bone, f + ".tail_bone", at)
        else:
            bone.tail_offset = np.array(cur.unpack(vec3, f + ".tail_offset"), np.float32)
        if flags & (BoneFlag.INHERIT_ROTATION | BoneFlag.INHERIT_TRANSLATION):
            at = cur.pos
            bone.inherit_parent, bone.inherit_weight = cur.unpack(idx_w, f + ".inherit")
            refs.add("bone", bone.inherit_parent, f + ".inherit_parent", at)
        if flags & BoneFlag.FIXED_AXIS:
            bone.fixed_axis = np.array(cur.unpack(vec3, f + ".fixed_axis"), np.float32)
        if flags & BoneFlag.LOCAL_AXES:
            axes = cur.unpack(vec6, f + ".local_axes")
            bone.local_x = np.array(axes[:3], np.float32)
            bone.local_z = np.array(axes[3:], np.float32)
        if flags & BoneFlag.EXTERNAL_PARENT:
            bone.external_key = cur.i32(f + ".external_key")
        if flags & BoneFlag.IK:
            at = cur.pos
            target, loops, angle, nlinks = cur.unpack(ik_head, f + ".ik")
            refs.add("bone", target, f + ".ik.target", at, low=0)
            if nlinks < 0 or nlinks * link.size > cur.remaining:
                raise cur.error(f"IK link count {nlinks} does not fit", f + ".ik.link_count", at + bs + 8)
            ik = IK(target=target, loop_count=loops, limit_angle=angle)
            for j in range(nlinks):
                at = cur.pos
                lb, has_limit = cur.unpack(link, f"{f}.ik.links[{j}]")
                refs.add("bone", lb, f"{f}.ik.links[{j}].bone", at, low=0)
                if has_limit > 1:
                    raise cur.error(
                        f"unknown limit flag {has_limit}", f"{f}.ik.links[{j}].has_limit", at + bs
                    )
                lk = IKLink(bone=lb)
                if has_limit:
                    lim = cur.unpack(vec6, f"{f}.ik.links[{j}].limits")
                    lk.limit_min = np.array(lim[:3], np.float32)
                    lk.limit_max = np.array(lim[3:], np.float32)
                ik.links.append(lk)
            bone.ik = ik
        model.bones.append(bone)


def _read_morphs(cur: Cursor, h: Header, model: Model, refs: IndexRefs) -> None:
    kinds = range(11) if h.version >= 2.1 else range(9)
    dtypes = {k: morph_dtype(h, k) for k in kinds}
    n = cur.count(I32, 8 + 6, "morph count")
    for i in range(n):
        f = f"morph[{i}]"
        name = cur.text(h.encoding, f + ".name")
        name_en = cur.text(h.encoding, f + ".name_en")
        panel = cur.enum(U8, range(5), f + ".panel")
        kind = cur.enum(U8, kinds, f + ".kind")
        dt = dtypes[kind]
        k = cur.count(I32, dt.itemsize, f + ".offset count")
        start = cur.pos
        rec = cur.array(dt, k, f + ".offsets")
        target, extra, nvalues = MORPH_LAYOUT[kind]
        indices = rec["i"].astype(np.int32)
        values = rec["v"].astype(np.float32)
        if extra:
            flag = rec[extra]
            if k and flag.max() > 1:
                j = int(np.flatnonzero(flag > 1)[0])
                raise cur.error(
                    f"unknown {extra} value {int(flag[j])}",
                    f"{f}.offsets[{j}].{extra}",
                    start + j * dt.itemsize + dt["i"].itemsize,
                )
            values = np.concatenate([flag.astype(np.float32)[:, None], values], axis=1)
        offsets = start + np.arange(k, dtype=np.int64) * dt.itemsize
        refs.add_array(target, indices, f + ".offsets[*].index", offsets, low=MORPH_INDEX_LOW.get(kind, 0))
        model.morphs.append(
            Morph(name=name, name_en=name_en, panel=panel, kind=kind, indices=indices, values=values)
        )


def _read_display_frames(cur: Cursor, h: Header, model: Model, refs: IndexRefs) -> None:
    bone_fmt = struct.Struct("<" + index_code(h.bone_size, True))
    morph_fmt = struct.Struct("<" + index_code(h.morph_size, True))
    n = cur.count(I32, 8 + 1 + 4, "display frame count")
    for i in range(n):
        f = f"display_frame[{i}]"
        frame = DisplayFrame(
            name=cur.text(h.encoding, f + ".name"), name_en=cur.text(h.encoding, f + ".name_en")
        )
        frame.special = bool(cur.enum(U8, (0, 1), f + ".special"))
        k = cur.count(I32, 1 + min(h.bone_size, h.morph_size), f + ".item count")
        for j in range(k):
            kind = cur.enum(U8, (0, 1), f"{f}.items[{j}].kind")
            at = cur.pos
            value = cur.unpack(morph_fmt if kind else bone_fmt, f"{f}.items[{j}].index")[0]
            refs.add("morph" if kind else "bone", value, f"{f}.items[{j}].index", at, low=0)
            frame.items.append((kind, value))
        model.display_frames.append(frame)
