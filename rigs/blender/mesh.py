"""The Blender mesh of a `Model`: checks of the arrays, then vertices, triangles, UVs and normals.

Built straight through bpy.data with bulk foreach_set from the numpy arrays (no import
operators, no per-vertex Python loops). Coordinates go through
`thagen.rigs.coordinates.mmd_to_blender` (1 MMD unit = 8 cm, Z up; see there for why); the axis
swap mirrors handedness, so every triangle's winding is reversed. Degenerate triangles (a vertex
used twice) are left out; each triangle gets its MMD material's index.
"""

from __future__ import annotations

from dataclasses import dataclass

import bpy
import numpy as np

from thagen.errors import ModelFormatError
from thagen.rigs.blender.report import ImportReport
from thagen.rigs.coordinates import mmd_to_blender
from thagen.rigs.model import Model


def check_model(model: Model) -> None:
    """Raise ModelFormatError unless faces, normals, UVs and vertex weights fit the vertex count."""
    n = model.vertex_count
    where = model.source_path
    faces = np.asarray(model.faces)
    if faces.ndim != 2 or faces.shape[1] != 3:
        raise ModelFormatError(f"faces must be (F, 3), got {faces.shape}", path=where, field="faces")
    if faces.size and (faces.min() < 0 or faces.max() >= n):
        raise ModelFormatError(
            f"face vertex index out of range (model has {n} vertices)", path=where, field="faces"
        )
    for name in ("normals", "uvs"):
        arr = getattr(model, name)
        if len(arr) != n:
            raise ModelFormatError(f"{name} has {len(arr)} rows for {n} vertices", path=where, field=name)
    bones = np.asarray(model.bone_indices)
    if len(bones) != n or len(model.bone_weights) != n or len(model.deform_types) != n:
        raise ModelFormatError(
            "vertex weight arrays do not match the vertex count", path=where, field="weights"
        )
    if bones.size and bones.max() >= len(model.bones):
        raise ModelFormatError(
            f"vertex weight bone index {int(bones.max())} out of range ({len(model.bones)} bones)",
            path=where,
            field="weights",
        )


@dataclass(frozen=True)
class MeshArrays:
    """A model's mesh in Blender's terms, ready for foreach_set: what `build_mesh` and the static
    split's two parts (rigs/blender/static_split.py) are built from."""

    positions: np.ndarray  # (V, 3) float32, Blender axes
    corners: np.ndarray  # (F, 3) int32 vertex per corner, winding reversed (the axis swap mirrors)
    uvs: np.ndarray  # (F, 3, 2) float32 per corner, v pointing up
    material_index: np.ndarray  # (F,) int32
    normals: np.ndarray  # (V, 3) float32 unit per-vertex normals (zero where degenerate)


def mesh_arrays(model: Model, report: ImportReport) -> MeshArrays:
    """The arrays of `model`'s mesh; degenerate triangles (a vertex used twice) left out and reported."""
    faces = np.asarray(model.faces, np.int64)
    degenerate = (faces[:, 0] == faces[:, 1]) | (faces[:, 1] == faces[:, 2]) | (faces[:, 0] == faces[:, 2])
    material_index = np.zeros(len(faces), np.int32)
    ranges = model.material_face_ranges()
    if len(ranges):
        counts = np.clip(ranges[:, 1], 0, None)
        total = int(counts.sum())
        if total > len(faces):
            raise ModelFormatError(
                f"materials cover {total} triangles but the model has {len(faces)}",
                path=model.source_path,
                field="materials",
            )
        material_index[:total] = np.repeat(np.arange(len(ranges), dtype=np.int32), counts)
        if total < len(faces):
            report.warnings.append(f"{len(faces) - total} triangles belong to no material (given material 0)")
    if degenerate.any():
        report.dropped_faces = int(degenerate.sum())
        report.warnings.append(f"{report.dropped_faces} degenerate triangles (a vertex used twice) left out")
        faces, material_index = faces[~degenerate], material_index[~degenerate]
    corners = faces[:, [0, 2, 1]].astype(np.int32)  # reversed winding: the swap mirrors
    uv = np.asarray(model.uvs, np.float32).copy()
    uv[:, 1] = 1.0 - uv[:, 1]  # MMD's v points down
    normals = mmd_to_blender(model.normals, scale=1.0)
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    normals = np.where(length > 1e-12, normals / np.maximum(length, 1e-12), 0.0).astype(np.float32)
    return MeshArrays(
        positions=mmd_to_blender(model.positions).astype(np.float32),
        corners=corners,
        uvs=uv[corners],
        material_index=material_index,
        normals=normals,
    )


def build_mesh(model: Model, name: str, report: ImportReport) -> bpy.types.Mesh:
    """The mesh data block (not yet an object): triangles with material indices, UVs, custom normals."""
    return build_mesh_part(name, mesh_arrays(model, report))[0]


def build_mesh_part(
    name: str, arrays: MeshArrays, faces: np.ndarray | None = None
) -> tuple[bpy.types.Mesh, np.ndarray]:
    """The mesh of the `faces` (a mask over arrays' triangles; None: all of them, with every
    vertex), in their order, and the ids of the vertices it holds (ascending: a part keeps the
    model's vertex order, so the vertices it shares with the other part are the same in both).

    Custom normals are encoded on the part itself: a corner's encoding depends only on its
    vertex's smooth fan, so wherever the part holds a vertex's whole fan it equals the whole
    mesh's encoding (tests/render/test_split_normals.py checks it).
    """
    if faces is None:
        vertex_ids = np.arange(len(arrays.positions))
        corners, uvs, material_index = arrays.corners, arrays.uvs, arrays.material_index
    else:
        vertex_ids, inverse = np.unique(arrays.corners[faces], return_inverse=True)
        corners = inverse.reshape(-1, 3).astype(np.int32)
        uvs, material_index = arrays.uvs[faces], arrays.material_index[faces]
    mesh = bpy.data.meshes.new(name)
    nf = len(corners)
    # Generic attributes take foreach_set on their raw arrays: ~100x faster than MeshVertex.co etc.
    mesh.vertices.add(len(vertex_ids))
    mesh.attributes["position"].data.foreach_set("vector", arrays.positions[vertex_ids].ravel())
    mesh.loops.add(3 * nf)
    mesh.attributes[".corner_vert"].data.foreach_set("value", corners.ravel())
    mesh.polygons.add(nf)
    mesh.polygons.foreach_set("loop_start", np.arange(0, 3 * nf, 3, dtype=np.int32))
    mesh.attributes.new("material_index", "INT", "FACE").data.foreach_set("value", material_index)
    uv_layer = mesh.uv_layers.new(name="UVMap")
    mesh.attributes[uv_layer.name].data.foreach_set("vector", uvs.ravel())
    mesh.update(calc_edges=True)
    mesh.shade_smooth()
    mesh.normals_split_custom_set_from_vertices(arrays.normals[vertex_ids])
    return mesh, vertex_ids
