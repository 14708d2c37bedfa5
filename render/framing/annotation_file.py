"""Head-top / chin annotation files: a person's word on where a character's head starts and ends.

One YAML file per model, `<model stem>.annotation.yaml` beside it (or named in the manifest).
Schema in docs/annotation.md. Points are in MMD model space (Y up, the character faces -Z,
+X is the character's left), measured on the reset pose. Every mistake is a ConfigError
naming the file and the key: a silently ignored annotation would frame a whole character wrong.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from thagen.errors import ConfigError

ANNOTATION_VERSION = 1
ANNOTATION_SUFFIX = ".annotation.yaml"
KEYS = (
    "version",
    "model",
    "model_sha256",
    "head_top",
    "chin",
    "center_x",
    "source",
    "confidence",
    "reasons",
    "annotator",
    "created",
    "notes",
)
KINDS = ("manual", "auto")  # `source:` a person's answer, or the geometric estimate written by a tool


@dataclass(eq=False)
class Annotation:
    head_top: np.ndarray  # (3,) MMD model space
    chin: np.ndarray  # (3,)
    center_x: float | None = None  # horizontal centre of the head; None: the chin's x
    model: str = ""  # the model's file name (or zip member), for people reading the file
    model_sha256: str = ""  # of the model file, to notice an annotation left beside a changed model
    annotator: str = ""
    created: str = ""  # ISO 8601 date or date-time
    notes: str = ""
    version: int = ANNOTATION_VERSION
    kind: str = "manual"  # the file's `source:`: "manual" (a person) or "auto" (the estimate)
    confidence: float | None = None  # of an auto annotation, in [0, 1]
    reasons: list[str] = field(default_factory=list)  # why the confidence is low
    source: str | None = field(default=None, repr=False)  # the file it was read from

    def __post_init__(self) -> None:
        self.head_top = np.asarray(self.head_top, np.float64).reshape(3)
        self.chin = np.asarray(self.chin, np.float64).reshape(3)

    @property
    def effective_center_x(self) -> float:
        return float(self.chin[0]) if self.center_x is None else float(self.center_x)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Annotation):
            return NotImplemented
        return (
            np.array_equal(self.head_top, other.head_top)
            and np.array_equal(self.chin, other.chin)
            and self.to_dict() == other.to_dict()
        )

    __hash__ = None  # type: ignore[assignment]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "version": self.version,
            "model": self.model,
            "model_sha256": self.model_sha256,
            "head_top": [float(v) for v in self.head_top],
            "chin": [float(v) for v in self.chin],
        }
        if self.center_x is not None:
            out["center_x"] = float(self.center_x)
        out["source"] = self.kind
        if self.confidence is not None:
            out["confidence"] = float(self.confidence)
        if self.reasons:
            out["reasons"] = list(self.reasons)
        out.update(annotator=self.annotator, created=self.created, notes=self.notes)
        return out


def annotation_path_for(model_path: str | Path, member: str | None = None) -> Path:
    """Where an annotation for this model lives by default: `<stem>.annotation.yaml` beside it
    (for a zip member: `<member stem>.annotation.yaml` beside the zip)."""
    model_path = Path(model_path)
    stem = Path(member).stem if member else model_path.stem
    return model_path.parent / f"{stem}{ANNOTATION_SUFFIX}"


def _point(value: object, key: str, where: str) -> np.ndarray:
    if not isinstance(value, (list, tuple)) or len(value) != 3:
        raise ConfigError(f"{where}: {key}: expected [x, y, z] (three numbers), got {value!r}")
    out = []
    for i, v in enumerate(value):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(float(v)):
            raise ConfigError(f"{where}: {key}[{i}]: expected a finite number, got {v!r}")
        out.append(float(v))
    return np.array(out, np.float64)


def _text(value: object, key: str, where: str) -> str:
    if value is None:
        return ""
    if isinstance(value, (dt.date, dt.datetime)):  # YAML reads unquoted dates as dates
        return value.isoformat()
    if not isinstance(value, str):
        raise ConfigError(f"{where}: {key}: expected text, got {type(value).__name__} {value!r}")
    return value


def parse_annotation(data: object, source: str | Path) -> Annotation:
    """Validate annotation data (as loaded from YAML)."""
    where = str(source)
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping with head_top and chin, got {type(data).__name__}")
    for key in data:
        if key not in KEYS:
            raise ConfigError(f"{where}: {key}: unknown key; allowed: {', '.join(KEYS)}")
    version = data.get("version", ANNOTATION_VERSION)
    if isinstance(version, bool) or version != ANNOTATION_VERSION:
        raise ConfigError(
            f"{where}: version: this thagen reads annotation version {ANNOTATION_VERSION}, not {version!r}"
        )
    for key in ("head_top", "chin"):
        if key not in data:
            raise ConfigError(f"{where}: {key}: required")
    head_top = _point(data["head_top"], "head_top", where)
    chin = _point(data["chin"], "chin", where)
    if not head_top[1] > chin[1]:
        raise ConfigError(f"{where}: head_top: must be above the chin (y {head_top[1]:g} <= {chin[1]:g})")
    center_x = data.get("center_x")
    if center_x is not None and (
        isinstance(center_x, bool)
        or not isinstance(center_x, (int, float))
        or not math.isfinite(float(center_x))
    ):
        raise ConfigError(f"{where}: center_x: expected a finite number, got {center_x!r}")
    kind = data.get("source", "manual")
    if kind not in KINDS:
        raise ConfigError(f"{where}: source: expected one of {', '.join(KINDS)}, got {kind!r}")
    confidence = data.get("confidence")
    if confidence is not None and (
        isinstance(confidence, bool)
        or not isinstance(confidence, (int, float))
        or not 0.0 <= float(confidence) <= 1.0
    ):
        raise ConfigError(f"{where}: confidence: expected a number in [0, 1], got {confidence!r}")
    reasons = data.get("reasons") or []
    if not isinstance(reasons, list) or not all(isinstance(r, str) for r in reasons):
        raise ConfigError(f"{where}: reasons: expected a list of text, got {reasons!r}")
    sha = _text(data.get("model_sha256"), "model_sha256", where)
    if sha and (len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha)):
        raise ConfigError(f"{where}: model_sha256: expected 64 lower-case hex digits, got {sha!r}")
    return Annotation(
        head_top=head_top,
        chin=chin,
        center_x=None if center_x is None else float(center_x),
        model=_text(data.get("model"), "model", where),
        model_sha256=sha,
        annotator=_text(data.get("annotator"), "annotator", where),
        created=_text(data.get("created"), "created", where),
        notes=_text(data.get("notes"), "notes", where),
        version=ANNOTATION_VERSION,
        kind=kind,
        confidence=None if confidence is None else float(confidence),
        reasons=list(reasons),
        source=where,
    )


def load_annotation(path: str | Path) -> Annotation:
    """Read and validate an annotation file (ConfigError naming the file and key)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: no such annotation file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from exc
    return parse_annotation(data, path)


def save_annotation(path: str | Path, annotation: Annotation) -> Path:
    """Write atomically (temporary file, fsync, rename): a crash never leaves half a file."""
    from thagen.files import atomic_write_bytes

    path = Path(path)
    text = "# thagen head-top / chin annotation (docs/annotation.md); MMD model space, Y up\n"
    text += yaml.safe_dump(annotation.to_dict(), sort_keys=False, allow_unicode=True, default_flow_style=None)
    atomic_write_bytes(path, text.encode("utf-8"))
    return path


def now_iso() -> str:
    """The current UTC time, for `created`."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
