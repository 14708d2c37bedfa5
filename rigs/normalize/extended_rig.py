"""The result of THA2 / THA3 role finding: per parameter how a model shows it (pure data).

`ParamRole` is one parameter's answer, `ExtendedRig` a model's whole vector; both serialize
into the rig report (`rig_report.json` under `rig.extended`). The name tables they are found
with live in names.yaml (`extended_roles`, `extended_bones`, `extended_settings`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import yaml

from thagen.rigs.model import Model, Morph
from thagen.rigs.normalize.eyebrows import EyebrowGeometry
from thagen.rigs.normalize.roles import NAMES_FILE

AVAILABILITY = ("exact", "derived", "missing")


@dataclass
class ParamRole:
    """How one pose-vector parameter is shown on this model."""

    param: str
    availability: str  # exact / derived / missing
    method: str  # how: "name", "THA1 role", "split", "bone", "calibrated", "thagen motion", "override", "-"
    morph: str | None = None  # the shape key to drive (a synthetic one when split)
    source: str | None = None  # the model's morph or bone it comes from
    side: str | None = None  # the side geometry found (per-side parameters)
    bones: tuple[str, ...] = ()
    degrees: tuple[float, ...] = ()  # per bone: the angle at +-1 (rotations)
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "availability": self.availability,
            "method": self.method,
            "morph": self.morph,
            "source": self.source,
            "side": self.side,
            "bones": list(self.bones),
            "degrees": [round(d, 4) for d in self.degrees],
            "detail": self.detail,
        }


@dataclass
class ExtendedRig:
    """Every parameter of a vector on one model, plus the morphs thagen synthesized."""

    vector: str
    params: dict[str, ParamRole]
    synthetic_morphs: dict[str, Morph] = field(default_factory=dict)
    eye_line_y: float | None = None
    mouth_line_y: float | None = None
    # eye bone -> degrees, eye_width, shift (MMD units), side: how iris rotation was calibrated
    iris_calibration: dict[str, dict[str, Any]] = field(default_factory=dict)
    # the manifest's vector_motion (degrees for body rotation and breathing), set by the renderer
    motion: dict[str, float] = field(default_factory=dict)
    # the eyebrow triangles THA3's eyebrow decomposer images hide / show (rigs/normalize/eyebrows.py)
    eyebrows: EyebrowGeometry = field(default_factory=EyebrowGeometry)

    def availability(self) -> dict[str, str]:
        return {n: r.availability for n, r in self.params.items()}

    def mask(self) -> list[bool]:
        """True where the parameter can be shown (exact or derived), in vector order."""
        return [r.availability != "missing" for r in self.params.values()]

    def bone_names(self) -> set[str]:
        """Bones posed for this vector beyond THA1's head and neck (eyes, upper body, shoulders)."""
        return {
            b for n, r in self.params.items() if n not in ("head_x", "head_y", "neck_z") for b in r.bones if b
        }

    def morph_names(self) -> set[str]:
        return {r.morph for r in self.params.values() if r.morph}

    def missing(self) -> list[str]:
        return [n for n, r in self.params.items() if r.availability == "missing"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "vector": self.vector,
            "eye_line_y": self.eye_line_y,
            "mouth_line_y": self.mouth_line_y,
            "iris_calibration": self.iris_calibration,
            "params": {n: r.to_dict() for n, r in self.params.items()},
            "eyebrows": self.eyebrows.to_dict(),
            "summary": {a: sum(r.availability == a for r in self.params.values()) for a in AVAILABILITY},
        }


@functools.cache
def extended_tables() -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]], dict[str, float]]:
    """(semantic -> names, bone role -> names, settings) from names.yaml."""
    data = yaml.safe_load(NAMES_FILE.read_text(encoding="utf-8"))
    roles = {str(k): tuple(str(n) for n in v) for k, v in data["extended_roles"].items()}
    bones = {str(k): tuple(str(n) for n in v) for k, v in data["extended_bones"].items()}
    settings = {str(k): float(v) for k, v in data["extended_settings"].items()}
    return roles, bones, settings


def iris_vertices(model: Model, bone: int, eye_width: float, depth_fraction: float = 0.25) -> np.ndarray:
    """The visible iris: the eye bone's vertices (weight >= 0.5) in its front-most layer, within
    `depth_fraction` of the eye's width of the front (MMD -Z faces the camera). Models hang
    hidden extras on the eye bones (swirl or star eyes, eyeballs behind the iris); those deeper
    layers would bias where "the iris" is."""
    hit = (model.bone_indices == bone) & (model.bone_weights > 0)
    weight = np.where(hit, model.bone_weights, 0.0).sum(axis=1)
    idx = np.flatnonzero(weight >= 0.5)
    if idx.size == 0:
        return idx
    z = model.positions[idx, 2].astype(np.float64)
    return idx[z <= z.min() + depth_fraction * eye_width]
