"""A `Model` as Blender objects: mesh, armature, vertex groups, shape keys and materials.

The entry point: `import_model` runs the build steps (`mesh`, `materials`, `armature`,
`skinning`, `morphs`, and `static_split` when asked), times them, removes whatever it made if one fails, and returns an
`ImportedModel` (`imported`) that poses the character and deletes it again. Everything is built
straight through bpy.data with bulk foreach_set from the numpy arrays (no import operators, no
per-vertex Python loops), so a 30k-vertex model imports in well under a second.

IK, inherited rotation (付与), physics and outlines are not built: thagen only poses the head
and neck and renders the rest as it stands.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

import bpy
import numpy as np

from thagen.rigs.blender.armature import build_armature
from thagen.rigs.blender.imported import ImportedModel
from thagen.rigs.blender.materials import build_materials
from thagen.rigs.blender.mesh import build_mesh_part, check_model, mesh_arrays
from thagen.rigs.blender.morphs import add_shape_keys, plan_morphs
from thagen.rigs.blender.report import ImportReport
from thagen.rigs.blender.skinning import build_weights, vertex_weights
from thagen.rigs.blender.static_split import SplitPlan, build_static_part, dynamic_vertices, moving_bones
from thagen.rigs.blender.textures import ImageCache
from thagen.rigs.flatten import leaf_kinds
from thagen.rigs.model import Model, MorphKind

if TYPE_CHECKING:
    from thagen.rigs.normalize import RigReport


def _discard(blocks: list[Any]) -> None:
    """Remove what a failed import made: objects before the data they use."""
    collections = {
        bpy.types.Object: bpy.data.objects,
        bpy.types.Mesh: bpy.data.meshes,
        bpy.types.Armature: bpy.data.armatures,
        bpy.types.Material: bpy.data.materials,
        bpy.types.Image: bpy.data.images,
    }
    order = list(collections)
    for block in sorted(blocks, key=lambda b: next(i for i, t in enumerate(order) if isinstance(b, t))):
        for kind, collection in collections.items():
            if isinstance(block, kind):
                collection.remove(block)


def import_model(
    model: Model,
    *,
    rig: RigReport | None = None,
    model_path: Path | None = None,
    shading: str = "phong",
    name: str = "character",
    morphs: Collection[str] | None = None,
    posed_bones: np.ndarray | None = None,
    in_view: Callable[[np.ndarray], np.ndarray] | None = None,
) -> ImportedModel:
    """Build `model` in the current scene. `rig` (a RigReport) adds its synthetic morphs.

    `morphs` limits shape keys and bone morphs to those names (the renderer passes the few it
    drives: Gene has 177 vertex morphs and a dataset needs 3 or 4); None builds them all.
    `posed_bones` ((B,) bool: the bones the caller will rotate) builds the faces that can never
    move as a separate static object (rigs/blender/static_split.py); None builds one mesh.
    `in_view` ((F, 3, 3) triangle corners in Blender axes -> (F,) bool: may the camera see it)
    leaves out the static triangles the camera never sees; only for a camera that stays put.

    Raises ModelFormatError for inconsistent model data (nothing is left behind in Blender).
    """
    t0 = time.perf_counter()
    report = ImportReport()
    check_model(model)
    for index, morph in enumerate(model.morphs):
        if morph.kind == MorphKind.GROUP:
            leaf_kinds(model, index)  # cycles and bad indices fail here, before anything is built
    model_path = Path(model_path) if model_path is not None else model.source_path
    made: list[Any] = []
    try:
        arrays = mesh_arrays(model, report)
        t1 = time.perf_counter()
        images = ImageCache(model, model_path, name)
        try:
            specs = build_materials(model, images, shading, name)
        finally:
            made.extend(images.images)
        made.extend(spec.material for spec in specs)
        report.missing_textures = list(images.missing)
        report.texture_misses = list(images.misses)
        report.warnings.extend(images.warnings)
        t2 = time.perf_counter()
        arm, bone_names = build_armature(model, f"{name}_armature")
        made.extend([arm, arm.data])
        plan = plan_morphs(model, rig, bone_names, report, morphs)
        weights = vertex_weights(model)
        split = None
        if posed_bones is not None:
            moving = moving_bones(model, posed_bones, plan.bone_morphs, bone_names)
            dynamic = dynamic_vertices(model.vertex_count, moving, weights, plan.keys, arrays.positions)
            visible = in_view(arrays.positions[arrays.corners]) if in_view is not None else None
            split = SplitPlan.of(arrays, dynamic, visible)
        t3 = time.perf_counter()
        mesh_data, vertex_ids = build_mesh_part(name, arrays, None if split is None else split.dynamic_faces)
        made.append(mesh_data)
        for spec in specs:
            mesh_data.materials.append(spec.material)
        obj = bpy.data.objects.new(name, mesh_data)
        made.append(obj)
        bpy.context.scene.collection.objects.link(obj)
        obj.parent = arm
        modifier = obj.modifiers.new("armature", "ARMATURE")
        modifier.object = arm
        t4 = time.perf_counter()
        part_ids = None if split is None else vertex_ids
        build_weights(obj, model, bone_names, part_ids, weights)
        t5 = time.perf_counter()
        add_shape_keys(obj, arrays.positions, plan.keys, report, part_ids)
        t6 = time.perf_counter()
        static = None
        if split is not None:
            static = build_static_part(name, arrays, split, model, bone_names, weights, arm)
            made.extend([static, static.data])
            for spec in specs:
                static.data.materials.append(spec.material)
        t7 = time.perf_counter()
    except BaseException:
        _discard(made)
        raise
    report.timings = {
        "mesh": (t1 - t0) + (t4 - t3),
        "materials": t2 - t1,
        "armature": t3 - t2,
        "weights": t5 - t4,
        "shape_keys": t6 - t5,
        "static_part": t7 - t6,
        "total": t7 - t0,
    }
    imported = ImportedModel(arm, obj, report, specs, images.images, bone_names, plan.bone_morphs)
    imported.shading = shading
    if static is not None and split is not None:
        imported.static, imported.static_faces = static, split.static_faces
        imported.dynamic_faces = split.dynamic_faces
        report.culled_faces = split.culled
    for bone, blender_name in zip(model.bones, bone_names):
        imported._bone_alias.setdefault(bone.name, blender_name)
    return imported
