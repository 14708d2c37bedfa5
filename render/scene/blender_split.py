"""Split a character's never-moving faces into a separate, non-deforming mesh object.

Between renders only the head/neck bones and a few shape keys change, yet Cycles re-syncs and
rebuilds the BVH of the whole deforming mesh every pose. Faces whose vertices carry no weight on
the neck bone's subtree (or on a bone that a bone morph moves) and that no shape key offsets
never move, so they go into a plain mesh object (no armature modifier, no shape keys) that
Cycles' persistent data keeps between renders; only the dynamic rest is rebuilt per pose.

Pixels stay identical to the unsplit mesh: the static part gets the armature's rest-pose output
(not exactly the undeformed positions in float32) and keeps the raw custom-normal data of every
smooth fan the split leaves whole. Only corners whose fan the split cuts (Gene: 99 vertices)
get their normal encoded afresh from the model's per-vertex normals, about 1e-4 off.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import bmesh
import bpy
import numpy as np

from thagen.rigs.blender.imported import ImportedModel
from thagen.rigs.blender.skinning import vertex_weights
from thagen.rigs.coordinates import mmd_to_blender
from thagen.rigs.model import Model

if TYPE_CHECKING:
    from thagen.rigs.normalize import RigReport

STATIC_SUFFIX = "_static"


def moving_bones(imported: ImportedModel, model: Model, rig: RigReport | None) -> np.ndarray:
    """(B,) bool: bones the renderer may pose (neck, head, bone-morph bones) and their subtrees."""
    count = len(model.bones)
    moving = np.zeros(count, bool)
    for role in ("neck", "head"):
        match = rig.matches.get(role) if rig is not None else None
        index = match.index if match is not None else None
        if index is None and rig is not None:
            name = rig.bone_for(role)
            index = model.bone_index(name) if name else None
        if index is not None and 0 <= int(index) < count:
            moving[int(index)] = True
    extended = rig.extended if rig is not None else None  # THA2 / THA3: eye, upper-body, shoulder bones
    for name in sorted(extended.bone_names()) if extended is not None else ():
        if model.bone_index(name) >= 0:
            moving[model.bone_index(name)] = True
    by_name = {name: i for i, name in enumerate(imported.bone_names)}
    for parts in imported._bone_morphs.values():
        for (bone, _translation, _turn), _factor in parts:
            if bone in by_name:
                moving[by_name[bone]] = True
    parent = np.array([b.parent for b in model.bones], np.int64).reshape(-1)
    has_parent = (parent >= 0) & (parent < count) & (parent != np.arange(count))
    for _ in range(count):  # one hierarchy level per pass; stops as soon as nothing changes
        grown = moving.copy()
        grown[has_parent] |= moving[parent[has_parent]]
        if np.array_equal(grown, moving):
            break
        moving = grown
    return moving


def dynamic_vertices(imported: ImportedModel, model: Model, rig: RigReport | None) -> np.ndarray:
    """(V,) bool: vertices weighted to a moving bone or offset by any shape key."""
    mesh = imported.mesh.data
    count = len(mesh.vertices)
    dynamic = np.zeros(count, bool)
    vertex, bone, _weight = vertex_weights(model)
    dynamic[vertex[moving_bones(imported, model, rig)[bone]]] = True
    keys = mesh.shape_keys
    if keys is not None and len(keys.key_blocks) > 1:
        basis = np.empty(count * 3, np.float32)
        keys.key_blocks[0].points.foreach_get("co", basis)
        co = np.empty(count * 3, np.float32)
        for key in list(keys.key_blocks)[1:]:
            key.points.foreach_get("co", co)
            dynamic[np.flatnonzero(co != basis) // 3] = True  # any offset, however small
    return dynamic


def _vertex_normals(model: Model) -> np.ndarray:
    """The importer's per-vertex normals (Blender axes, unit length, zero where degenerate)."""
    normals = mmd_to_blender(model.normals, scale=1.0)
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    return np.where(length > 1e-12, normals / np.maximum(length, 1e-12), 0.0).astype(np.float32)


