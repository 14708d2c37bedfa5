"""glTF mesh primitives -> the vertex, face, material and morph-target arrays of `Model`.

Every primitive is read with one numpy array per accessor and put in its rest pose in world
space, then converted to MMD axes (see rigs/formats/vrm/reader.py). Skinned vertices take the weighted sum of
joint-world x inverse-bind matrices, so a mesh bound in another pose still stands in the node
rest pose the bones describe. Up to 4 influences per vertex are kept (the largest, in stored
order), weights renormalized; more JOINTS_n / WEIGHTS_n sets are merged first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from thagen.rigs.coordinates import MMD_SCALE
from thagen.rigs.formats.gltf.accessors import MAX_ELEMENTS
from thagen.rigs.formats.gltf.container import MAX_COORDINATE, Gltf
from thagen.rigs.formats.vrm.materials import read_material, read_vrm0_mtoon
from thagen.rigs.model import DeformType, Model, Morph, MorphKind
from thagen.rigs.vrm_info import VrmInfo

MAX_INFLUENCES = 4
MAX_PRIMITIVES = 20_000  # primitive instances (Model materials); avatars have tens
MAX_TARGETS = 10_000  # morph targets per mesh; VRoid faces have about 60


@dataclass
class _Arrays:
    positions: list[np.ndarray] = field(default_factory=list)
    normals: list[np.ndarray] = field(default_factory=list)
    uvs: list[np.ndarray] = field(default_factory=list)
    bones: list[np.ndarray] = field(default_factory=list)
    weights: list[np.ndarray] = field(default_factory=list)
    faces: list[np.ndarray] = field(default_factory=list)
    total: int = 0
    # (mesh, target) -> [(block start, (n, 3) deltas)]
    deltas: dict[tuple[int, int], list[tuple[int, np.ndarray]]] = field(default_factory=dict)
    target_counts: dict[int, int] = field(default_factory=dict)


def read_geometry(
    g: Gltf,
    world: np.ndarray,
    bone_of_node: np.ndarray,
    axes: np.ndarray,
    model: Model,
    info: VrmInfo,
    textures: list[int],
    version: str,
) -> dict[tuple[int, int], int]:
    """Fill model's vertex / face / material / morph-target arrays; (mesh, target) -> morph index."""
    nodes = g.array("nodes")
    out = _Arrays()
    blocks: dict[tuple, tuple[int, int]] = {}
    gltf_materials: list[int] = []
    face_start = 0
    for ni, node in enumerate(nodes):
        if "mesh" not in node:
            continue
        mi = node["mesh"]
        mesh = g.item("meshes", mi, f"nodes[{ni}].mesh")
        prims = mesh.get("primitives")
        if not isinstance(prims, list) or not prims:
            raise g.error("must be a non-empty array", f"meshes[{mi}].primitives")
        skin = _skin(g, node, ni, world)
        for pi, prim in enumerate(prims):
            where = f"meshes[{mi}].primitives[{pi}]"
            if len(model.materials) >= MAX_PRIMITIVES:
                raise g.error(f"more than {MAX_PRIMITIVES} primitives in the model", where)
            prim = g.obj(prim, where)
            mode = prim.get("mode", 4)
            if mode != 4:
                raise g.error(
                    f"mode {mode!r} is not triangles (4); only triangle meshes are read"[:120],
                    f"{where}.mode",
                )
            attrs = g.obj(prim.get("attributes"), f"{where}.attributes")
            targets = prim.get("targets", [])
            if not isinstance(targets, list):
                raise g.error("must be an array", f"{where}.targets")
            key = (ni, json.dumps(attrs, sort_keys=True), json.dumps(targets, sort_keys=True))
            if key not in blocks:
                start = out.total
                bone = int(max(bone_of_node[ni], 0))
                n, linear = _read_block(g, attrs, where, world[ni], skin, bone, bone_of_node, axes, out)
                _read_targets(g, targets, where, mi, start, n, linear, axes, out)
                blocks[key] = (start, n)
            start, n = blocks[key]
            faces = _faces(g, prim, where, n) + start
            out.faces.append(faces)
            material, extra = read_material(g, prim.get("material"), f"{where}.material", textures, version)
            material.face_start = face_start
            material.face_count = len(faces)
            face_start += len(faces)
            model.materials.append(material)
            info.materials.append(extra)
            gltf_materials.append(prim.get("material", -1) if isinstance(prim.get("material"), int) else -1)
    if version == "0.x":
        read_vrm0_mtoon(g, info, gltf_materials)
    n = out.total
    model.positions = _cat(out.positions, (0, 3))
    model.normals = _cat(out.normals, (0, 3))
    model.uvs = _cat(out.uvs, (0, 2))
    model.bone_indices = _cat(out.bones, (0, 4), np.int32)
    model.bone_weights = _cat(out.weights, (0, 4))
    model.faces = _cat(out.faces, (0, 3), np.int32)
    _fill_missing_normals(model)
    used = (model.bone_indices >= 0).sum(axis=1)
    model.deform_types = np.where(
        used <= 1, DeformType.BDEF1, np.where(used == 2, DeformType.BDEF2, DeformType.BDEF4)
    ).astype(np.uint8)
    model.extra_uvs = np.zeros((n, 0, 4), np.float32)
    model.sdef = np.zeros((n, 3, 3), np.float32)
    model.edge_scales = np.ones(n, np.float32)
    return _target_morphs(g, out, model)


