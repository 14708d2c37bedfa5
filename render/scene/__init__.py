"""The Blender side of rendering: the renderer interface and the only render/ modules that import bpy.

`renderer` (the interface, `make_renderer`), `blender_scene` (BlenderRenderer), `engines`
(Cycles / EEVEE / Workbench set-up), `studio_light` (Workbench's phong light), `gl_probe` (can
Blender open OpenGL here; no bpy), `agreement` (engine-vs-Cycles figures; no bpy), `capture`
(Blender's C-level output, scratch folders), `blender_lighting`, `posed_bones` (the bones a pose rotates; no bpy),
`eyebrow_layer`, `material_mask`, `png`.
"""