def _read(
    mesh: bpy.types.Mesh, name: str, domain_size: int, width: int, kind: type[np.generic], prop: str
) -> np.ndarray:
    out = np.empty(domain_size * width, kind)
    mesh.attributes[name].data.foreach_get(prop, out)
    return out.reshape(domain_size, width) if width > 1 else out


CUSTOM_NORMAL = "custom_normal"  # Blender 4.1+: per-corner (INT16_2D) offsets in fan space


def _raw_normals(mesh: bpy.types.Mesh) -> np.ndarray | None:
    attribute = mesh.attributes.get(CUSTOM_NORMAL)
    if attribute is None or attribute.data_type != "INT16_2D" or attribute.domain != "CORNER":
        return None
    return _read(mesh, CUSTOM_NORMAL, len(mesh.loops), 2, np.int32, "value")


def _set_normals(mesh: bpy.types.Mesh, normals: np.ndarray, raw: np.ndarray, keep: np.ndarray) -> None:
    """Keep the original raw values of `keep` corners; encode the others afresh.

    Fresh encoding is needed where a vertex's smooth fan was cut (the split boundary); elsewhere
    the fan is unchanged, and its original raw values decode to bit-identical normals. The
    fresh values come from a scratch mesh of just the faces around the cut vertices
    (`_fresh_normals`), which costs a fraction of encoding the whole mesh.
    """
    values = raw.copy()
    need = ~keep
    if need.any():
        values[need] = _fresh_normals(mesh, normals, need)
    attribute = mesh.attributes.get(CUSTOM_NORMAL)
    if attribute is None:  # a new mesh: the attribute Blender reads custom normals from
        attribute = mesh.attributes.new(CUSTOM_NORMAL, "INT16_2D", "CORNER")
    attribute.data.foreach_set("value", values.ravel())


def _fresh_normals(mesh: bpy.types.Mesh, normals: np.ndarray, need: np.ndarray) -> np.ndarray:
    """(n, 2) raw custom normals of the `need` corners, as encoding all of `mesh` would give them.

    A corner's encoding depends only on its vertex's fan: the faces around that vertex, their
    positions and winding. A scratch mesh holding every face that touches a needed vertex, in
    the original order and with the same positions, has the same fans at those vertices.
    """
    topo = _Topology.of(mesh)
    positions = _read(mesh, "position", len(mesh.vertices), 3, np.float32, "vector")
    needed_vertex = np.zeros(len(mesh.vertices), bool)
    needed_vertex[topo.corner_vert[need]] = True
    touching = np.zeros(len(mesh.polygons), bool)
    np.logical_or.at(touching, topo.corner_face, needed_vertex[topo.corner_vert[topo.face_corners]])
    corners = topo.face_corners[touching[topo.corner_face]]
    vertex_ids, corner_vert = np.unique(topo.corner_vert[corners], return_inverse=True)
    totals = topo.loop_total[touching]
    scratch = bpy.data.meshes.new("thagen_normals_scratch")
    try:
        scratch.vertices.add(len(vertex_ids))
        scratch.attributes["position"].data.foreach_set("vector", positions[vertex_ids].ravel())
        scratch.loops.add(len(corners))
        scratch.attributes[".corner_vert"].data.foreach_set("value", corner_vert.astype(np.int32))
        scratch.polygons.add(len(totals))
        scratch.polygons.foreach_set("loop_start", (np.cumsum(totals) - totals).astype(np.int32))
        scratch.update(calc_edges=True)
        scratch.shade_smooth()
        scratch.normals_split_custom_set_from_vertices(normals[vertex_ids])
        fresh = _read(scratch, CUSTOM_NORMAL, len(corners), 2, np.int32, "value")
    finally:
        bpy.data.meshes.remove(scratch)
    by_corner = np.zeros((len(mesh.loops), 2), np.int32)
    by_corner[corners] = fresh
    return by_corner[need]


