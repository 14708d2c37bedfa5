"""PMD 1.0 reader: fills the same `Model` as the PMX reader.

Conversions (PMD has no PMX counterpart for these, so they follow what MMD itself does):
- Texts are cp932 in fixed 20/50/256-byte fields, cut at the first NUL (a name cut in the
  middle of a two-byte character loses that half character).
- Vertices: BDEF1 when both bone indices are equal, else BDEF2 with weight = byte / 100;
  the edge-off byte becomes edge scale 0.0 (else 1.0).
- Materials get the names `材質N` / `MaterialN` (PMD has none). "tex.bmp*sph.spa" splits
  into texture and sphere (.sph multiply, .spa add); a lone .sph/.spa name is a sphere.
  Alpha < 1 means double-sided, alpha 0.98 turns self shadow off, the edge byte turns on
  edge and ground shadow. Toon index 255 = none; a toon table entry named toon01.bmp ..
  toon10.bmp is MMD's shared toon, any other name becomes a texture.
- Bone types become PMX flags: 1 and 2 translatable, 5 inherits rotation from the IK-field
  bone (weight 1), 6/7/9 hidden, 8 (twist) gets a fixed axis towards its tail, 9 inherits
  rotation from its tail-field bone with weight ik-field / 100. A tail index of 0 means none.
  IK limit angle = control weight * 4 (radians); links named "...ひざ" (knees) get MMD's
  implicit X limit [-180, -0.5] degrees.
- Morphs: the `base` morph (absolute vertex indices) is not kept; every other morph becomes
  a VERTEX morph with absolute vertex indices, panel = its PMD type. Gene: 178 PMD morphs ->
  177 vertex morphs.
- Display frames are built like PMX's: "Root" (bone 0), "表情" (the morph display list,
  minus the base), then one frame per PMD bone display group.
- Rigid body positions are stored relative to their bone (bone 0 when none): made absolute.
- The English block, the toon table and the physics block are optional (older files end
  before them); the file may end only at one of those section boundaries.
"""

from __future__ import annotations

import math
import re
import struct

import numpy as np

from thagen.rigs.formats.binary import U8, U16, U32, Cursor, decode_fixed
from thagen.rigs.model import (
    IK,
    Bone,
    BoneFlag,
    DeformType,
    DisplayFrame,
    IKLink,
    Joint,
    Material,
    MaterialFlag,
    Model,
    Morph,
    MorphKind,
    RigidBody,
)

MAGIC = b"Pmd"
_VERTEX = np.dtype(
    [
        ("pos", "<f4", (3,)),
        ("nrm", "<f4", (3,)),
        ("uv", "<f4", (2,)),
        ("bones", "<u2", (2,)),
        ("w", "u1"),
        ("edge", "u1"),
    ]
)
_MATERIAL = np.dtype(
    [
        ("diffuse", "<f4", (3,)),
        ("alpha", "<f4"),
        ("power", "<f4"),
        ("specular", "<f4", (3,)),
        ("ambient", "<f4", (3,)),
        ("toon", "u1"),
        ("edge", "u1"),
        ("count", "<u4"),
        ("tex", "S20"),
    ]
)
_BONE = np.dtype(
    [("name", "V20"), ("parent", "<u2"), ("tail", "<u2"), ("type", "u1"), ("ik", "<u2"), ("pos", "<f4", (3,))]
)
_MORPH_OFFSET = np.dtype([("i", "<u4"), ("v", "<f4", (3,))])
_RIGID = np.dtype(
    [
        ("name", "V20"),
        ("bone", "<u2"),
        ("group", "u1"),
        ("mask", "<u2"),
        ("shape", "u1"),
        ("size", "<f4", (3,)),
        ("pos", "<f4", (3,)),
        ("rot", "<f4", (3,)),
        ("params", "<f4", (5,)),
        ("mode", "u1"),
    ]
)
_JOINT = np.dtype([("name", "V20"), ("a", "<i4"), ("b", "<i4"), ("v", "<f4", (8, 3))])
_IK_HEAD = struct.Struct("<HHBHf")
_NONE16 = 0xFFFF
_SHARED_TOON = re.compile(r"toon(0[1-9]|10)\.bmp", re.IGNORECASE)
_KNEE_MIN = np.array([math.radians(-180.0), 0.0, 0.0], np.float32)
_KNEE_MAX = np.array([math.radians(-0.5), 0.0, 0.0], np.float32)

