"""The geometric suggestion for a character: the framing estimate plus its confidence.

Reading and normalizing a model takes seconds for a big one, so a suggestion is cached on
disk by everything it depends on (model sha256, rig override, rest pose, thagen version).
A model that fails to read or rig gives a suggestion with `error` set instead of raising: one
bad model never stops a session or a batch.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from thagen import __version__
from thagen.annotate.tool.catalog import Character
from thagen.errors import ThagenError
from thagen.render.framing.annotation_file import Annotation, now_iso

AUTO_ANNOTATOR = f"thagen {__version__} estimate"  # the model version of the prediction


@dataclass
class Suggestion:
    """Head top / chin in MMD model space, with the estimate's confidence, or the error."""

    head_top: list[float] = field(default_factory=list)
    chin: list[float] = field(default_factory=list)
    center_x: float = 0.0
    confidence: float = 0.0
    codes: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error

    @property
    def height(self) -> float:
        return float(self.head_top[1] - self.chin[1]) if self.ok else 0.0

    def to_dict(self) -> dict:
        return asdict(self)

    def to_annotation(self, ch: Character) -> Annotation:
        """A `source: auto` annotation carrying the confidence and its reasons."""
        return Annotation(
            head_top=np.asarray(self.head_top, np.float64),
            chin=np.asarray(self.chin, np.float64),
            center_x=self.center_x,
            model=ch.label,
            model_sha256=ch.sha256 if len(ch.sha256) == 64 else "",
            annotator=AUTO_ANNOTATOR,
            created=now_iso(),
            kind="auto",
            confidence=self.confidence,
            reasons=list(self.reasons),
        )


def mouth_weight(ch: Character) -> float:
    return float(ch.job.rest_pose["mouth"])


def suggestion_key(ch: Character) -> str:
    override = ch.job.override_path
    parts = {
        "model": ch.sha256,
        "override": hashlib.sha256(Path(override).read_bytes()).hexdigest() if override else "",
        "mouth": mouth_weight(ch),
        "thagen": __version__,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:24]


def compute_suggestion(ch: Character, cache_dir: Path | None = None) -> Suggestion:
    """Read, rig and measure the model (no Blender)."""
    from thagen.annotate.front.cache import read_character
    from thagen.render.framing.confidence import estimate_confidence
    from thagen.render.framing.estimate import estimate_framing

    try:
        model, _path, rig = read_character(ch.job, cache_dir)
        framing = estimate_framing(model, rig, mouth_weight=mouth_weight(ch))
        conf = estimate_confidence(model, rig, framing, mouth_weight=mouth_weight(ch))
    except (ThagenError, OSError, ValueError) as exc:
        return Suggestion(error=f"{type(exc).__name__}: {exc}")
    return Suggestion(
        head_top=[float(v) for v in framing.head_top],
        chin=[float(v) for v in framing.chin],
        center_x=float(framing.center_x),
        confidence=conf.score,
        codes=conf.codes,
        reasons=conf.reasons,
        notes=list(framing.notes),
    )


def cached_suggestion(ch: Character, cache_dir: Path) -> Suggestion:
    """compute_suggestion, remembered in `cache_dir/suggestions/<key>.json`."""
    from thagen.files import atomic_write_bytes

    path = Path(cache_dir) / "suggestions" / f"{suggestion_key(ch)}.json"
    if path.is_file():
        try:
            return Suggestion(**json.loads(path.read_text()))
        except (ValueError, TypeError):
            pass  # an older or damaged entry: measure again
    sugg = compute_suggestion(ch, Path(cache_dir) / "models")
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, json.dumps(sugg.to_dict()).encode())
    return sugg
