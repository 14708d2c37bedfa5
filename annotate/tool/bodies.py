"""Validation of the JSON API's request bodies: every mistake is a 4xx with a message.

JSON itself allows neither NaN nor Infinity, but Python's parser accepts them, so they are
refused while parsing; numbers must also be of a plausible size for MMD model space.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, NoReturn

import numpy as np

MAX_BODY = 16 * 1024  # bytes: an annotation is a few hundred
MAX_COORD = 1e5
MAX_NOTES = 2000
MAX_REASON = 500


class BadBody(Exception):
    """A request body the API refuses; `status` is the HTTP status (400 or 422)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class AnnotationBody:
    head_top: np.ndarray
    chin: np.ndarray
    center_x: float | None
    version: str
    notes: str


@dataclass
class SkipBody:
    reason: str
    version: str


def _refuse_constant(name: str) -> NoReturn:
    raise BadBody(f"body: {name} is not a finite number")


def parse_json(raw: bytes) -> dict[str, Any]:
    if len(raw) > MAX_BODY:
        raise BadBody(f"body: {len(raw)} bytes is more than {MAX_BODY}", 413)
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadBody(f"body: not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise BadBody(f"body: expected a JSON object, got {type(data).__name__}")
    return data


def _keys(data: dict[str, Any], allowed: tuple[str, ...], required: tuple[str, ...]) -> None:
    for key in data:
        if key not in allowed:
            raise BadBody(f"{key}: unknown field; allowed: {', '.join(allowed)}")
    for key in required:
        if key not in data:
            raise BadBody(f"{key}: required")


def _number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadBody(f"{where}: expected a number, got {json.dumps(value)}")
    if not math.isfinite(float(value)) or abs(float(value)) > MAX_COORD:
        raise BadBody(f"{where}: expected a finite number within +-{MAX_COORD:g}, got {value!r}")
    return float(value)


def _point(value: object, where: str) -> np.ndarray:
    if not isinstance(value, list) or len(value) != 3:
        raise BadBody(f"{where}: expected [x, y, z], got {json.dumps(value)}")
    return np.array([_number(v, f"{where}[{i}]") for i, v in enumerate(value)])


def _text(value: object, where: str, limit: int, nonempty: bool) -> str:
    if not isinstance(value, str) or (nonempty and not value.strip()):
        raise BadBody(f"{where}: expected {'non-empty ' if nonempty else ''}text, got {json.dumps(value)}")
    if len(value) > limit:
        raise BadBody(f"{where}: longer than {limit} characters")
    return value


def parse_annotation_body(raw: bytes) -> AnnotationBody:
    data = parse_json(raw)
    _keys(data, ("head_top", "chin", "center_x", "version", "notes"), ("head_top", "chin", "version"))
    head_top, chin = _point(data["head_top"], "head_top"), _point(data["chin"], "chin")
    if not chin[1] < head_top[1]:
        raise BadBody(f"chin: must be below the head top (y {chin[1]:g} >= {head_top[1]:g})", 422)
    center = data.get("center_x")
    return AnnotationBody(
        head_top=head_top,
        chin=chin,
        center_x=None if center is None else _number(center, "center_x"),
        version=_text(data["version"], "version", 64, True),
        notes=_text(data.get("notes", ""), "notes", MAX_NOTES, False),
    )


def parse_skip_body(raw: bytes) -> SkipBody:
    data = parse_json(raw)
    _keys(data, ("reason", "version"), ("reason", "version"))
    return SkipBody(
        reason=_text(data["reason"], "reason", MAX_REASON, True).strip(),
        version=_text(data["version"], "version", 64, True),
    )
