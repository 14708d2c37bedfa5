"""A `Model` as Blender objects and materials: the only modules of rigs/ that import bpy.

Import (entry point `import_model.import_model`): `mesh`, `armature`, `skinning` (vertex
groups), `morphs` (shape keys, bone-morph parts), `report` (ImportReport) and `imported`
(ImportedModel: posing, shading swap, removal). Materials (entry point `materials`): `textures`
(image loading and generated ramps), `shading` (per-preset node trees), `lighting` (the shared
light group the renderer edits per image), `nodes` (node-building helpers) and
`engine_materials` (what EEVEE and Workbench need of the materials beyond the node trees).
"""