assert _VERTEX.itemsize == 38 and _MATERIAL.itemsize == 70 and _BONE.itemsize == 39
assert _RIGID.itemsize == 83 and _JOINT.itemsize == 124


def _name(cur: Cursor, raw: bytes, field: str, offset: int) -> str:
    try:
        return decode_fixed(bytes(raw))
    except UnicodeDecodeError as exc:
        raise cur.error(f"invalid cp932 text ({exc.reason})", field, offset + exc.start) from None


def read_pmd(data: bytes, path: str | None = None, trace: list | None = None) -> Model:
    """Parse a whole PMD file held in `data` (`path` only names it in errors)."""
    cur = Cursor(data, path, trace=trace)
    if cur.raw(3, "magic") != MAGIC:
        raise cur.error("not a PMD file (magic is not 'Pmd')", "magic", 0)
    version = cur.f32("version")
    if version != 1.0:
        raise cur.error(f"unsupported PMD version {version!r} (1.0 is supported)", "version", 3)
    model = Model(format="pmd", version=1.0, encoding="cp932")
    model.name = cur.fixed_text(20, "model name")
    model.comment = cur.fixed_text(256, "model comment")
    vertices_at = _read_vertices(cur, model)
    _read_faces(cur, model)
    mats = _read_materials(cur, model)
    types, tails, iks = _read_bones(cur, model)
    _read_iks(cur, model)
    _finish_bones(cur, model, types, tails, iks, vertices_at)
    morph_display = _read_morphs(cur, model)
    disp_names, disp_items = _read_bone_display(cur, model)
    disp_en = [""] * len(disp_names)
    toon_names = [f"toon{i:02d}.bmp" for i in range(1, 11)]
    if cur.remaining:
        has_english = cur.enum(U8, (0, 1), "English names flag")
        if has_english:
            disp_en = _read_english(cur, model, len(disp_names))
    if cur.remaining:
        toon_names = [cur.fixed_text(100, f"toon texture[{i}]") for i in range(10)]
    _finish_materials(cur, model, mats, toon_names)
    if cur.remaining:
        _read_physics(cur, model)
    if cur.remaining:
        raise cur.error(f"{cur.remaining} unexpected bytes after the last section", "end of file")
    _build_display_frames(model, morph_display, disp_names, disp_en, disp_items)
    return model


def _read_vertices(cur: Cursor, model: Model) -> int:
    """Returns where the vertex records start (bone indices are checked once bones are read)."""
    n = cur.count(U32, _VERTEX.itemsize, "vertex count")
    start = cur.pos
    v = cur.array(_VERTEX, n, "vertices")
    model.positions = v["pos"].astype(np.float32)
    model.normals = v["nrm"].astype(np.float32)
    model.uvs = v["uv"].astype(np.float32)
    model.extra_uvs = np.zeros((n, 0, 4), np.float32)
    bones = v["bones"].astype(np.int32)
    w = v["w"]
    if n and w.max() > 100:
        i = int(np.flatnonzero(w > 100)[0])
        raise cur.error(f"bone weight {int(w[i])} (0-100)", f"vertex[{i}].weight", start + i * 38 + 36)
    if n and v["edge"].max() > 1:
        i = int(np.flatnonzero(v["edge"] > 1)[0])
        raise cur.error(f"unknown edge flag {int(v['edge'][i])}", f"vertex[{i}].edge", start + i * 38 + 37)
    single = bones[:, 0] == bones[:, 1]
    model.deform_types = np.where(single, DeformType.BDEF1, DeformType.BDEF2).astype(np.uint8)
    model.bone_indices = np.full((n, 4), -1, np.int32)
    model.bone_indices[:, 0] = bones[:, 0]
    model.bone_indices[:, 1] = np.where(single, -1, bones[:, 1])
    w0 = w.astype(np.float32) / np.float32(100.0)
    model.bone_weights = np.zeros((n, 4), np.float32)
    model.bone_weights[:, 0] = np.where(single, np.float32(1.0), w0)
    model.bone_weights[:, 1] = np.where(single, np.float32(0.0), np.float32(1.0) - w0)
    model.sdef = np.zeros((n, 3, 3), np.float32)
    model.edge_scales = np.where(v["edge"] == 0, np.float32(1.0), np.float32(0.0)).astype(np.float32)
    return start


