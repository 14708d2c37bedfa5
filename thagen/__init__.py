"""thagen: synthetic Talking Head Anime datasets from MMD models, rendered with Blender."""

__version__ = "0.1.0"
