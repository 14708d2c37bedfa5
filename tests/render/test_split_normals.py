"""The static split's custom normals (rigs/blender/static_split.py): each part built on its own
encodes every corner whose smooth fan it holds whole exactly as the whole mesh does, and the
cheap re-encoding of single corners gives the same raw values as encoding the whole mesh.
Checked on Gene against the importer's whole-mesh encoding, at the split's real boundary and at
vertices spread over the model."""

from __future__ import annotations

from pathlib import Path

import bpy
import numpy as np
import pytest

from thagen.render.scene.blender_scene import BlenderRenderer
from thagen.render.scene.posed_bones import posed_bones
from thagen.rigs.blender.mesh import build_mesh_part, mesh_arrays
from thagen.rigs.blender.morphs import plan_morphs
from thagen.rigs.blender.report import ImportReport
from thagen.rigs.blender.skinning import vertex_weights
from thagen.rigs.blender.static_split import (
    CUSTOM_NORMAL,
    SplitPlan,
    dynamic_vertices,
    moving_bones,
    reencode_corners,
)
from thagen.rigs.normalize import normalize
from thagen.rigs.reader import read_model


def _raw(mesh: bpy.types.Mesh) -> np.ndarray:
    out = np.empty(len(mesh.loops) * 2, np.int32)
    mesh.attributes[CUSTOM_NORMAL].data.foreach_get("value", out)
    return out.reshape(-1, 2)


@pytest.fixture(scope="module")
def whole(gene_pmx: Path):
    """Gene imported as one mesh (no split), its arrays and the split the renderer would make."""
    renderer = BlenderRenderer(image_size=32, samples=1, split_static=False)
    try:
        model = read_model(gene_pmx)
        rig = normalize(model, model_path=gene_pmx)
        imported = renderer.load_character(model, rig, gene_pmx, shading="phong")
        arrays = mesh_arrays(model, ImportReport())
        plan = plan_morphs(model, rig, imported.bone_names, ImportReport())
        moving = moving_bones(model, posed_bones(model, rig), plan.bone_morphs, imported.bone_names)
        dynamic = dynamic_vertices(
            model.vertex_count, moving, vertex_weights(model), plan.keys, arrays.positions
        )
        split = SplitPlan.of(arrays, dynamic)
        assert split is not None and split.boundary.sum() > 10
        yield imported.mesh.data, arrays, split
    finally:
        renderer.close()


def test_reencoded_corners_equal_whole_mesh_encoding(whole) -> None:
    mesh, arrays, split = whole
    raw = _raw(mesh)  # the importer encoded all of the mesh at once
    assert np.abs(raw).max() > 0
    corner_vertex = arrays.corners.ravel()  # the whole mesh's corners, three per triangle
    every_97th = np.zeros(len(arrays.positions), bool)
    every_97th[::97] = True
    for vertices in (every_97th, split.boundary):
        need = vertices[corner_vertex]
        fresh = reencode_corners(mesh, arrays.normals, need)
        assert fresh.shape == (need.sum(), 2)
        assert np.array_equal(fresh, raw[need])


def test_each_part_encodes_its_whole_fans_as_the_whole_mesh(whole) -> None:
    mesh, arrays, split = whole
    raw = _raw(mesh).reshape(-1, 3, 2)
    for faces in (split.static_faces, ~split.static_faces):
        part, vertex_ids = build_mesh_part("thagen_test_part", arrays, faces)
        try:
            assert np.array_equal(
                vertex_ids[_raw_corner_vertices(part)], arrays.corners[faces].ravel()
            )  # the part keeps the triangles' order and corners
            cut = split.boundary[arrays.corners[faces]].ravel()
            assert cut.any() and not cut.all()
            own, original = _raw(part), raw[faces].reshape(-1, 2)
            assert np.array_equal(own[~cut], original[~cut])
        finally:
            bpy.data.meshes.remove(part)


def _raw_corner_vertices(mesh: bpy.types.Mesh) -> np.ndarray:
    out = np.empty(len(mesh.loops), np.int32)
    mesh.attributes[".corner_vert"].data.foreach_get("value", out)
    return out
