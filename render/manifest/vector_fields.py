"""Manifest fields for THA2 / THA3 pose vectors (parsed here so render/manifest/parse.py only calls in).

Fields (manifests/README.md):

- ``pose_vector: tha1 | tha2 | tha3`` (default tha1: THA1's six, today's output unchanged).
- ``pose_sampling``: for tha2 / tha3, a mapping of the vector's parameter names to
  distributions (the same forms as THA1's: uniform, fixed, beta, tha1_linear, a bare number),
  plus ``one_semantic_p`` and ``iris_small_zero_p`` for THA2's joint rules.
- ``rest_pose``: for tha2 / tha3, ``tha2`` (default: mouth_aaa = 1 with probability 0.75 per
  character), ``tha1`` (mouth_aaa = 1) or explicit values of the vector's parameters.
- ``vector_motion``: ``body_degrees`` (15: body_y / body_z at +-1),
  ``breathing_chest_degrees`` (2) and ``breathing_shoulder_degrees`` (4): breathing's amount.
- ``required_parameters``: parameter names a character must be able to show (availability
  exact or derived); a character missing one fails its rig stage and the batch goes on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from thagen.pose_vectors import VECTOR_NAMES, pose_vector_def
from thagen.render.manifest.types import DIST_KEYS  # the same keys per dist kind as THA1's
from thagen.render.poses.sampling import DIST_KINDS, ParamDist
from thagen.render.poses.vector_sampling import REST_CHOICES, VectorPoseSpec, check_dist, default_dist

if TYPE_CHECKING:
    from thagen.yaml_checks import Checker

SPEC_KEYS = ("one_semantic_p", "iris_small_zero_p")
# vector_motion: the angles the sources leave open (render/poses/vector_posing.py), in degrees
MOTION_KEYS = ("body_degrees", "breathing_chest_degrees", "breathing_shoulder_degrees")


def parse_framing_preset(c: Checker, data: object) -> str:
    from thagen.render.framing.presets import FRAMING_PRESETS

    return c.choice(data, "framing_preset", FRAMING_PRESETS)


def parse_pose_vector(c: Checker, data: object) -> str:
    return c.choice(data, "pose_vector", VECTOR_NAMES)


def _parse_dist(c: Checker, vector: str, name: str, data: object) -> ParamDist:
    where = f"pose_sampling.{name}"
    p = pose_vector_def(vector).param(name)
    if isinstance(data, (int, float)) and not isinstance(data, bool):
        data = {"dist": "fixed", "value": data}
    if not isinstance(data, dict):
        raise c.error(where, f"expected a mapping like {{dist: uniform, low: 0, high: 1}}, got {data!r}")
    default = default_dist(pose_vector_def(vector), name) or ParamDist("uniform", p.low, p.high)
    kind = c.choice(data.get("dist", default.kind), f"{where}.dist", DIST_KINDS)
    c.mapping(data, where, DIST_KEYS[kind])
    kwargs: dict[str, float] = {"low": p.low, "high": p.high}
    for key in ("low", "high", "value", "a", "b"):
        if key in data:
            kwargs[key] = c.number(data[key], f"{where}.{key}")
    if kind == "fixed" and "value" not in data:
        raise c.error(f"{where}.value", "required for dist: fixed")
    if "snap" in data:
        snap = c.mapping(data["snap"], f"{where}.snap", ("p0", "p1"))
        kwargs["snap_p0"] = c.number(snap.get("p0", 0.0), f"{where}.snap.p0")
        kwargs["snap_p1"] = c.number(snap.get("p1", 0.0), f"{where}.snap.p1")
    dist = ParamDist(kind, **kwargs)
    problems = check_dist(dist, name, p.low, p.high, p.is_morph)
    if problems:
        raise c.error(f"{where}.{problems[0][0]}", problems[0][1])
    return dist


def parse_vector_sampling(c: Checker, data: object, vector: str) -> VectorPoseSpec:
    """`pose_sampling` of a tha2 / tha3 manifest; unknown names are errors naming the field."""
    names = pose_vector_def(vector).names
    d = c.mapping({} if data is None else data, "pose_sampling", (*names, *SPEC_KEYS))
    params = {n: _parse_dist(c, vector, n, v) for n, v in d.items() if n in names}
    kw = {k: c.number(d[k], f"pose_sampling.{k}", 0.0, 1.0) for k in SPEC_KEYS if k in d}
    return VectorPoseSpec(vector, params, **kw)


def parse_vector_rest(c: Checker, data: object, vector: str) -> str | dict[str, float]:
    if isinstance(data, str):
        return c.choice(data, "rest_pose", REST_CHOICES)
    vec = pose_vector_def(vector)
    d = c.mapping(data, "rest_pose", vec.names)
    return {n: c.number(v, f"rest_pose.{n}", vec.param(n).low, vec.param(n).high) for n, v in d.items()}


def parse_motion(c: Checker, data: object) -> dict[str, float]:
    d = c.mapping(data, "vector_motion", MOTION_KEYS)
    return {k: c.number(v, f"vector_motion.{k}", 0.0, 90.0) for k, v in d.items()}


def parse_required(c: Checker, data: object, vector: str) -> tuple[str, ...]:
    names = pose_vector_def(vector).names
    if not isinstance(data, list):
        raise c.error("required_parameters", f"expected a list of {vector} parameter names, got {data!r}")
    return tuple(c.choice(v, f"required_parameters[{i}]", names) for i, v in enumerate(data))
