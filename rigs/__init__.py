"""thagen.rigs: reading MMD models into numpy (`Model`) and normalizing their rigs.

Pure Python + numpy except `blender_import` (the only module here that imports bpy).
"""