def _evaluated_positions(obj: bpy.types.Object) -> np.ndarray:
    """The deformed (rest-pose) vertex positions, as Cycles sees them.

    The armature at rest is not exactly the identity in float32: baking its output (instead of
    the undeformed positions) keeps the static part's pixels identical to the unsplit mesh.
    """
    depsgraph = bpy.context.evaluated_depsgraph_get()
    evaluated = obj.evaluated_get(depsgraph)
    mesh = evaluated.to_mesh()
    try:
        co = np.empty(len(mesh.vertices) * 3, np.float32)
        mesh.vertices.foreach_get("co", co)
    finally:
        evaluated.to_mesh_clear()
    return co.reshape(-1, 3)


@dataclass
class _Topology:
    corner_vert: np.ndarray  # (L,) vertex per corner, storage order
    face_corners: np.ndarray  # (L,) corner ids, face by face, in face order
    corner_face: np.ndarray  # (L,) face of each entry of face_corners
    loop_total: np.ndarray  # (F,)

    @classmethod
    def of(cls, mesh: bpy.types.Mesh) -> _Topology:
        nl, nf = len(mesh.loops), len(mesh.polygons)
        loop_start = np.empty(nf, np.int32)
        mesh.polygons.foreach_get("loop_start", loop_start)
        loop_total = np.empty(nf, np.int32)
        mesh.polygons.foreach_get("loop_total", loop_total)
        return cls(
            corner_vert=_read(mesh, ".corner_vert", nl, 1, np.int32, "value").astype(np.int64),
            face_corners=np.repeat(loop_start, loop_total).astype(np.int64) + _ramp(loop_total),
            corner_face=np.repeat(np.arange(nf), loop_total),
            loop_total=loop_total,
        )


def _static_mesh(
    source: bpy.types.Mesh,
    topo: _Topology,
    static_faces: np.ndarray,
    positions: np.ndarray,
    normals: np.ndarray,
    boundary: np.ndarray,
    name: str,
) -> bpy.types.Mesh:
    """A new plain mesh of `source`'s static faces, in their original order."""
    nl, nf = len(source.loops), len(source.polygons)
    material_index = _read(source, "material_index", nf, 1, np.int32, "value")
    uv_name = source.uv_layers.active.name if source.uv_layers.active is not None else None
    uvs = _read(source, uv_name, nl, 2, np.float32, "vector") if uv_name else None
    raw = _raw_normals(source)

    kept_loops = topo.face_corners[static_faces[topo.corner_face]]
    kept_vertex_ids, new_corner_vert = np.unique(topo.corner_vert[kept_loops], return_inverse=True)
    kept_totals = topo.loop_total[static_faces]

    mesh = bpy.data.meshes.new(name)
    mesh.vertices.add(len(kept_vertex_ids))
    mesh.attributes["position"].data.foreach_set("vector", positions[kept_vertex_ids].ravel())
    mesh.loops.add(len(kept_loops))
    mesh.attributes[".corner_vert"].data.foreach_set("value", new_corner_vert.astype(np.int32))
    mesh.polygons.add(len(kept_totals))
    mesh.polygons.foreach_set("loop_start", (np.cumsum(kept_totals) - kept_totals).astype(np.int32))
    mesh.attributes.new("material_index", "INT", "FACE").data.foreach_set(
        "value", material_index[static_faces]
    )
    if uvs is not None:
        layer = mesh.uv_layers.new(name=uv_name)
        mesh.attributes[layer.name].data.foreach_set("vector", uvs[kept_loops].ravel())
    for material in source.materials:
        mesh.materials.append(material)
    mesh.update(calc_edges=True)
    mesh.shade_smooth()
    if raw is not None:
        keep = ~boundary[topo.corner_vert[kept_loops]]
        _set_normals(mesh, normals[kept_vertex_ids], raw[kept_loops], keep)
    return mesh


