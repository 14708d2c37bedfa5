"""PMX 2.0 / 2.1 reader and writer (`Model` <-> bytes).

The reader is strict: an unknown version, encoding, deform type, morph kind, enum value,
an index out of range, a count the file cannot hold or bytes left over after the last
section all raise `ModelFormatError` naming the file, the byte offset and the field.
Vertices (variable-size records) and morph offsets are parsed with numpy, never with a
per-vertex Python loop: see `_record_starts`.

Tolerances: none. A 2.1 file must have its soft-body section (PMX Editor always writes
it); unknown bone/material flag bits are kept as they are (they do not change the layout).

The writer writes PMX 2.0, or 2.1 when `model.version == 2.1`, with the smallest index
sizes that fit (the spec's ranges), UTF-16LE unless `model.encoding == "utf-8"`; it does not
remember a file's own index sizes (Model has no field for them).
Reading what it wrote gives back an equal `Model`; rewriting a file it read gives the same
bytes when the file used the smallest index sizes (Gene does).
"""

from __future__ import annotations

import math
import os
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from thagen.errors import ModelFormatError
from thagen.rigs.binary import F32, I32, U8, Cursor, index_code, index_dtype
from thagen.rigs.model import (
    IK,
    Bone,
    BoneFlag,
    DeformType,
    DisplayFrame,
    IKLink,
    Joint,
    Material,
    Model,
    Morph,
    MorphKind,
    RigidBody,
    SoftBody,
)

MAGIC = b"PMX "
ENCODINGS = {0: "utf-16-le", 1: "utf-8"}
VERSIONS = {np.float32(2.0): 2.0, np.float32(2.1): 2.1}

# deform-type payload size (bytes) as a function of the bone index size b
_DEFORM_BONES = {0: 1, 1: 2, 2: 4, 3: 2, 4: 4}  # bone indices per deform type
_DEFORM_WEIGHTS = {0: 0, 1: 1, 2: 4, 3: 1, 4: 4}  # stored weights per deform type

# morph offset records per kind: (index field, extra byte field name or None, value floats)
_MORPH_LAYOUT: dict[int, tuple[str, str | None, int]] = {
    MorphKind.GROUP: ("morph", None, 1),
    MorphKind.VERTEX: ("vertex", None, 3),
    MorphKind.BONE: ("bone", None, 7),
    MorphKind.UV: ("vertex", None, 4),
    MorphKind.UV_EXT1: ("vertex", None, 4),
    MorphKind.UV_EXT2: ("vertex", None, 4),
    MorphKind.UV_EXT3: ("vertex", None, 4),
    MorphKind.UV_EXT4: ("vertex", None, 4),
    MorphKind.MATERIAL: ("material", "op", 28),
    MorphKind.FLIP: ("morph", None, 1),
    MorphKind.IMPULSE: ("rigid", "local", 6),
}
# the lowest valid value of a reference (-1 = "none" is allowed where the spec has it)
_MORPH_INDEX_LOW = {MorphKind.MATERIAL: -1}


@dataclass(frozen=True)
class Header:
    version: float
    encoding: str
    extra_uv: int
    vertex_size: int
    texture_size: int
    material_size: int
    bone_size: int
    morph_size: int
    rigid_size: int

    def size_of(self, target: str) -> int:
        return getattr(self, f"{target}_size")


def _vertex_dtype(h: Header, deform: int) -> np.dtype:
    """Packed record dtype of one vertex with this deform type."""
    b = index_dtype(h.bone_size, True)
    names = ["pos", "nrm", "uv"]
    formats: list = [("<f4", (3,)), ("<f4", (3,)), ("<f4", (2,))]
    if h.extra_uv:
        names.append("xuv")
        formats.append(("<f4", (h.extra_uv, 4)))
    names += ["type", "bones"]
    formats += ["u1", (b, (_DEFORM_BONES[deform],))]
    if _DEFORM_WEIGHTS[deform]:
        names.append("w")
        formats.append(("<f4", (_DEFORM_WEIGHTS[deform],)))
    if deform == DeformType.SDEF:
        names.append("sdef")
        formats.append(("<f4", (3, 3)))
    names.append("edge")
    formats.append("<f4")
    return np.dtype({"names": names, "formats": formats})


