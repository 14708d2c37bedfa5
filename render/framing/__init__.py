"""Where the head sits: the head-top / chin estimate, its confidence, the framing presets, and the
annotation files a person writes (pure numpy, no bpy).

Modules: estimate.py (`estimate_framing`, `load_framing`), confidence.py (`estimate_confidence`),
presets.py (THA1's and THA3's image framing), annotation_file.py (the `.annotation.yaml` format
that `thagen annotate` writes and the renderer reads).
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