@dataclass
class _Skin:
    joints: np.ndarray  # node index per joint
    matrices: np.ndarray  # (J, 4, 4) joint world x inverse bind
    identity: bool  # every matrix is the identity (bind pose == rest pose)


def _skin(g: Gltf, node: dict, ni: int, world: np.ndarray) -> _Skin | None:
    if "skin" not in node:
        return None
    si = node["skin"]
    skin = g.item("skins", si, f"nodes[{ni}].skin")
    joints = skin.get("joints")
    if not isinstance(joints, list) or not joints:
        raise g.error("must be a non-empty array", f"skins[{si}].joints")
    for j, jn in enumerate(joints):
        g.item("nodes", jn, f"skins[{si}].joints[{j}]")
    joints_arr = np.asarray(joints, np.int64)
    if "inverseBindMatrices" in skin:
        ibm = g.accessor(skin["inverseBindMatrices"], f"skins[{si}].inverseBindMatrices", types=("MAT4",))
        if len(ibm) < len(joints):
            raise g.error(f"{len(ibm)} matrices for {len(joints)} joints", f"skins[{si}].inverseBindMatrices")
        ibm = ibm[: len(joints)].astype(np.float64).reshape(-1, 4, 4).transpose(0, 2, 1)
    else:
        ibm = np.broadcast_to(np.eye(4), (len(joints), 4, 4))
    matrices = world[joints_arr] @ ibm
    identity = bool(np.allclose(matrices, np.eye(4), atol=1e-6))
    return _Skin(joints_arr, matrices, identity)


def _attribute(
    g: Gltf, attrs: dict, name: str, where: str, n: int | None, types: tuple[str, ...]
) -> np.ndarray:
    return g.accessor(attrs[name], f"{where}.attributes.{name}", types=types, count=n)


def _read_block(
    g: Gltf,
    attrs: dict,
    where: str,
    node_world: np.ndarray,
    skin: _Skin | None,
    node_bone: int,
    bone_of_node: np.ndarray,
    axes: np.ndarray,
    out: _Arrays,
) -> tuple[int, np.ndarray | None]:
    if "POSITION" not in attrs:
        raise g.error("has no POSITION", f"{where}.attributes")
    pos = _attribute(g, attrs, "POSITION", where, None, ("VEC3",)).astype(np.float64)
    n = len(pos)
    if out.total + n > MAX_ELEMENTS:
        raise g.error(f"the model would have over {MAX_ELEMENTS} vertices", f"{where}.attributes.POSITION")
    normals = (
        _attribute(g, attrs, "NORMAL", where, n, ("VEC3",)).astype(np.float64) if "NORMAL" in attrs else None
    )
    uv = (
        _attribute(g, attrs, "TEXCOORD_0", where, n, ("VEC2",)) if "TEXCOORD_0" in attrs else np.zeros((n, 2))
    )
    linear: np.ndarray | None = None  # (n, 3, 3) or (3, 3) for normals and morph deltas
    if skin is not None and "JOINTS_0" in attrs:
        joints, w = _influences(g, attrs, where, n, len(skin.joints))
        world_pos, world_nrm = pos, normals
        if not skin.identity:
            total = w.sum(axis=1)
            blended = np.einsum("nk,nkij->nij", w, skin.matrices[joints])
            blended /= np.where(total > 0, total, 1)[:, None, None]
            matrix = np.where((total > 0)[:, None, None], blended, node_world[None])
            linear = matrix[:, :3, :3]
            world_pos = np.einsum("nij,nj->ni", linear, pos) + matrix[:, :3, 3]
            world_nrm = None if normals is None else np.einsum("nij,nj->ni", linear, normals)
        bones, weights = _top_influences(bone_of_node[skin.joints][joints], w)
    else:
        bones = np.full((n, MAX_INFLUENCES), -1, np.int64)
        weights = np.zeros((n, MAX_INFLUENCES))
        bones[:, 0] = node_bone
        weights[:, 0] = 1.0
        linear = node_world[:3, :3]
        world_pos = pos @ linear.T + node_world[:3, 3]
        world_nrm = None if normals is None else normals @ linear.T
    if not np.all(np.abs(world_pos) < MAX_COORDINATE):
        raise g.error("positions are not finite or too large in world space", f"{where}.attributes.POSITION")
    if world_nrm is None:
        world_nrm = np.zeros((n, 3))
    length = np.linalg.norm(world_nrm, axis=1, keepdims=True)
    world_nrm = world_nrm / np.where(length > 0, length, 1.0)
    out.positions.append((world_pos * axes / MMD_SCALE).astype(np.float32))
    out.normals.append((world_nrm * axes).astype(np.float32))
    out.uvs.append(uv.astype(np.float32))
    out.bones.append(bones.astype(np.int32))
    out.weights.append(weights.astype(np.float32))
    out.total += n
    return n, linear


