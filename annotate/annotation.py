"""Head-top / chin annotation files, at the path the annotation tool's users have always imported.

The format is defined in render/framing/annotation_file.py, below the renderer's framing that
reads it, so the renderer never imports the annotation tool (docs/annotation.md).
"""

from __future__ import annotations

from thagen.render.framing.annotation_file import (
    ANNOTATION_SUFFIX,
    ANNOTATION_VERSION,
    Annotation,
    annotation_path_for,
    load_annotation,
    now_iso,
    parse_annotation,
    save_annotation,
)

__all__ = [
    "ANNOTATION_SUFFIX",
    "ANNOTATION_VERSION",
    "Annotation",
    "annotation_path_for",
    "load_annotation",
    "now_iso",
    "parse_annotation",
    "save_annotation",
]