def _read_faces(cur: Cursor, model: Model) -> None:
    at = cur.pos
    n = cur.count(U32, 2, "face index count")
    if n % 3:
        raise cur.error(f"face index count {n} is not a multiple of 3", "face index count", at)
    start = cur.pos
    idx = cur.array("<u2", n, "faces").astype(np.int32)
    if n and idx.max() >= model.vertex_count:
        i = int(np.flatnonzero(idx >= model.vertex_count)[0])
        raise cur.error(
            f"vertex index {int(idx[i])} out of range ({model.vertex_count} vertices)",
            f"faces[{i // 3}]",
            start + 2 * i,
        )
    model.faces = idx.reshape(-1, 3)


def _read_materials(cur: Cursor, model: Model) -> tuple[np.ndarray, int]:
    n = cur.count(U32, _MATERIAL.itemsize, "material count")
    start = cur.pos
    mats = cur.array(_MATERIAL, n, "materials")
    counts = mats["count"].astype(np.int64)
    if n and np.any(counts % 3):
        i = int(np.flatnonzero(counts % 3)[0])
        raise cur.error(
            f"index count {int(counts[i])} is not a multiple of 3",
            f"material[{i}].index_count",
            start + 70 * i + 46,
        )
    if n and counts.sum() != 3 * model.face_count:
        raise cur.error(
            f"materials cover {int(counts.sum()) // 3} of {model.face_count} triangles",
            "material index counts",
            start,
        )
    toon = mats["toon"]
    bad = np.flatnonzero((toon > 9) & (toon != 255))
    if bad.size:
        i = int(bad[0])
        raise cur.error(f"toon index {int(toon[i])} (0-9 or 255)", f"material[{i}].toon", start + 70 * i + 44)
    if n and mats["edge"].max() > 1:
        i = int(np.flatnonzero(mats["edge"] > 1)[0])
        raise cur.error(
            f"unknown edge flag {int(mats['edge'][i])}", f"material[{i}].edge", start + 70 * i + 45
        )
    return mats, start


def _finish_materials(
    cur: Cursor, model: Model, mats_at: tuple[np.ndarray, int], toon_names: list[str]
) -> None:
    mats, start = mats_at
    textures: dict[str, int] = {}

    def texture(name: str) -> int:
        if name not in textures:
            textures[name] = len(textures)
        return textures[name]

    face_start = 0
    for i, m in enumerate(mats):
        at = start + 70 * i
        raw = bytes(m["tex"])
        tex_name = _name(cur, raw, f"material[{i}].texture", at + 50)
        mat = Material(name=f"材質{i + 1}", name_en=f"Material{i + 1}")
        alpha = np.float32(m["alpha"])
        mat.diffuse = np.array([*m["diffuse"], alpha], np.float32)
        mat.specular = m["specular"].astype(np.float32)
        mat.specular_power = float(m["power"])
        mat.ambient = m["ambient"].astype(np.float32)
        edge = bool(m["edge"])
        flags = 0
        if alpha < 1.0:
            flags |= MaterialFlag.DOUBLE_SIDED
        if abs(float(alpha) - 0.98) > 1e-6:
            flags |= MaterialFlag.SELF_SHADOW_MAP | MaterialFlag.SELF_SHADOW
        if edge:
            flags |= MaterialFlag.EDGE | MaterialFlag.GROUND_SHADOW
        mat.flags = int(flags)
        parts = [p for p in tex_name.split("*")] if tex_name else []
        if len(parts) > 2:
            raise cur.error(
                f"texture name {tex_name!r} has more than one '*'", f"material[{i}].texture", at + 50
            )
        for part in parts:
            if not part:
                continue
            low = part.lower()
            if low.endswith((".sph", ".spa")) and (len(parts) == 2 or mat.texture < 0):
                mat.sphere_texture = texture(part)
                mat.sphere_mode = 2 if low.endswith(".spa") else 1
            else:
                mat.texture = texture(part)
        toon = int(m["toon"])
        if toon != 255:
            name = toon_names[toon]
            match = _SHARED_TOON.fullmatch(name)
            if match:
                mat.toon_shared, mat.toon_index = True, int(match.group(1)) - 1
            elif name:
                mat.toon_index = texture(name)
        count = int(m["count"]) // 3
        mat.face_start, mat.face_count = face_start, count
        face_start += count
        model.materials.append(mat)
    model.textures = list(textures)


