"""thagen.render: manifests, pose sampling, the Blender scene and the training-shard writer.

Only `blender_scene` (and modules named `blender_*`) import bpy.
"""
