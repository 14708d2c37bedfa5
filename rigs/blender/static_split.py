"""Build a character's never-moving faces as a separate, non-deforming mesh object.

Between renders only the head/neck bones and a few shape keys change, yet Cycles re-syncs and
rebuilds the BVH of the whole deforming mesh every pose. Faces whose vertices carry no weight on
a posed bone's subtree (or on a bone that a bone morph moves) and that no shape key offsets
never move, so they become a plain mesh object (no armature modifier, no shape keys) that
Cycles' persistent data keeps between renders; only the dynamic rest is rebuilt per pose.

Both parts are built straight from the model's arrays (rigs/blender/mesh.py `build_mesh_part`),
not cut out of a whole mesh, and their pixels are identical to the whole mesh's:
- the static part's positions are the armature's rest-pose output, which is not exactly the
  undeformed positions in float32: it is evaluated once with the static vertices' own weights
  (a vertex's output depends only on its weights), then the weights and modifier are removed;
- a corner's custom-normal encoding depends only on its vertex's smooth fan, so each part's own
  encoding equals the whole mesh's wherever the part holds the whole fan. Only corners whose fan
  the split cuts (Gene: 99 vertices) differ, about 1e-4; on the static part they are encoded
  in its baked geometry (`reencode_corners`), as cutting a whole mesh gave them.

Given the camera's view, static triangles it can never see are not built at all (Gene: 23,500
of 26,300, the body below the chest): every preset is emission-only, with no shadows and no
rays but the camera's, so a triangle outside the view never colours a pixel. Their neighbours
that touch a visible triangle stay, so no visible corner's smooth fan is cut.
"""

from __future__ import annotations

from dataclasses import dataclass

import bpy
import numpy as np

from thagen.rigs.blender.mesh import MeshArrays, build_mesh_part
from thagen.rigs.blender.morphs import BonePart, ShapeKeySpec
from thagen.rigs.blender.skinning import build_weights
from thagen.rigs.model import Model

STATIC_SUFFIX = "_static"
CUSTOM_NORMAL = "custom_normal"  # Blender 4.1+: per-corner (INT16_2D) offsets in fan space


def moving_bones(
    model: Model,
    posed: np.ndarray,
    bone_morphs: dict[str, list[tuple[BonePart, float]]],
    bone_names: list[str],
) -> np.ndarray:
    """(B,) bool: the `posed` bones, the bones a built bone morph moves, and their subtrees."""
    count = len(model.bones)
    moving = np.zeros(count, bool)
    moving[: min(count, len(posed))] = np.asarray(posed, bool)[:count]
    by_name = {name: i for i, name in enumerate(bone_names)}
    for parts in bone_morphs.values():
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


def dynamic_vertices(
    count: int,
    moving: np.ndarray,
    weights: tuple[np.ndarray, np.ndarray, np.ndarray],
    keys: list[ShapeKeySpec],
    base: np.ndarray,
) -> np.ndarray:
    """(V,) bool: vertices weighted to a moving bone or moved by any shape key, however little."""
    vertex, bone, _weight = weights
    dynamic = np.zeros(count, bool)
    dynamic[vertex[moving[bone]]] = True
    for spec in keys:
        dynamic[spec.moved(base)] = True
    return dynamic


@dataclass(frozen=True)
class SplitPlan:
    """Which triangles go to the static part, which are left out, and the vertices whose fan
    the split cuts."""

    static_faces: np.ndarray  # (F,) bool over the built triangles: the static part
    dynamic_faces: np.ndarray  # (F,) bool: the deforming part
    boundary: np.ndarray  # (V,) bool: vertices in both parts
    culled: int  # static triangles left out: never in view (see `of`)

    @classmethod
    def of(
        cls, arrays: MeshArrays, dynamic: np.ndarray, visible: np.ndarray | None = None
    ) -> SplitPlan | None:
        """None when every triangle moves or none does (nothing to split).

        `visible` ((F,) bool, optional): the triangles the camera may see. A static triangle
        never moves, so one the camera cannot see is left out, unless it shares a vertex with a
        visible static one: then every vertex of a visible triangle keeps its whole smooth fan
        and its custom normals decode exactly as before.
        """
        moving = dynamic[arrays.corners].any(axis=1)
        static_faces = ~moving
        if not static_faces.any() or static_faces.all():
            return None
        count = len(arrays.positions)
        culled = 0
        if visible is not None:
            seen = np.zeros(count, bool)
            seen[arrays.corners[static_faces & visible]] = True
            kept = static_faces & (visible | seen[arrays.corners].any(axis=1))
            culled = int(static_faces.sum() - kept.sum())
            static_faces = kept
            if not static_faces.any():
                return None  # nothing static is seen: one deforming mesh, as without a split
        in_static = np.zeros(count, bool)
        in_static[arrays.corners[static_faces]] = True
        in_dynamic = np.zeros(count, bool)
        in_dynamic[arrays.corners[moving]] = True
        return cls(static_faces, moving, in_static & in_dynamic, culled)


