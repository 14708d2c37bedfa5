"""The Blender side of rendering: the renderer interface and the only render/ modules that import bpy."""