def _morph_dtype(h: Header, kind: int) -> np.dtype:
    target, extra, nvalues = _MORPH_LAYOUT[kind]
    fields: list = [("i", index_dtype(h.size_of(target), target != "vertex"))]
    if extra:
        fields.append((extra, "u1"))
    fields.append(("v", "<f4", (nvalues,)) if nvalues > 1 else ("v", "<f4"))
    return np.dtype(fields)


class _Refs:
    """Cross references, checked once every section's count is known."""

    def __init__(self) -> None:
        # (target, lowest valid value, value, field, byte offset)
        self.scalars: list[tuple[str, int, int, str, int]] = []
        # (target, lowest valid value, (K,) or (K, C) values, field with "[*]", (K,) offsets, bytes per column)
        self.arrays: list[tuple[str, int, np.ndarray, str, np.ndarray, int]] = []

    def add(self, target: str, value: int, field: str, offset: int, low: int = -1) -> None:
        self.scalars.append((target, low, value, field, offset))

    def add_array(
        self, target: str, values: np.ndarray, field: str, offsets: np.ndarray, low: int = 0, column: int = 0
    ) -> None:
        self.arrays.append((target, low, values, field, offsets, column))

    def check(self, cur: Cursor, counts: dict[str, int]) -> None:
        for target, low, value, field, offset in self.scalars:
            if not low <= value < counts[target]:
                raise cur.error(
                    f"{target} index {value} out of range ({counts[target]} {target}s)", field, offset
                )
        for target, low, values, field, offsets, column in self.arrays:
            if values.size == 0:
                continue
            table = values.reshape(len(values), -1)
            bad = (table < low) | (table >= counts[target])
            if bad.any():
                row, col = np.argwhere(bad)[0].tolist()
                raise cur.error(
                    f"{target} index {int(table[row, col])} out of range ({counts[target]} {target}s)",
                    field.replace("[*]", f"[{row}]"),
                    int(offsets[row]) + col * column,
                )


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
    refs = _Refs()
    _read_vertices(cur, h, model, refs)
    _read_faces(cur, h, model)
    n = cur.count(I32, 4, "texture count")
    model.textures = [cur.text(h.encoding, f"texture[{i}]") for i in range(n)]
    _read_materials(cur, h, model, refs)
    _read_bones(cur, h, model, refs)
    _read_morphs(cur, h, model, refs)
    _read_display_frames(cur, h, model, refs)
    _read_rigid_bodies(cur, h, model, refs)
    _read_joints(cur, h, model, refs)
    if h.version >= 2.1:
        _read_soft_bodies(cur, h, model, refs)
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