def _influences(g: Gltf, attrs: dict, where: str, n: int, n_joints: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, 4k) joint indices and weights of every JOINTS_k / WEIGHTS_k set."""
    joints, weights = [], []
    k = 0
    while f"JOINTS_{k}" in attrs:
        if f"WEIGHTS_{k}" not in attrs:
            raise g.error(f"JOINTS_{k} without WEIGHTS_{k}", f"{where}.attributes")
        j = _attribute(g, attrs, f"JOINTS_{k}", where, n, ("VEC4",))
        if j.dtype.kind != "u":
            raise g.error("must be unsigned bytes or shorts", f"{where}.attributes.JOINTS_{k}")
        if j.size and int(j.max()) >= n_joints:
            raise g.error(
                f"joint {int(j.max())} out of range ({n_joints} joints)", f"{where}.attributes.JOINTS_{k}"
            )
        w = _attribute(g, attrs, f"WEIGHTS_{k}", where, n, ("VEC4",))
        if w.dtype.kind != "f":
            raise g.error("must be float or normalized", f"{where}.attributes.WEIGHTS_{k}")
        joints.append(j.astype(np.int64))
        weights.append(np.clip(w.astype(np.float64), 0.0, None))
        k += 1
    return np.concatenate(joints, axis=1), np.concatenate(weights, axis=1)


def _top_influences(bones: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """At most 4 influences per vertex: the largest, kept in stored order, zero slots last, renormalized."""
    n, s = weights.shape
    if s > MAX_INFLUENCES:
        keep = np.sort(np.argsort(-weights, axis=1, kind="stable")[:, :MAX_INFLUENCES], axis=1)
        bones = np.take_along_axis(bones, keep, 1)
        weights = np.take_along_axis(weights, keep, 1)
    elif s < MAX_INFLUENCES:
        bones = np.pad(bones, ((0, 0), (0, MAX_INFLUENCES - s)))
        weights = np.pad(weights, ((0, 0), (0, MAX_INFLUENCES - s)))
    order = np.argsort(weights <= 0, axis=1, kind="stable")
    bones = np.take_along_axis(bones, order, 1)
    weights = np.take_along_axis(weights, order, 1)
    total = weights.sum(axis=1, keepdims=True)
    weights = np.where(total > 0, weights / np.where(total > 0, total, 1), 0.0)
    bones = np.where(weights > 0, bones, -1)
    empty = total[:, 0] <= 0
    weights[empty, 0] = 1.0
    bones[empty, 0] = np.maximum(bones[empty, 0], 0)
    return bones, weights


def _read_targets(
    g: Gltf,
    targets: list,
    where: str,
    mesh: int,
    start: int,
    n: int,
    linear: np.ndarray | None,
    axes: np.ndarray,
    out: _Arrays,
) -> None:
    if len(targets) > MAX_TARGETS:
        raise g.error(f"{len(targets)} morph targets is over the {MAX_TARGETS} limit", f"{where}.targets")
    count = out.target_counts.setdefault(mesh, len(targets))
    if count != len(targets):
        raise g.error(
            f"{len(targets)} morph targets, another primitive of the mesh has {count}", f"{where}.targets"
        )
    for k, target in enumerate(targets):
        here = f"{where}.targets[{k}]"
        target = g.obj(target, here)
        if "POSITION" not in target:
            continue
        d = g.accessor(target["POSITION"], f"{here}.POSITION", types=("VEC3",), count=n).astype(np.float64)
        if linear is not None:
            d = np.einsum("nij,nj->ni", linear, d) if linear.ndim == 3 else d @ linear.T
        if not np.all(np.abs(d) < MAX_COORDINATE):
            raise g.error("offsets are not finite or too large", f"{here}.POSITION")
        out.deltas.setdefault((mesh, k), []).append((start, d * axes / MMD_SCALE))


def _faces(g: Gltf, prim: dict, where: str, n: int) -> np.ndarray:
    if "indices" in prim:
        idx = g.accessor(prim["indices"], f"{where}.indices", types=("SCALAR",))
        if idx.dtype.kind != "u":
            raise g.error("must be unsigned integers", f"{where}.indices")
        idx = idx.ravel().astype(np.int64)
        if idx.size and int(idx.max()) >= n:
            raise g.error(f"vertex {int(idx.max())} out of range ({n} vertices)", f"{where}.indices")
    else:
        idx = np.arange(n, dtype=np.int64)
    if idx.size % 3:
        raise g.error(f"{idx.size} indices is not a whole number of triangles", f"{where}.indices")
    return idx.reshape(-1, 3)[:, ::-1]


def _target_morphs(g: Gltf, out: _Arrays, model: Model) -> dict[tuple[int, int], int]:
    """One VERTEX morph per (mesh, target), named from extras.targetNames."""
    result: dict[tuple[int, int], int] = {}
    used = {m.name for m in model.morphs}
    for mesh, count in out.target_counts.items():
        names = _target_names(g, mesh, count)
        for k in range(count):
            parts = out.deltas.get((mesh, k), [])
            idx_list, val_list = [], []
            for start, d in parts:
                moved = np.flatnonzero(np.any(d != 0, axis=1))
                idx_list.append(moved + start)
                val_list.append(d[moved])
            name = names[k]
            if name in used:
                name = f"{name}#{mesh}"
            used.add(name)
            result[(mesh, k)] = len(model.morphs)
            model.morphs.append(
                Morph(
                    name=name,
                    name_en=name,
                    panel=4,
                    kind=int(MorphKind.VERTEX),
                    indices=_cat(idx_list, (0,), np.int32),
                    values=_cat(val_list, (0, 3)),
                )
            )
    return result


def _target_names(g: Gltf, mesh: int, count: int) -> list[str]:
    m = g.item("meshes", mesh, f"meshes[{mesh}]")
    candidates = [m.get("extras")]
    prims = m.get("primitives") or []
    if prims and isinstance(prims[0], dict):
        candidates.append(prims[0].get("extras"))
    for extras in candidates:
        if isinstance(extras, dict):
            names = extras.get("targetNames")
            if (
                isinstance(names, list)
                and len(names) >= count
                and all(isinstance(x, str) for x in names[:count])
            ):
                return [x or f"target{k}" for k, x in enumerate(names[:count])]
    label = m.get("name") if isinstance(m.get("name"), str) else f"mesh{mesh}"
    return [f"{label}.{k}" for k in range(count)]


def _fill_missing_normals(model: Model) -> None:
    """Area-weighted face normals for vertices whose primitive had no NORMAL."""
    missing = ~np.any(model.normals != 0, axis=1)
    if not missing.any() or not len(model.faces):
        return
    p = model.positions.astype(np.float64)[model.faces]
    fn = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
    acc = np.zeros((len(model.positions), 3))
    for corner in range(3):
        np.add.at(acc, model.faces[:, corner], fn)
    length = np.linalg.norm(acc, axis=1, keepdims=True)
    acc = acc / np.where(length > 0, length, 1.0)
    model.normals[missing] = acc[missing].astype(np.float32)


def _cat(items: list[np.ndarray], empty: tuple[int, ...], dtype: type = np.float32) -> np.ndarray:
    if not items:
        return np.zeros(empty, dtype)
    return np.concatenate(items).astype(dtype, copy=False)
