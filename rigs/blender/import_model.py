"""A `Model` as Blender objects: mesh, armature, vertex groups, shape keys and materials.

The entry point: `import_model` runs the build steps (`mesh`, `materials`, `armature`,
`skinning`, `morphs`), times them, removes whatever it made if one fails, and returns an
`ImportedModel` (`imported`) that poses the character and deletes it again. Everything is built
straight through bpy.data with bulk foreach_set from the numpy arrays (no import operators, no
per-vertex Python loops), so a 30k-vertex model imports in well under a second.

IK, inherited rotation (付与), physics and outlines are not built: thagen only poses the head
and neck and renders the rest as it stands.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

import bpy

from thagen.rigs.blender.armature import build_armature
from thagen.rigs.blender.imported import ImportedModel
from thagen.rigs.blender.materials import build_materials
from thagen.rigs.blender.mesh import build_mesh, check_model
from thagen.rigs.blender.morphs import build_morphs
from thagen.rigs.blender.report import ImportReport
from thagen.rigs.blender.skinning import build_weights
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
) -> ImportedModel:
    """Build `model` in the current scene. `rig` (a RigReport) adds its synthetic morphs.

    `morphs` limits shape keys and bone morphs to those names (the renderer passes the few it
    drives: Gene has 177 vertex morphs and a dataset needs 3 or 4); None builds them all.

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
        mesh_data = build_mesh(model, name, report)
        made.append(mesh_data)
        t1 = time.perf_counter()
        images = ImageCache(model, model_path, name)
        try:
            specs = build_materials(model, images, shading, name)
        finally:
            made.extend(images.images)
        made.extend(spec.material for spec in specs)
        for spec in specs:
            mesh_data.materials.append(spec.material)
        report.missing_textures = list(images.missing)
        report.texture_misses = list(images.misses)
        report.warnings.extend(images.warnings)
        t2 = time.perf_counter()
        arm, bone_names = build_armature(model, f"{name}_armature")
        made.extend([arm, arm.data])
        obj = bpy.data.objects.new(name, mesh_data)
        made.append(obj)
        bpy.context.scene.collection.objects.link(obj)
        obj.parent = arm
        modifier = obj.modifiers.new("armature", "ARMATURE")
        modifier.object = arm
        t3 = time.perf_counter()
        build_weights(obj, model, bone_names)
        t4 = time.perf_counter()
        bone_morphs = build_morphs(obj, model, rig, bone_names, report, morphs)
        t5 = time.perf_counter()
    except BaseException:
        _discard(made)
        raise
    report.timings = {
        "mesh": t1 - t0,
        "materials": t2 - t1,
        "armature": t3 - t2,
        "weights": t4 - t3,
        "shape_keys": t5 - t4,
        "total": t5 - t0,
    }
    imported = ImportedModel(arm, obj, report, specs, images.images, bone_names, bone_morphs)
    imported.shading = shading
    for bone, blender_name in zip(model.bones, bone_names):
        imported._bone_alias.setdefault(bone.name, blender_name)
    return imported
