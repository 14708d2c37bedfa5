"""PMX writer (`Model` -> bytes); rigs/formats/pmx/reader.py re-exports it beside the reader.

Writes PMX 2.0, or 2.1 when `model.version == 2.1`, with the smallest index sizes that fit
(the spec's ranges), UTF-16LE unless `model.encoding == "utf-8"`; it does not remember a
file's own index sizes (Model has no field for them). Reading what it wrote gives back an
equal `Model`; rewriting a file the reader read gives the same bytes when the file used the
smallest index sizes (Gene does).
"""

from __future__ import annotations

import os
import struct
import tempfile
from pathlib import Path

import numpy as np

from thagen.errors import ModelFormatError
from thagen.rigs.formats.binary import F32, I32, U8, index_code, index_dtype
from thagen.rigs.formats.pmx.layout import (
    DEFORM_BONES,
    DEFORM_WEIGHTS,
    MAGIC,
    MORPH_LAYOUT,
    Header,
    morph_dtype,
    vertex_dtype,
)
from thagen.rigs.model import BoneFlag, DeformType, Model, MorphKind


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

    def pack(self, fmt: str | struct.Struct, *values: object, field: str = "") -> None:
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
    dtypes = {t: vertex_dtype(h, t) for t in range(5)}
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
        nb = DEFORM_BONES[t]
        rec["bones"] = bi[sel, :nb].reshape(rec["bones"].shape)
        nw = DEFORM_WEIGHTS[t]
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
        if m.kind not in MORPH_LAYOUT:
            raise w.error(f"unknown morph kind {m.kind}", f)
        w.pack("<BB", m.panel, int(m.kind), field=f)
        dt = morph_dtype(w.h, m.kind)
        target, extra, nvalues = MORPH_LAYOUT[m.kind]
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
    """Write `model` to `path` as PMX atomically (a temporary file in the same folder, fsync, rename)."""
    path = Path(path)
    data = pmx_bytes(model, path=path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())  # the bytes are on disk before the name points at them
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
