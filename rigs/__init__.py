"""thagen.rigs: reading MMD models into numpy (`Model`) and normalizing their rigs.

Pure Python + numpy except `blender_import` and `blender_materials` (the only modules here that import bpy).
"""
