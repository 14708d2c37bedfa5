"""The static split's cheap re-encoding of custom normals (render/scene/blender_split.py) gives the same
raw values as encoding the whole mesh: checked against the importer's whole-mesh encoding on
Gene, at the corners of vertices spread over the model and at the split's real boundary."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from thagen.render.scene.blender_scene import BlenderRenderer
from thagen.render.scene.blender_split import (
    _fresh_normals,
    _raw_normals,
    _Topology,
    _vertex_normals,
    dynamic_vertices,
)
from thagen.rigs.normalize import normalize
from thagen.rigs.reader import read_model


def test_fresh_normals_equal_whole_mesh_encoding(gene_pmx: Path) -> None:
    renderer = BlenderRenderer(image_size=32, samples=1, split_static=False)
    try:
        model = read_model(gene_pmx)
        rig = normalize(model, model_path=gene_pmx)
        imported = renderer.load_character(model, rig, gene_pmx, shading="phong")
        mesh = imported.mesh.data
        whole = _raw_normals(mesh)  # the importer encoded all of the mesh at once
        assert whole is not None and np.abs(whole).max() > 0
        topo = _Topology.of(mesh)
        normals = _vertex_normals(model)
        every_97th = np.zeros(len(mesh.vertices), bool)
        every_97th[::97] = True
        dynamic = dynamic_vertices(imported, model, rig)
        in_static = np.zeros(len(dynamic), bool)
        static_faces = ~np.logical_or.reduceat(
            dynamic[topo.corner_vert], np.r_[0, np.cumsum(topo.loop_total)[:-1]]
        )
        in_static[topo.corner_vert[topo.face_corners[static_faces[topo.corner_face]]]] = True
        in_dynamic = np.zeros(len(dynamic), bool)
        in_dynamic[topo.corner_vert[topo.face_corners[~static_faces[topo.corner_face]]]] = True
        boundary = in_static & in_dynamic  # the vertices whose fan the split cuts
        assert boundary.sum() > 10
        for vertices in (every_97th, boundary):
            need = vertices[topo.corner_vert]
            fresh = _fresh_normals(mesh, normals, need)
            assert fresh.shape == (need.sum(), 2)
            assert np.array_equal(fresh, whole[need])
    finally:
        renderer.close()