def _read_bones(cur: Cursor, model: Model) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = cur.count(U16, _BONE.itemsize, "bone count")
    start = cur.pos
    rec = cur.array(_BONE, n, "bones")
    for i in range(n):
        at = start + 39 * i
        bone = Bone(name=_name(cur, rec["name"][i].tobytes(), f"bone[{i}].name", at))
        parent = int(rec["parent"][i])
        bone.parent = -1 if parent == _NONE16 else parent
        if not -1 <= bone.parent < n:
            raise cur.error(f"bone index {parent} out of range ({n} bones)", f"bone[{i}].parent", at + 20)
        bone.position = rec["pos"][i].astype(np.float32)
        model.bones.append(bone)
    types = rec["type"]
    if n and types.max() > 9:
        i = int(np.flatnonzero(types > 9)[0])
        raise cur.error(f"unknown bone type {int(types[i])}", f"bone[{i}].type", start + 39 * i + 24)
    return types, rec["tail"], rec["ik"]


def _read_iks(cur: Cursor, model: Model) -> None:
    nb = len(model.bones)
    n = cur.count(U16, _IK_HEAD.size, "IK count")
    for i in range(n):
        f = f"ik[{i}]"
        at = cur.pos
        bone, target, length, loops, weight = cur.unpack(_IK_HEAD, f)
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


def _finish_bones(
    cur: Cursor, model: Model, types: np.ndarray, tails: np.ndarray, iks: np.ndarray, vertices_at: int
) -> None:
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
        if t not in (8, 9) and 0 < tail != _NONE16:
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


def _read_morphs(cur: Cursor, model: Model) -> np.ndarray:
    """Reads the morphs; returns the morph display list as model morph indices (base left out)."""
    n = cur.count(U16, 25, "morph count")
    base_idx = np.zeros(0, np.int64)
    for i in range(n):
        f = f"morph[{i}]"
        name = cur.fixed_text(20, f + ".name")
        k = cur.count(U32, _MORPH_OFFSET.itemsize, f + ".offset count")
        kind = cur.enum(U8, (0,) if i == 0 else range(1, 5), f + ".type")
        start = cur.pos
        rec = cur.array(_MORPH_OFFSET, k, f + ".offsets")
        idx = rec["i"].astype(np.int64)
        limit, what = (model.vertex_count, "vertex") if i == 0 else (base_idx.size, "base morph entry")
        if k and idx.max() >= limit:
            j = int(np.flatnonzero(idx >= limit)[0])
            raise cur.error(
                f"{what} index {int(idx[j])} out of range ({limit})",
                f"{f}.offsets[{j}].index",
                start + 16 * j,
            )
        if i == 0:
            base_idx = idx
            continue
        model.morphs.append(
            Morph(
                name=name,
                panel=kind,
                kind=MorphKind.VERTEX,
                indices=base_idx[idx].astype(np.int32),
                values=rec["v"].astype(np.float32).reshape(-1, 3),
            )
        )
    k = cur.count(U8, 2, "morph display count")
    start = cur.pos
    disp = cur.array("<u2", k, "morph display list").astype(np.int64)
    if k and disp.max() >= n:
        j = int(np.flatnonzero(disp >= n)[0])
        raise cur.error(
            f"morph index {int(disp[j])} out of range ({n} morphs)", f"morph display[{j}]", start + 2 * j
        )
    return disp[disp > 0] - 1


