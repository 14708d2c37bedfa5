"""PMD 1.0 reader: `read_pmd`, the order of the file's sections, and the sections copied
almost as they are (vertices, faces, morphs, names, display frames).

Materials (rigs/formats/pmd/materials.py), bones and IK (bones.py) and physics (physics.py)
are converted in modules of their own; this module reads every section in file order and
hands each to its reader. Conversions done here:

- Vertices: BDEF1 when both bone indices are equal, else BDEF2 with weight = byte / 100;
  the edge-off byte becomes edge scale 0.0 (else 1.0).
- Morphs: the `base` morph (absolute vertex indices) is not kept; every other morph becomes
  a VERTEX morph with absolute vertex indices, panel = its PMD type. Gene: 178 PMD morphs ->
  177 vertex morphs.
- Display frames are built like PMX's: "Root" (bone 0), "表情" (the morph display list,
  minus the base), then one frame per PMD bone display group.
- The English block, the toon table and the physics block are optional (older files end
  before them); the file may end only at one of those section boundaries.
"""

from __future__ import annotations

import numpy as np

from thagen.rigs.formats.binary import U8, U16, U32, Cursor
from thagen.rigs.formats.pmd.bones import finish_bones, read_bones, read_iks
from thagen.rigs.formats.pmd.layout import MAGIC, MORPH_OFFSET, VERTEX
from thagen.rigs.formats.pmd.materials import finish_materials, read_materials
from thagen.rigs.formats.pmd.physics import read_physics
from thagen.rigs.model import DeformType, DisplayFrame, Model, Morph, MorphKind


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
    mats = read_materials(cur, model)
    types, tails, iks = read_bones(cur, model)
    read_iks(cur, model)
    finish_bones(cur, model, types, tails, iks, vertices_at)
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
    finish_materials(cur, model, mats, toon_names)
    if cur.remaining:
        read_physics(cur, model)
    if cur.remaining:
        raise cur.error(f"{cur.remaining} unexpected bytes after the last section", "end of file")
    _build_display_frames(model, morph_display, disp_names, disp_en, disp_items)
    return model


def _read_vertices(cur: Cursor, model: Model) -> int:
    """Returns where the vertex records start (bone indices are checked once bones are read)."""
    n = cur.count(U32, VERTEX.itemsize, "vertex count")
    start = cur.pos
    v = cur.array(VERTEX, n, "vertices")
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


def _read_morphs(cur: Cursor, model: Model) -> np.ndarray:
    """Reads the morphs; returns the morph display list as model morph indices (base left out)."""
    n = cur.count(U16, 25, "morph count")
    base_idx = np.zeros(0, np.int64)
    for i in range(n):
        f = f"morph[{i}]"
        name = cur.fixed_text(20, f + ".name")
        k = cur.count(U32, MORPH_OFFSET.itemsize, f + ".offset count")
        kind = cur.enum(U8, (0,) if i == 0 else range(1, 5), f + ".type")
        start = cur.pos
        rec = cur.array(MORPH_OFFSET, k, f + ".offsets")
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
