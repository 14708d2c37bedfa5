"""A `Model` as Blender objects and materials: the only modules of rigs/ that import bpy."""