def _drop_static_faces(
    mesh: bpy.types.Mesh, static_faces: np.ndarray, normals: np.ndarray, boundary: np.ndarray
) -> None:
    """Delete the static faces (and vertices left unused) in place.

    bmesh keeps shape keys, vertex groups, UVs, raw custom normals and the order of what remains.
    """
    ids = mesh.attributes.new("thagen_vertex_id", "INT", "POINT")
    ids.data.foreach_set("value", np.arange(len(mesh.vertices), dtype=np.int32))
    bm = bmesh.new()
    try:
        bm.from_mesh(mesh)
        bm.faces.ensure_lookup_table()
        doomed = [bm.faces[i] for i in np.flatnonzero(static_faces).tolist()]
        bmesh.ops.delete(bm, geom=doomed, context="FACES")
        bm.to_mesh(mesh)
    finally:
        bm.free()
    kept = _read(mesh, "thagen_vertex_id", len(mesh.vertices), 1, np.int32, "value").astype(np.int64)
    mesh.attributes.remove(mesh.attributes["thagen_vertex_id"])
    raw = _raw_normals(mesh)
    if raw is not None:
        corner_vert = _read(mesh, ".corner_vert", len(mesh.loops), 1, np.int32, "value")
        _set_normals(mesh, normals[kept], raw, ~boundary[kept][corner_vert])
    mesh.update()


def split_static_geometry(
    imported: ImportedModel, model: Model, rig: RigReport | None
) -> tuple[bpy.types.Object | None, np.ndarray | None]:
    """Move the never-moving faces of `imported.mesh` into a new plain mesh object and return it
    with the mask, over the imported polygons, of those it took (both parts keep the polygons'
    order, so eyebrow_layer.py maps each part's polygons back to the model's triangles).

    Call right after import (rest pose, morphs at 0). (None, None) and nothing changed when every
    face moves or none does.
    """
    obj = imported.mesh
    mesh = obj.data
    if len(mesh.polygons) == 0 or len(mesh.vertices) != model.vertex_count:
        return None, None
    topo = _Topology.of(mesh)
    dynamic = dynamic_vertices(imported, model, rig)
    dynamic_face = np.zeros(len(mesh.polygons), bool)
    np.logical_or.at(dynamic_face, topo.corner_face, dynamic[topo.corner_vert[topo.face_corners]])
    static_faces = ~dynamic_face
    if not static_faces.any() or static_faces.all():
        return None, None
    in_static = np.zeros(len(dynamic), bool)
    in_static[topo.corner_vert[topo.face_corners[static_faces[topo.corner_face]]]] = True
    in_dynamic = np.zeros(len(dynamic), bool)
    in_dynamic[topo.corner_vert[topo.face_corners[dynamic_face[topo.corner_face]]]] = True
    boundary = in_static & in_dynamic  # vertices whose smooth fan the split cuts
    normals = _vertex_normals(model)
    positions = _evaluated_positions(obj)
    static_mesh = _static_mesh(
        mesh, topo, static_faces, positions, normals, boundary, f"{mesh.name}{STATIC_SUFFIX}"
    )
    static = None
    try:
        static = bpy.data.objects.new(f"{obj.name}{STATIC_SUFFIX}", static_mesh)
        for collection in obj.users_collection:
            collection.objects.link(static)
        static.parent = obj.parent
        static.parent_type = obj.parent_type
        static.matrix_parent_inverse = obj.matrix_parent_inverse.copy()
        static.matrix_basis = obj.matrix_basis.copy()
        _drop_static_faces(mesh, static_faces, normals, boundary)
    except BaseException:
        remove_static(static)
        if static_mesh.users == 0:
            bpy.data.meshes.remove(static_mesh)
        raise
    return static, static_faces


def _ramp(totals: np.ndarray) -> np.ndarray:
    """0..t-1 for each t in `totals`, concatenated."""
    return np.arange(int(totals.sum())) - np.repeat(np.cumsum(totals) - totals, totals)


def remove_static(static: bpy.types.Object | None) -> None:
    """Delete a split-off object and its mesh (the materials belong to the character)."""
    if static is None:
        return
    mesh = static.data
    bpy.data.objects.remove(static)
    if mesh is not None and mesh.users == 0:
        bpy.data.meshes.remove(mesh)