def _record_starts(cur: Cursor, start: int, n: int, prefix: int, lut: np.ndarray, what: str) -> np.ndarray:
    """Byte offsets of n variable-size records that begin at `start`.

    Record i's size is lut[byte at record start + prefix] (0 = invalid type byte), so each
    start depends on every earlier type byte. Two vectorized strategies, never a walk over
    the records:
    - runs: assume the next records repeat the current type and check their type bytes
      with one strided slice (windows growing 4x); the first mismatch ends the run. One
      numpy step per run: ideal for generated models (the built-in character has 13 runs).
    - pointer doubling (`_starts_by_doubling`) once runs turn out short (Gene averages
      6 records per run), for the rest of the records.
    """
    u8 = np.frombuffer(cur.data, np.uint8)
    lut8 = lut.astype(np.uint8)
    avail = cur.end - start
    seg_sizes: list[int] = []
    seg_counts: list[int] = []
    pos = done = 0
    tail = np.zeros(0, np.int64)
    while done < n:
        if pos + prefix >= avail or not lut8[u8[start + pos + prefix]]:
            _record_error(cur, start + pos, done, prefix, lut, what)
        if len(seg_sizes) >= 8 and done < 128 * len(seg_sizes):
            tail = _starts_by_doubling(cur, start + pos, n - done, prefix, lut8, what, done) - start
            break
        type_byte = u8[start + pos + prefix]
        size = int(lut8[type_byte])
        run, window = 0, 64
        while done + run < n:
            first = start + prefix + pos + run * size
            cnt = min(window, n - done - run, (cur.end - 1 - first) // size + 1)
            if cnt <= 0:
                break
            same = u8[first : first + (cnt - 1) * size + 1 : size] == type_byte
            if not same.all():
                run += int(np.argmin(same))
                break
            run += cnt
            window *= 4
        seg_sizes.append(size)
        seg_counts.append(run)
        pos += run * size
        done += run
    sizes = np.repeat(np.array(seg_sizes, np.int64), seg_counts)
    head = np.zeros(sizes.size, np.int64)
    np.cumsum(sizes[:-1], out=head[1:])
    if not tail.size:
        last = int(head[-1]) if head.size else 0
        if head.size and last + int(sizes[-1]) > avail:
            _record_error(cur, start + last, n - 1, prefix, lut, what)
    return np.concatenate([head, tail]) + start


def _starts_by_doubling(
    cur: Cursor, start: int, n: int, prefix: int, lut8: np.ndarray, what: str, first_index: int
) -> np.ndarray:
    """`_record_starts` by pointer doubling over every possible record start.

    Every byte offset whose would-be type byte is valid is a candidate node, linked to the
    candidate its record would end at (or to an absorbing sentinel). The chain from offset 0
    is followed 2^k records at a time (the link map squared k times): a short Python walk
    over n / 2^k block anchors, then 2^k vectorized steps fill in every block at once.
    A broken chain (bad type byte, truncation) is reported afterwards.
    """
    u8 = np.frombuffer(cur.data, np.uint8)
    avail = cur.end - start
    region = min(avail, n * int(lut8.max()))
    m = max(0, min(region, avail - prefix))  # offsets whose type byte exists
    sizes = lut8[u8[start + prefix : start + prefix + m]]
    cand = np.flatnonzero(sizes != 0)  # cand[0] == 0: the caller checked the first record
    c = cand.size
    idx_t = np.int32 if max(region, c) < 2**31 - 1 else np.int64
    inv = np.full(region + 1, c, idx_t)  # byte offset -> candidate number, c = not a candidate
    inv[cand] = np.arange(c, dtype=idx_t)
    table = np.empty(c + 1, idx_t)
    table[:c] = inv[np.minimum(cand + sizes[cand], region)]
    table[c] = c  # the sentinel absorbs
    del inv
    # 2^k records per block: a few thousand anchors at most (the Python walk) and few squarings
    k = max(0, math.ceil(math.log2(n) / 3), math.ceil(math.log2(n / 8192))) if n > 1 else 0
    jump = table
    for _ in range(k):
        jump = jump[jump]
    block = 1 << k
    n_blocks = -(-n // block)
    anchors = np.empty(n_blocks, idx_t)
    node = 0
    jump_item = jump.item
    for j in range(n_blocks):
        anchors[j] = node
        node = jump_item(node)
    nodes = np.empty((n_blocks, block), idx_t)
    step = anchors
    for s in range(block):
        nodes[:, s] = step
        step = table[step]
    nodes = nodes.reshape(-1)[:n]
    cand_ext = np.append(cand, region)  # the sentinel's "offset" (never used for a valid record)
    rel = cand_ext[nodes]
    bad = np.flatnonzero(nodes == c)
    if bad.size:
        i = int(bad[0])
        prev = int(rel[i - 1])
        _record_error(cur, start + prev + int(sizes[prev]), first_index + i, prefix, lut8, what)
    last = int(rel[-1])
    if last + int(sizes[last]) > avail:
        _record_error(cur, start + last, first_index + n - 1, prefix, lut8, what)
    return rel + start


def _record_error(cur: Cursor, pos: int, i: int, prefix: int, lut: np.ndarray, what: str) -> None:
    if pos + prefix < cur.end and not lut[cur.data[pos + prefix]]:
        raise cur.error(f"unknown type {cur.data[pos + prefix]}", f"{what}[{i}].deform_type", pos + prefix)
    raise cur.error("truncated record", f"{what}[{i}]", pos)


def _read_vertices(cur: Cursor, h: Header, model: Model, refs: _Refs) -> None:
    prefix = 4 * (8 + 4 * h.extra_uv)
    b = h.bone_size
    deforms = (0, 1, 2, 3, 4) if h.version >= 2.1 else (0, 1, 2, 3)
    dtypes = {t: _vertex_dtype(h, t) for t in deforms}
    lut = np.zeros(256, np.int64)
    for t, dt in dtypes.items():
        lut[t] = dt.itemsize
    n = cur.count(I32, prefix + 1 + b + 4, "vertex count")
    starts = _record_starts(cur, cur.pos, n, prefix, lut, "vertex")
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
        nb = _DEFORM_BONES[t]
        bones[sel, :nb] = rec["bones"].reshape(-1, nb)
        if t == DeformType.BDEF1:
            weights[sel, 0] = 1.0
        elif _DEFORM_WEIGHTS[t] == 1:
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


def _read_materials(cur: Cursor, h: Header, model: Model, refs: _Refs) -> None:
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


def _read_bones(cur: Cursor, h: Header, model: Model, refs: _Refs) -> None:
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


def _read_morphs(cur: Cursor, h: Header, model: Model, refs: _Refs) -> None:
    kinds = range(11) if h.version >= 2.1 else range(9)
    dtypes = {k: _morph_dtype(h, k) for k in kinds}
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
        target, extra, nvalues = _MORPH_LAYOUT[kind]
        indices = rec["i"].astype(np.int32)
        values = rec["v"].astype(np.float32)
        if extra:
            flag = rec[extra]
            if k and flag.max() > 1:
                j = int(np.flatnonzero(flag > 1)[0])
                raise cur.error(
                    f"unknown {extra} value {int(flag[j])}",
                    f"{f}.offsets[{j}].{extra}",
                    start + j * dt.itemsize + dt.fields["i"][0].itemsize,
                )
            values = np.concatenate([flag.astype(np.float32)[:, None], values], axis=1)
        offsets = start + np.arange(k, dtype=np.int64) * dt.itemsize
        refs.add_array(target, indices, f + ".offsets[*].index", offsets, low=_MORPH_INDEX_LOW.get(kind, 0))
        model.morphs.append(
            Morph(name=name, name_en=name_en, panel=panel, kind=kind, indices=indices, values=values)
        )


def _read_display_frames(cur: Cursor, h: Header, model: Model, refs: _Refs) -> None:
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


def _read_rigid_bodies(cur: Cursor, h: Header, model: Model, refs: _Refs) -> None:
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


def _read_joints(cur: Cursor, h: Header, model: Model, refs: _Refs) -> None:
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


def _read_soft_bodies(cur: Cursor, h: Header, model: Model, refs: _Refs) -> None:
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


# ------------------------------------------------------------------------------------------
# writing
# ------------------------------------------------------------------------------------------


def _size_for(count: int, signed: bool) -> int:
    """Smallest PMX index size for `count` items (spec ranges: 1: ..127/255, 2: ..32767/65535)."""
    if count <= (127 if signed else 255):
        return 1
    if count <= (32767 if signed else 65535):
        return 2
    return 4


def header_for(model: Model) -> Header:
    """The header `pmx_bytes` writes for this model (smallest index sizes that fit)."""
    version = 2.1 if model.format == "pmx" and model.version == 2.1 else 2.0
    return Header(
        version=version,
        encoding="utf-8" if model.encoding == "utf-8" else "utf-16-le",
        extra_uv=int(model.extra_uvs.shape[1]) if model.extra_uvs.ndim == 3 else 0,
        vertex_size=_size_for(model.vertex_count, False),
        texture_size=_size_for(len(model.textures), True),
        material_size=_size_for(len(model.materials), True),
        bone_size=_size_for(len(model.bones), True),
        morph_size=_size_for(len(model.morphs), True),
        rigid_size=_size_for(len(model.rigid_bodies), True),
    )


class _Writer:
    def __init__(self, h: Header, path: str | None) -> None:
        self.h = h
        self.path = path
        self.out = bytearray()
        self.idx = {
            t: struct.Struct("<" + index_code(h.size_of(t), t != "vertex"))
            for t in ("vertex", "texture", "material", "bone", "morph", "rigid")
        }

    def error(self, message: str, field: str) -> ModelFormatError:
        return ModelFormatError(f"cannot write: {message}", path=self.path, field=field)

    def text(self, s: str) -> None:
        b = s.encode(self.h.encoding, "surrogatepass")
        self.out += I32.pack(len(b))
        self.out += b

    def pack(self, fmt: str | struct.Struct, *values, field: str = "") -> None:
        try:
            self.out += fmt.pack(*values) if isinstance(fmt, struct.Struct) else struct.pack(fmt, *values)
        except struct.error as exc:
            raise self.error(f"value out of range ({exc})", field) from None

    def index(self, target: str, value: int, field: str) -> None:
        self.pack(self.idx[target], int(value), field=field)

    def floats(self, a: np.ndarray | None, n: int, field: str) -> None:
        arr = np.asarray(a, np.float32).reshape(-1) if a is not None else None
        if arr is None or arr.size != n:
            raise self.error(f"needs {n} floats", field)
        self.out += arr.astype("<f4").tobytes()


def pmx_bytes(model: Model, *, path: str | Path | None = None) -> bytes:
    """Serialize `model` as PMX (see the module docstring for the choices made)."""
    h = header_for(model)
    w = _Writer(h, str(path) if path is not None else None)
    if h.version < 2.1:
        _check_no_21(model, w)
    w.out += MAGIC + F32.pack(h.version)
    w.out += bytes(
        [
            8,
            1 if h.encoding == "utf-8" else 0,
            h.extra_uv,
            h.vertex_size,
            h.texture_size,
            h.material_size,
            h.bone_size,
            h.morph_size,
            h.rigid_size,
        ]
    )
    for s in (model.name, model.name_en, model.comment, model.comment_en):
        w.text(s)
    _write_vertices(w, model)
    w.pack(I32, model.faces.size)
    vdt = index_dtype(h.vertex_size, False)
    faces = np.asarray(model.faces).reshape(-1)
    if faces.size and (faces.min() < 0 or faces.max() >= model.vertex_count):
        raise w.error("face vertex index out of range", "faces")
    w.out += faces.astype(vdt).tobytes()
    w.pack(I32, len(model.textures))
    for t in model.textures:
        w.text(t)
    _write_materials(w, model)
    _write_bones(w, model)
    _write_morphs(w, model)
    w.pack(I32, len(model.display_frames))
    for i, frame in enumerate(model.display_frames):
        w.text(frame.name)
        w.text(frame.name_en)
        w.pack(U8, int(frame.special))
        w.pack(I32, len(frame.items))
        for kind, value in frame.items:
            w.pack(U8, kind, field=f"display_frame[{i}].kind")
            w.index("morph" if kind else "bone", value, f"display_frame[{i}].items")
    w.pack(I32, len(model.rigid_bodies))
    for i, r in enumerate(model.rigid_bodies):
        w.text(r.name)
        w.text(r.name_en)
        w.index("bone", r.bone, f"rigid_body[{i}].bone")
        w.pack("<BHB", r.group, r.no_collide_mask, r.shape, field=f"rigid_body[{i}]")
        for a in (r.size, r.position, r.rotation):
            w.floats(a, 3, f"rigid_body[{i}]")
        w.pack(
            "<5fB",
            r.mass,
            r.linear_damping,
            r.angular_damping,
            r.restitution,
            r.friction,
            r.mode,
            field=f"rigid_body[{i}]",
        )
    w.pack(I32, len(model.joints))
    for i, j in enumerate(model.joints):
        w.text(j.name)
        w.text(j.name_en)
        w.pack(U8, j.kind, field=f"joint[{i}].kind")
        w.index("rigid", j.body_a, f"joint[{i}].body_a")
        w.index("rigid", j.body_b, f"joint[{i}].body_b")
        for a in j.vectors():
            w.floats(a, 3, f"joint[{i}]")
    if h.version >= 2.1:
        _write_soft_bodies(w, model)
    return bytes(w.out)


def _check_no_21(model: Model, w: _Writer) -> None:
    if model.deform_types.size and int(model.deform_types.max()) > DeformType.SDEF:
        raise w.error("QDEF vertices need PMX 2.1 (set model.version = 2.1)", "deform_types")
    if any(m.kind > MorphKind.MATERIAL for m in model.morphs):
        raise w.error("flip/impulse morphs need PMX 2.1 (set model.version = 2.1)", "morphs")
    if any(j.kind for j in model.joints):
        raise w.error("joint kinds other than spring 6DOF need PMX 2.1", "joints")
    if model.soft_bodies:
        raise w.error("soft bodies need PMX 2.1", "soft_bodies")


def _write_vertices(w: _Writer, model: Model) -> None:
    h = w.h
    n = model.vertex_count
    types = np.asarray(model.deform_types)
    if types.shape != (n,):
        raise w.error(f"deform_types has shape {types.shape}, expected ({n},)", "deform_types")
    if n and int(types.max()) > 4:
        raise w.error(f"unknown deform type {int(types.max())}", "deform_types")
    dtypes = {t: _vertex_dtype(h, t) for t in range(5)}
    sizes = np.array([dtypes[t].itemsize for t in range(5)], np.int64)[types.astype(np.int64)]
    starts = np.zeros(n, np.int64)
    if n:
        np.cumsum(sizes[:-1], out=starts[1:])
    total = int(sizes.sum())
    buf = np.zeros(total, np.uint8)
    bmax = len(model.bones)
    bi = np.asarray(model.bone_indices)
    if n and (bi.min() < -1 or bi.max() >= bmax):
        raise w.error("vertex bone index out of range", "bone_indices")
    for t in np.unique(types).tolist():
        dt = dtypes[t]
        sel = np.flatnonzero(types == t)
        rec = np.zeros(sel.size, dt)
        rec["pos"] = model.positions[sel]
        rec["nrm"] = model.normals[sel]
        rec["uv"] = model.uvs[sel]
        if h.extra_uv:
            rec["xuv"] = model.extra_uvs[sel]
        rec["type"] = t
        nb = _DEFORM_BONES[t]
        rec["bones"] = bi[sel, :nb].reshape(rec["bones"].shape)
        nw = _DEFORM_WEIGHTS[t]
        if nw:
            rec["w"] = model.bone_weights[sel, :nw].reshape(rec["w"].shape)
        if t == DeformType.SDEF:
            rec["sdef"] = model.sdef[sel]
        rec["edge"] = model.edge_scales[sel]
        if total:
            window = np.lib.stride_tricks.as_strided(buf, (total - dt.itemsize + 1, dt.itemsize), (1, 1))
            window[starts[sel]] = rec.view(np.uint8).reshape(sel.size, dt.itemsize)
    w.pack(I32, n)
    w.out += buf.tobytes()


def _write_materials(w: _Writer, model: Model) -> None:
    w.pack(I32, len(model.materials))
    face_end = 0
    for i, m in enumerate(model.materials):
        f = f"material[{i}]"
        if m.face_start != face_end:
            raise w.error(
                f"face_start {m.face_start}, expected {face_end} (materials cover triangles in order)", f
            )
        face_end += m.face_count
        w.text(m.name)
        w.text(m.name_en)
        w.floats(m.diffuse, 4, f + ".diffuse")
        w.floats(m.specular, 3, f + ".specular")
        w.pack(F32, m.specular_power, field=f)
        w.floats(m.ambient, 3, f + ".ambient")
        w.pack(U8, m.flags, field=f + ".flags")
        w.floats(m.edge_color, 4, f + ".edge_color")
        w.pack(F32, m.edge_size, field=f)
        w.index("texture", m.texture, f + ".texture")
        w.index("texture", m.sphere_texture, f + ".sphere_texture")
        w.pack("<BB", m.sphere_mode, int(m.toon_shared), field=f)
        if m.toon_shared:
            w.pack(U8, m.toon_index, field=f + ".toon_index")
        else:
            w.index("texture", m.toon_index, f + ".toon_index")
        w.text(m.comment)
        w.pack(I32, 3 * m.face_count, field=f)
    if model.materials and face_end != model.face_count:
        raise w.error(f"materials cover {face_end} of {model.face_count} triangles", "materials")


def _write_bones(w: _Writer, model: Model) -> None:
    w.pack(I32, len(model.bones))
    for i, b in enumerate(model.bones):
        f = f"bone[{i}]"
        w.text(b.name)
        w.text(b.name_en)
        w.floats(b.position, 3, f + ".position")
        w.index("bone", b.parent, f + ".parent")
        w.pack("<iH", b.layer, b.flags, field=f)
        if b.flags & BoneFlag.TAIL_IS_BONE:
            w.index("bone", b.tail_bone, f + ".tail_bone")
        else:
            w.floats(b.tail_offset, 3, f + ".tail_offset")
        if b.flags & (BoneFlag.INHERIT_ROTATION | BoneFlag.INHERIT_TRANSLATION):
            w.index("bone", b.inherit_parent, f + ".inherit_parent")
            w.pack(F32, b.inherit_weight, field=f)
        if b.flags & BoneFlag.FIXED_AXIS:
            w.floats(b.fixed_axis, 3, f + ".fixed_axis")
        if b.flags & BoneFlag.LOCAL_AXES:
            w.floats(b.local_x, 3, f + ".local_x")
            w.floats(b.local_z, 3, f + ".local_z")
        if b.flags & BoneFlag.EXTERNAL_PARENT:
            if b.external_key is None:
                raise w.error("EXTERNAL_PARENT flag without external_key", f)
            w.pack(I32, b.external_key, field=f)
        if b.flags & BoneFlag.IK:
            if b.ik is None:
                raise w.error("IK flag without ik", f)
            w.index("bone", b.ik.target, f + ".ik.target")
            w.pack("<ifi", b.ik.loop_count, b.ik.limit_angle, len(b.ik.links), field=f + ".ik")
            for lk in b.ik.links:
                w.index("bone", lk.bone, f + ".ik.links")
                has = lk.limit_min is not None
                w.pack(U8, int(has))
                if has:
                    w.floats(lk.limit_min, 3, f + ".ik.links")
                    w.floats(lk.limit_max, 3, f + ".ik.links")


def _write_morphs(w: _Writer, model: Model) -> None:
    w.pack(I32, len(model.morphs))
    for i, m in enumerate(model.morphs):
        f = f"morph[{i}]"
        w.text(m.name)
        w.text(m.name_en)
        if m.kind not in _MORPH_LAYOUT:
            raise w.error(f"unknown morph kind {m.kind}", f)
        w.pack("<BB", m.panel, int(m.kind), field=f)
        dt = _morph_dtype(w.h, m.kind)
        target, extra, nvalues = _MORPH_LAYOUT[m.kind]
        k = len(m.indices)
        cols = nvalues + (1 if extra else 0)
        values = np.asarray(m.values, np.float32)
        if values.size != k * cols or values.shape[:1] != (k,):
            raise w.error(f"values have shape {values.shape}, kind {m.kind} needs ({k}, {cols})", f)
        values = values.reshape(k, cols)
        rec = np.zeros(k, dt)
        info = np.iinfo(dt["i"])
        if k and (np.min(m.indices) < info.min or np.max(m.indices) > info.max):
            raise w.error("morph offset index out of range for its index size", f)
        rec["i"] = m.indices
        if extra:
            rec[extra] = values[:, 0]
            values = values[:, 1:]
        rec["v"] = values.reshape(rec["v"].shape)
        w.pack(I32, k)
        w.out += rec.tobytes()


def _write_soft_bodies(w: _Writer, model: Model) -> None:
    w.pack(I32, len(model.soft_bodies))
    h = w.h
    anchor_dt = np.dtype(
        [
            ("body", index_dtype(h.rigid_size, True)),
            ("vertex", index_dtype(h.vertex_size, False)),
            ("near", "u1"),
        ]
    )
    for i, s in enumerate(model.soft_bodies):
        f = f"soft_body[{i}]"
        w.text(s.name)
        w.text(s.name_en)
        w.pack(U8, s.shape, field=f)
        w.index("material", s.material, f + ".material")
        w.pack(
            "<BHBiiffi",
            s.group,
            s.no_collide_mask,
            s.flags,
            s.b_link_distance,
            s.clusters,
            s.total_mass,
            s.margin,
            s.aero_model,
            field=f,
        )
        w.floats(s.config, 12, f + ".config")
        w.floats(s.cluster, 6, f + ".cluster")
        w.out += np.asarray(s.iteration, "<i4").reshape(4).tobytes()
        w.floats(s.material_params, 3, f + ".material_params")
        anchors = np.asarray(s.anchors).reshape(-1, 3)
        rec = np.zeros(len(anchors), anchor_dt)
        rec["body"], rec["vertex"], rec["near"] = anchors[:, 0], anchors[:, 1], anchors[:, 2]
        w.pack(I32, len(anchors))
        w.out += rec.tobytes()
        pins = np.asarray(s.pins).reshape(-1)
        w.pack(I32, len(pins))
        w.out += pins.astype(index_dtype(h.vertex_size, False)).tobytes()


def write_pmx(model: Model, path: str | Path) -> None:
    """Write `model` to `path` as PMX atomically (a temporary file in the same folder, then rename)."""
    path = Path(path)
    data = pmx_bytes(model, path=path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