def _read_bone_display(cur: Cursor, model: Model) -> tuple[list[str], np.ndarray]:
    n = cur.count(U8, 50, "bone display name count")
    names = [cur.fixed_text(50, f"bone display name[{i}]").strip() for i in range(n)]
    k = cur.count(U32, 3, "bone display count")
    start = cur.pos
    items = cur.array(np.dtype([("bone", "<u2"), ("frame", "u1")]), k, "bone display list")
    nb = len(model.bones)
    if k and items["bone"].max() >= nb:
        j = int(np.flatnonzero(items["bone"] >= nb)[0])
        raise cur.error(
            f"bone index {int(items['bone'][j])} out of range ({nb} bones)",
            f"bone display[{j}].bone",
            start + 3 * j,
        )
    if k and (items["frame"].min() < 1 or items["frame"].max() > n):
        j = int(np.flatnonzero((items["frame"] < 1) | (items["frame"] > n))[0])
        raise cur.error(
            f"display group {int(items['frame'][j])} out of range (1-{n})",
            f"bone display[{j}].group",
            start + 3 * j + 2,
        )
    return names, items


def _read_english(cur: Cursor, model: Model, n_display: int) -> list[str]:
    """Fills the English names; returns the bone display groups' English names."""
    model.name_en = cur.fixed_text(20, "model English name")
    model.comment_en = cur.fixed_text(256, "model English comment")
    nb = len(model.bones)
    cur.need(20 * nb, "bone English names")
    for i, bone in enumerate(model.bones):
        bone.name_en = cur.fixed_text(20, f"bone[{i}].name_en")
    cur.need(20 * len(model.morphs), "morph English names")
    for i, morph in enumerate(model.morphs):
        morph.name_en = cur.fixed_text(20, f"morph[{i + 1}].name_en")
    cur.need(50 * n_display, "bone display English names")
    return [cur.fixed_text(50, f"bone display name[{i}].name_en").strip() for i in range(n_display)]


def _read_physics(cur: Cursor, model: Model) -> None:
    n = cur.count(U32, _RIGID.itemsize, "rigid body count")
    start = cur.pos
    rec = cur.array(_RIGID, n, "rigid bodies")
    nb = len(model.bones)
    for i in range(n):
        at = start + 83 * i
        f = f"rigid_body[{i}]"
        r = RigidBody(name=_name(cur, rec["name"][i].tobytes(), f + ".name", at))
        bone = int(rec["bone"][i])
        r.bone = -1 if bone == _NONE16 else bone
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
    n = cur.count(U32, _JOINT.itemsize, "joint count")
    start = cur.pos
    rec = cur.array(_JOINT, n, "joints")
    nr = len(model.rigid_bodies)
    for i in range(n):
        at = start + 124 * i
        f = f"joint[{i}]"
        j = Joint(name=_name(cur, rec["name"][i].tobytes(), f + ".name", at))
        j.body_a, j.body_b = int(rec["a"][i]), int(rec["b"][i])
        for value, off, what in ((j.body_a, 20, "body_a"), (j.body_b, 24, "body_b")):
            if not -1 <= value < nr:
                raise cur.error(f"rigid body index {value} out of range ({nr})", f"{f}.{what}", at + off)
        v = rec["v"][i].astype(np.float32)
        j.set_vectors(v)
        model.joints.append(j)


def _build_display_frames(
    model: Model, morph_display: np.ndarray, names: list[str], names_en: list[str], items: np.ndarray
) -> None:
    root = DisplayFrame(name="Root", name_en="Root", special=True, items=[(0, 0)] if model.bones else [])
    exp = DisplayFrame(name="表情", name_en="Exp", special=True, items=[(1, int(i)) for i in morph_display])
    frames = [root, exp]
    for name, name_en in zip(names, names_en):
        frames.append(DisplayFrame(name=name, name_en=name_en))
    for bone, group in zip(items["bone"].tolist(), items["frame"].tolist()):
        frames[1 + group].items.append((0, bone))
    model.display_frames = frames
