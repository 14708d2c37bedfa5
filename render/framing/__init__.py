"""Where the head sits: the head-top / chin estimate, its confidence, the framing presets, and the
annotation files a person writes (pure numpy, no bpy).

Modules: estimate.py (`estimate_framing`, `load_framing`), confidence.py (`estimate_confidence`),
presets.py (THA1's and THA3's image framing), annotation_file.py (the `.annotation.yaml` format
that `thagen annotate` writes and the renderer reads). The estimate's parts: head_mesh.py (which
vertices are the head, the face, the mouth, the eyes, what is worn), profile.py (the head-top
column profile and its spike rule), silhouette.py (the exact front-view silhouette) and
crosscheck.py (the answer checked against the head's geometry, and its fallbacks).
"""

from __future__ import annotations

from thagen.render.framing.confidence import estimate_confidence
from thagen.render.framing.estimate import (
    Framing,
    estimate_framing,
    framing_from_annotation,
    load_framing,
)

__all__ = [
    "Framing",
    "estimate_confidence",
    "estimate_framing",
    "framing_from_annotation",
    "load_framing",
]