def build_static_part(
    name: str,
    arrays: MeshArrays,
    split: SplitPlan,
    model: Model,
    bone_names: list[str],
    weights: tuple[np.ndarray, np.ndarray, np.ndarray],
    armature: bpy.types.Object,
) -> bpy.types.Object:
    """The static part as an object parented to `armature` like the character, in rest position."""
    mesh, vertex_ids = build_mesh_part(f"{name}{STATIC_SUFFIX}", arrays, split.static_faces)
    obj = None
    try:
        obj = bpy.data.objects.new(f"{name}{STATIC_SUFFIX}", mesh)
        bpy.context.scene.collection.objects.link(obj)
        obj.parent = armature
        _bake_rest_positions(obj, model, bone_names, vertex_ids, weights, armature)
        corner_vertex = vertex_ids[_read(mesh, ".corner_vert", len(mesh.loops), 1, np.int32, "value")]
        need = split.boundary[corner_vertex]
        if need.any() and mesh.attributes.get(CUSTOM_NORMAL) is not None:
            raw = _read(mesh, CUSTOM_NORMAL, len(mesh.loops), 2, np.int32, "value")
            raw[need] = reencode_corners(mesh, arrays.normals[vertex_ids], need)
            mesh.attributes[CUSTOM_NORMAL].data.foreach_set("value", raw.ravel())
            mesh.update()
    except BaseException:
        if obj is not None:
            bpy.data.objects.remove(obj)
        bpy.data.meshes.remove(mesh)
        raise
    return obj


def _bake_rest_positions(
    obj: bpy.types.Object,
    model: Model,
    bone_names: list[str],
    vertex_ids: np.ndarray,
    weights: tuple[np.ndarray, np.ndarray, np.ndarray],
    armature: bpy.types.Object,
) -> None:
    """Set the mesh's positions to what the armature at rest makes of them, then drop the
    weights and modifier that computed it."""
    build_weights(obj, model, bone_names, vertex_ids, weights)
    modifier = obj.modifiers.new("armature", "ARMATURE")
    modifier.object = armature
    depsgraph = bpy.context.evaluated_depsgraph_get()
    evaluated = obj.evaluated_get(depsgraph)
    baked = evaluated.to_mesh()
    try:
        co = np.empty(len(baked.vertices) * 3, np.float32)
        baked.vertices.foreach_get("co", co)
    finally:
        evaluated.to_mesh_clear()
    obj.modifiers.remove(modifier)
    obj.vertex_groups.clear()
    obj.data.attributes["position"].data.foreach_set("vector", co)
    obj.data.update()


def _read(
    mesh: bpy.types.Mesh, name: str, domain_size: int, width: int, kind: type[np.generic], prop: str
) -> np.ndarray:
    out = np.empty(domain_size * width, kind)
    mesh.attributes[name].data.foreach_get(prop, out)
    return out.reshape(domain_size, width) if width > 1 else out


def reencode_corners(mesh: bpy.types.Mesh, normals: np.ndarray, need: np.ndarray) -> np.ndarray:
    """(n, 2) raw custom normals of the `need` corners, as encoding all of `mesh` in its current
    positions would give them, from per-vertex `normals`.

    A corner's encoding depends only on its vertex's fan: the faces around that vertex, their
    positions and winding. A scratch mesh holding every face that touches a needed vertex, in
    the original order and with the same positions, has the same fans at those vertices, and
    costs a fraction of encoding the whole mesh.
    """
    nl, nf = len(mesh.loops), len(mesh.polygons)
    loop_start = np.empty(nf, np.int32)
    mesh.polygons.foreach_get("loop_start", loop_start)
    loop_total = np.empty(nf, np.int32)
    mesh.polygons.foreach_get("loop_total", loop_total)
    corner_vert = _read(mesh, ".corner_vert", nl, 1, np.int32, "value").astype(np.int64)
    face_corners = np.repeat(loop_start, loop_total).astype(np.int64) + _ramp(loop_total)
    corner_face = np.repeat(np.arange(nf), loop_total)
    positions = _read(mesh, "position", len(mesh.vertices), 3, np.float32, "vector")
    needed_vertex = np.zeros(len(mesh.vertices), bool)
    needed_vertex[corner_vert[need]] = True
    touching = np.zeros(nf, bool)
    np.logical_or.at(touching, corner_face, needed_vertex[corner_vert[face_corners]])
    corners = face_corners[touching[corner_face]]
    vertex_ids, scratch_corner_vert = np.unique(corner_vert[corners], return_inverse=True)
    totals = loop_total[touching]
    scratch = bpy.data.meshes.new("thagen_normals_scratch")
    try:
        scratch.vertices.add(len(vertex_ids))
        scratch.attributes["position"].data.foreach_set("vector", positions[vertex_ids].ravel())
        scratch.loops.add(len(corners))
        scratch.attributes[".corner_vert"].data.foreach_set("value", scratch_corner_vert.astype(np.int32))
        scratch.polygons.add(len(totals))
        scratch.polygons.foreach_set("loop_start", (np.cumsum(totals) - totals).astype(np.int32))
        scratch.update(calc_edges=True)
        scratch.shade_smooth()
        scratch.normals_split_custom_set_from_vertices(normals[vertex_ids])
        fresh = _read(scratch, CUSTOM_NORMAL, len(corners), 2, np.int32, "value")
    finally:
        bpy.data.meshes.remove(scratch)
    by_corner = np.zeros((nl, 2), np.int32)
    by_corner[corners] = fresh
    return by_corner[need]


def _ramp(totals: np.ndarray) -> np.ndarray:
    """0..t-1 for each t in `totals`, concatenated."""
    return np.arange(int(totals.sum())) - np.repeat(np.cumsum(totals) - totals, totals)
