"""The result of rig normalization: how each role was filled, and the report for a whole model.

Kept apart from the matching code so that everything that only reads a report (the Blender
importer, the renderer, `rig check` / `rig survey`, rig_report.json) depends on these data
types alone, not on how the roles were found.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from thagen.rigs.model import Morph
from thagen.rigs.normalize.extended_rig import ExtendedRig

METHODS = ("exact", "alias", "geometry", "fallback", "override", "missing", "absent")


@dataclass
class RoleMatch:
    """How one role was filled (or why not)."""

    role: str
    kind: str  # "bone" or "morph"
    name: str | None
    index: int | None
    method: str  # one of METHODS
    detail: str = ""
    score: float | None = None

    @property
    def found(self) -> bool:
        return self.method not in ("missing", "absent")

    def to_dict(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "kind": self.kind,
            "name": self.name,
            "index": self.index,
            "method": self.method,
            "detail": self.detail,
            "score": None if self.score is None else round(float(self.score), 4),
        }


@dataclass
class RigReport:
    """Everything the importer and renderer need to drive a model's roles."""

    model_name: str
    matches: dict[str, RoleMatch]
    synthetic_morphs: dict[str, Morph] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    missing_required: list[str] = field(default_factory=list)
    head_height: float = 0.0
    head_x: float = 0.0  # the mid-plane splitting left from right (MMD x of the head bone)
    head_min: list[float] | None = None  # bounding box of the head's own vertices, MMD coords
    head_max: list[float] | None = None
    override_file: str | None = None
    extended: ExtendedRig | None = None  # rigs/normalize/extended_roles.py, for pose_vector tha2 / tha3 only

    @property
    def ok(self) -> bool:
        return not self.missing_required

    def morph_for(self, role: str) -> str | None:
        """The morph (shape key) name to drive for a role; the synthetic one when synthesized."""
        if role in self.synthetic_morphs:
            return self.synthetic_morphs[role].name
        match = self.matches.get(role)
        if match is None or match.kind != "morph" or not match.found:
            return None
        return match.name

    def bone_for(self, role: str) -> str | None:
        match = self.matches.get(role)
        if match is None or match.kind != "bone" or not match.found:
            return None
        return match.name

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "ok": self.ok,
            "missing_required": list(self.missing_required),
            "matches": {role: m.to_dict() for role, m in self.matches.items()},
            "synthetic_morphs": {
                role: {"name": m.name, "kind": "vertex", "vertex_count": int(len(m.indices))}
                for role, m in self.synthetic_morphs.items()
            },
            "warnings": list(self.warnings),
            "head_height": float(self.head_height),
            "head_x": float(self.head_x),
            "head_min": self.head_min,
            "head_max": self.head_max,
            "override_file": self.override_file,
            **({"extended": self.extended.to_dict()} if self.extended is not None else {}),
        }
