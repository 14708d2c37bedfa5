"""Pose distributions and seeded per-character pose sampling (pure numpy).

Every character draws from its own random streams, derived from (manifest seed, character id)
with numpy's SeedSequence and a sha256 of the id (never Python's salted `hash()`). So a
character's poses do not depend on which other characters exist, their order, the sharding or
the number of machines. Each parameter (and the ambient light) has its own stream, drawn
sequentially, so:

- changing one parameter's distribution leaves the others' values unchanged, and
- the first k poses of a character are the same whatever its pose count (a split total
  spread over more characters only drops poses from the end).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from thagen.render.output.shards import POSE_NAMES

EXPRESSION_NAMES = ("left_eye", "right_eye", "mouth")
ROTATION_NAMES = ("head_x", "head_y", "neck_z")
# the values a parameter can take (eyes/mouth are morph weights, rotations are +-1 = +-15 deg)
DOMAINS: dict[str, tuple[float, float]] = {
    **{n: (0.0, 1.0) for n in EXPRESSION_NAMES},
    **{n: (-1.0, 1.0) for n in ROTATION_NAMES},
}
DIST_KINDS = ("uniform", "fixed", "beta", "tha1_linear")

REST_POSES: dict[str, dict[str, float]] = {
    # THA1: eyes wide open, mouth wide open, no rotation
    "tha1": {"left_eye": 0.0, "right_eye": 0.0, "mouth": 1.0, "head_x": 0.0, "head_y": 0.0, "neck_z": 0.0},
    # THA2: the same with the mouth closed
    "tha2": {"left_eye": 0.0, "right_eye": 0.0, "mouth": 0.0, "head_x": 0.0, "head_y": 0.0, "neck_z": 0.0},
}

# purposes mixed into the per-character SeedSequence, so streams never overlap
_PURPOSE_POSE = 0
_PURPOSE_SNAP = 1
_PURPOSE_AMBIENT = 2


@dataclass(frozen=True)
class ParamDist:
    """One pose parameter's distribution.

    kind: uniform (on [low, high]), fixed (value), beta (a, b, scaled to [low, high]) or
    tha1_linear (density growing linearly from the centre of [low, high] to its ends).
    snap_p0 / snap_p1: probability that the value is replaced by exactly 0 / 1 (eyes, mouth).
    """

    kind: str
    low: float = 0.0
    high: float = 1.0
    value: float = 0.0
    a: float = 1.0
    b: float = 1.0
    snap_p0: float = 0.0
    snap_p1: float = 0.0

    def check(self, name: str) -> list[tuple[str, str]]:
        """Problems as (field, message) pairs; empty when the distribution is valid for `name`."""
        lo, hi = DOMAINS[name]
        problems: list[tuple[str, str]] = []
        if self.kind not in DIST_KINDS:
            return [("dist", f"unknown distribution {self.kind!r}; expected one of {', '.join(DIST_KINDS)}")]
        if self.kind == "fixed":
            if not lo <= self.value <= hi:
                problems.append(("value", f"{self.value} is outside {name}'s range [{lo:g}, {hi:g}]"))
        else:
            for key, v in (("low", self.low), ("high", self.high)):
                if not lo <= v <= hi:
                    problems.append((key, f"{v} is outside {name}'s range [{lo:g}, {hi:g}]"))
            if self.low > self.high:
                problems.append(("low", f"low ({self.low}) is greater than high ({self.high})"))
        if self.kind == "beta":
            for key, v in (("a", self.a), ("b", self.b)):
                if not v > 0:
                    problems.append((key, f"beta parameter must be > 0, got {v}"))
        for key, p in (("snap.p0", self.snap_p0), ("snap.p1", self.snap_p1)):
            if not 0.0 <= p <= 1.0:
                problems.append((key, f"probability must be in [0, 1], got {p}"))
        if self.snap_p0 + self.snap_p1 > 1.0 + 1e-12:
            problems.append(("snap", f"p0 + p1 = {self.snap_p0 + self.snap_p1:g} is more than 1"))
        if (self.snap_p0 or self.snap_p1) and name not in EXPRESSION_NAMES:
            problems.append(("snap", f"snapping to 0/1 is only for {', '.join(EXPRESSION_NAMES)}"))
        return problems

    def to_dict(self) -> dict:
        if self.kind == "fixed":
            out: dict = {"dist": "fixed", "value": self.value}
        else:
            out = {"dist": self.kind, "low": self.low, "high": self.high}
            if self.kind == "beta":
                out.update(a=self.a, b=self.b)
        if self.snap_p0 or self.snap_p1:
            out["snap"] = {"p0": self.snap_p0, "p1": self.snap_p1}
        return out

    def sample(self, rng: np.random.Generator, snap_rng: np.random.Generator, count: int) -> np.ndarray:
        if self.kind == "fixed":
            values = np.full(count, self.value, np.float64)
        elif self.kind == "uniform":
            values = self.low + (self.high - self.low) * rng.random(count)
        elif self.kind == "beta":
            values = self.low + (self.high - self.low) * rng.beta(self.a, self.b, count)
        elif self.kind == "tha1_linear":
            # p(v) ~ |v| on [-1, 1]: |v| = sqrt(u) (inverse CDF of 2v on [0, 1]), random sign
            w = 2.0 * rng.random(count) - 1.0
            unit = np.sign(w) * np.sqrt(np.abs(w))
            centre, half = 0.5 * (self.low + self.high), 0.5 * (self.high - self.low)
            values = centre + half * unit
        else:  # pragma: no cover - check() rejects it
            raise ValueError(f"unknown distribution {self.kind!r}")
        u = snap_rng.random(count)
        if self.snap_p0 or self.snap_p1:
            values = np.where(u < self.snap_p0, 0.0, values)
            values = np.where((u >= self.snap_p0) & (u < self.snap_p0 + self.snap_p1), 1.0, values)
        return values


def tha1_default(name: str) -> ParamDist:
    """THA1: eyes and mouth uniform on [0, 1]; rotations with p(v) ~ |v| on [-1, 1]."""
    if name in EXPRESSION_NAMES:
        return ParamDist("uniform", 0.0, 1.0)
    if name in ROTATION_NAMES:
        return ParamDist("tha1_linear", -1.0, 1.0)
    raise KeyError(name)


def _default_params() -> dict[str, ParamDist]:
    return {n: tha1_default(n) for n in POSE_NAMES}


@dataclass(frozen=True)
class PoseSpec:
    """The distribution of every pose parameter (THA1's defaults where not given)."""

    params: Mapping[str, ParamDist] = field(default_factory=_default_params)

    def __post_init__(self) -> None:
        unknown = set(self.params) - set(POSE_NAMES)
        if unknown:
            raise ValueError(f"unknown pose parameters {sorted(unknown)}; expected {POSE_NAMES}")
        full = {n: self.params.get(n, tha1_default(n)) for n in POSE_NAMES}
        for name, dist in full.items():
            problems = dist.check(name)
            if problems:
                raise ValueError(f"{name}.{problems[0][0]}: {problems[0][1]}")
        object.__setattr__(self, "params", full)

    def to_dict(self) -> dict:
        return {n: self.params[n].to_dict() for n in POSE_NAMES}


def id_words(character_id: str) -> tuple[int, ...]:
    """A character id as four 32-bit words (sha256), for SeedSequence spawn keys."""
    digest = hashlib.sha256(character_id.encode("utf-8")).digest()
    return tuple(int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4))


def character_seed_sequence(seed: int, character_id: str, *key: int) -> np.random.SeedSequence:
    """The SeedSequence of one of a character's streams: (seed, id, purpose, ...)."""
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    return np.random.SeedSequence(entropy=seed, spawn_key=(*id_words(character_id), *key))


def _rng(seed: int, character_id: str, *key: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(character_seed_sequence(seed, character_id, *key)))


def sample_poses(
    spec: PoseSpec,
    seed: int,
    character_id: str,
    count: int,
    *,
    ambient_range: tuple[float, float] | None = None,
) -> list[dict[str, float]]:
    """`count` pose dicts (keys POSE_NAMES) for one character, plus "ambient" when a range is given.

    The ambient value of each image is uniform on `ambient_range` (THA1 later used [0.5, 1.2]),
    drawn from the character's own ambient stream.
    """
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    columns = {}
    for i, name in enumerate(POSE_NAMES):
        dist = spec.params[name]
        rng = _rng(seed, character_id, _PURPOSE_POSE, i)
        snap_rng = _rng(seed, character_id, _PURPOSE_SNAP, i)
        columns[name] = dist.sample(rng, snap_rng, count)
    if ambient_range is not None:
        lo, hi = float(ambient_range[0]), float(ambient_range[1])
        if not 0.0 <= lo <= hi:
            raise ValueError(f"ambient range must satisfy 0 <= low <= high, got {ambient_range}")
        columns["ambient"] = lo + (hi - lo) * _rng(seed, character_id, _PURPOSE_AMBIENT).random(count)
    names = list(columns)
    table = np.stack([columns[n] for n in names], axis=1) if count else np.zeros((0, len(names)))
    return [dict(zip(names, map(float, row))) for row in table]


def pose_vector(pose: Mapping[str, float]) -> np.ndarray:
    """A pose dict as the trainer's 6-vector (POSE_NAMES order)."""
    return np.array([pose[n] for n in POSE_NAMES], np.float32)


def resolve_rest_pose(value: str | Mapping[str, float]) -> dict[str, float]:
    """'tha1', 'tha2' or explicit values (missing names take THA1's rest values)."""
    if isinstance(value, str):
        if value not in REST_POSES:
            raise ValueError(
                f"unknown rest pose {value!r}; expected {', '.join(REST_POSES)} or explicit values"
            )
        return dict(REST_POSES[value])
    unknown = set(value) - set(POSE_NAMES)
    if unknown:
        raise ValueError(f"unknown pose parameters {sorted(unknown)}")
    out = dict(REST_POSES["tha1"])
    for name, v in value.items():
        lo, hi = DOMAINS[name]
        if not lo <= float(v) <= hi:
            raise ValueError(f"{name}: {v} is outside [{lo:g}, {hi:g}]")
        out[name] = float(v)
    return out
