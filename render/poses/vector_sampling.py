"""Seeded sampling of THA2 / THA3 pose vectors, as THA2 built its dataset (pure numpy).

THA2's rules (its write-up, section 5), which are the defaults here:

- Each *feature* (each eyebrow, each eye, the mouth) gets its morph weights jointly: in 25% of
  samples one semantic, with density rising linearly (p(v) ~ v on [0, 1]); in 75% two distinct
  semantics, the first x ~ U[0, 1], the second ~ U[0, 1 - x]. So a feature's weights never sum
  to more than 1. The semantics are picked uniformly among the feature's parameters.
- Each iris: iris_small = 0 with probability 0.25, otherwise U[0, 1].
- Iris rotation ~ U[-1, 1].

Where the sources are silent (thagen's choices, each configurable per parameter in the
manifest): each side's eyebrow and eye are features of their own, sampled independently (as
THA1 sampled its two eyes); head_x / head_y / neck_z keep THA1's distribution (p(v) ~ |v|);
THA3's body_y / body_z use the same; breathing ~ U[0, 1].

A parameter given its own distribution in the manifest leaves its feature's joint sampling and
is drawn independently; the jointly drawn weights of that feature are then scaled down so the
feature's sum stays <= 1 (and if the explicitly drawn weights alone exceed 1, all are scaled).

Streams follow thagen.render.poses.sampling: every feature and every independent parameter has its
own stream derived from (seed, character id, purpose, index), and each sample uses a fixed
number of draws, so the first k poses of a character do not depend on its pose count.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from thagen.pose_vectors import PoseVectorDef, pose_vector_def, with_tha1_view
from thagen.render.poses.sampling import DIST_KINDS, ParamDist, character_seed_sequence

ONE_SEMANTIC_P = 0.25  # THA2: share of samples with one semantic per feature (the rest: two)
IRIS_SMALL_ZERO_P = 0.25  # THA2: iris_small = 0 with this probability
REST_MOUTH_OPEN_P = 0.75  # THA2: rest pose mouth_aaa = 1 with this probability, per character

_PURPOSE_AMBIENT = 2  # shared with thagen.render.poses.sampling (same ambient values for a character)
_PURPOSE_FEATURE = 10
_PURPOSE_PARAM = 11
_PURPOSE_REST = 12
_DRAWS_PER_SAMPLE = 4


def default_dist(vector: PoseVectorDef, name: str) -> ParamDist | None:
    """The independent distribution of a parameter not sampled jointly (None: joint by default)."""
    p = vector.param(name)
    if p.group in ("eyebrow", "eye", "mouth", "iris_morph"):
        return None
    if p.group in ("face_rotation", "body_rotation"):
        return ParamDist("tha1_linear", -1.0, 1.0)
    if p.group == "iris_rotation":
        return ParamDist("uniform", -1.0, 1.0)
    return ParamDist("uniform", 0.0, 1.0)  # breathing


def check_dist(dist: ParamDist, name: str, low: float, high: float, morph: bool) -> list[tuple[str, str]]:
    """(field, message) problems of a distribution for one vector parameter; empty when valid."""
    if dist.kind not in DIST_KINDS:
        return [("dist", f"unknown distribution {dist.kind!r}; expected one of {', '.join(DIST_KINDS)}")]
    problems: list[tuple[str, str]] = []
    keys = (("value", dist.value),) if dist.kind == "fixed" else (("low", dist.low), ("high", dist.high))
    for key, v in keys:
        if not low <= v <= high:
            problems.append((key, f"{v} is outside {name}'s range [{low:g}, {high:g}]"))
    if dist.kind != "fixed" and dist.low > dist.high:
        problems.append(("low", f"low ({dist.low}) is greater than high ({dist.high})"))
    if dist.kind == "beta" and not (dist.a > 0 and dist.b > 0):
        problems.append(("a", f"beta parameters must be > 0, got a={dist.a}, b={dist.b}"))
    for key, p in (("snap.p0", dist.snap_p0), ("snap.p1", dist.snap_p1)):
        if not 0.0 <= p <= 1.0:
            problems.append((key, f"probability must be in [0, 1], got {p}"))
    if dist.snap_p0 + dist.snap_p1 > 1.0 + 1e-12:
        problems.append(("snap", "p0 + p1 is more than 1"))
    if (dist.snap_p0 or dist.snap_p1) and not morph:
        problems.append(("snap", "snapping to 0/1 is only for morph weights"))
    return problems


@dataclass(frozen=True)
class VectorPoseSpec:
    """How a THA2 / THA3 vector is sampled: THA2's joint rules plus per-parameter overrides."""

    vector: str = "tha2"
    params: Mapping[str, ParamDist] = field(default_factory=dict)  # explicit distributions only
    one_semantic_p: float = ONE_SEMANTIC_P
    iris_small_zero_p: float = IRIS_SMALL_ZERO_P

    def __post_init__(self) -> None:
        vec = pose_vector_def(self.vector)  # KeyError for an unknown vector
        unknown = sorted(set(self.params) - set(vec.names))
        if unknown:
            raise ValueError(f"unknown {self.vector} parameters {unknown}")
        for name, dist in self.params.items():
            p = vec.param(name)
            problems = check_dist(dist, name, p.low, p.high, p.is_morph)
            if problems:
                raise ValueError(f"{name}.{problems[0][0]}: {problems[0][1]}")
        for key in ("one_semantic_p", "iris_small_zero_p"):
            if not 0.0 <= getattr(self, key) <= 1.0:
                raise ValueError(f"{key}: must be in [0, 1], got {getattr(self, key)}")
        object.__setattr__(self, "params", dict(self.params))

    @property
    def definition(self) -> PoseVectorDef:
        return pose_vector_def(self.vector)

    def dist_for(self, name: str) -> ParamDist | None:
        """The independent distribution of `name`, or None when it is sampled jointly."""
        return self.params.get(name) or default_dist(self.definition, name)

    def to_dict(self) -> dict:
        out: dict = {n: self.params[n].to_dict() for n in self.definition.names if n in self.params}
        if self.one_semantic_p != ONE_SEMANTIC_P:
            out["one_semantic_p"] = self.one_semantic_p
        if self.iris_small_zero_p != IRIS_SMALL_ZERO_P:
            out["iris_small_zero_p"] = self.iris_small_zero_p
        return out


def _rng(seed: int, character_id: str, *key: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(character_seed_sequence(seed, character_id, *key)))


def joint_feature_values(draws: np.ndarray, k: int, one_p: float) -> np.ndarray:
    """(n, k) weights of one feature from (n, 4) uniform draws: one semantic or two (THA2)."""
    n = draws.shape[0]
    out = np.zeros((n, k))
    if k == 0 or n == 0:
        return out
    rows = np.arange(n)
    one = draws[:, 0] < one_p if k > 1 else np.ones(n, bool)
    first = np.minimum((draws[:, 1] * k).astype(np.int64), k - 1)
    x = np.where(one, np.sqrt(draws[:, 2]), draws[:, 2])  # one: p(v) ~ v; two: U[0, 1]
    out[rows, first] = x
    if k > 1:
        step = 1 + np.minimum((draws[:, 1] * k % 1.0 * (k - 1)).astype(np.int64), k - 2)
        second = (first + step) % k
        y = draws[:, 3] * (1.0 - x)
        two = ~one
        out[rows[two], second[two]] = y[two]
    return out


def sample_vector_columns(
    spec: VectorPoseSpec, seed: int, character_id: str, count: int
) -> dict[str, np.ndarray]:
    """{parameter: (count,) values} for every parameter of the spec's vector."""
    vec = spec.definition
    cols: dict[str, np.ndarray] = {}
    explicit: set[str] = set()
    for i, p in enumerate(vec.params):
        dist = spec.dist_for(p.name)
        if dist is None:
            continue
        rng = _rng(seed, character_id, _PURPOSE_PARAM, i, 0)
        snap_rng = _rng(seed, character_id, _PURPOSE_PARAM, i, 1)
        cols[p.name] = dist.sample(rng, snap_rng, count)
        explicit.add(p.name)
    for j, (feature, names) in enumerate(vec.features().items()):
        joint = [n for n in names if n not in explicit]
        draws = _rng(seed, character_id, _PURPOSE_FEATURE, j).random((count, _DRAWS_PER_SAMPLE))
        if feature.startswith("iris_"):
            for n in joint:  # one semantic per iris: zero with probability p, else U[0, 1]
                cols[n] = np.where(draws[:, 0] < spec.iris_small_zero_p, 0.0, draws[:, 1])
        else:
            values = joint_feature_values(draws, len(joint), spec.one_semantic_p)
            for c, n in enumerate(joint):
                cols[n] = values[:, c]
        fixed_sum = sum((cols[n] for n in names if n in explicit), np.zeros(count))
        joint_sum = sum((cols[n] for n in joint), np.zeros(count))
        room = np.clip(1.0 - fixed_sum, 0.0, None)
        joint_scale = np.where(joint_sum > room, room / np.maximum(joint_sum, 1e-300), 1.0)
        fixed_scale = np.where(fixed_sum > 1.0, 1.0 / np.maximum(fixed_sum, 1e-300), 1.0)
        for n in names:
            cols[n] = cols[n] * (fixed_scale if n in explicit else joint_scale)
    return {n: cols[n] for n in vec.names}


def sample_vector_poses(
    spec: VectorPoseSpec,
    seed: int,
    character_id: str,
    count: int,
    *,
    ambient_range: tuple[float, float] | None = None,
) -> list[dict[str, float]]:
    """`count` pose dicts: the vector's parameters (in order), THA1's three aliases, and
    "ambient" (uniform on `ambient_range`, the same stream as THA1 sampling) when given."""
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    cols = sample_vector_columns(spec, seed, character_id, count)
    if ambient_range is not None:
        lo, hi = float(ambient_range[0]), float(ambient_range[1])
        if not 0.0 <= lo <= hi:
            raise ValueError(f"ambient range must satisfy 0 <= low <= high, got {ambient_range}")
        cols["ambient"] = lo + (hi - lo) * _rng(seed, character_id, _PURPOSE_AMBIENT).random(count)
    names = list(cols)
    table = np.stack([cols[n] for n in names], axis=1) if count else np.zeros((0, len(names)))
    out = []
    for row in table:
        pose = dict(zip(names, map(float, row)))
        ambient = pose.pop("ambient", None)
        pose = with_tha1_view(pose)
        if ambient is not None:
            pose["ambient"] = ambient
        out.append(pose)
    return out


REST_CHOICES = ("tha1", "tha2")


def vector_rest_pose(
    vector: str,
    rest: str | Mapping[str, float],
    seed: int,
    character_id: str,
    mouth_open_p: float = REST_MOUTH_OPEN_P,
) -> dict[str, float]:
    """A character's rest pose for an extended vector (with THA1's aliases).

    'tha2' (the default for extended vectors): all zero, except mouth_aaa = 1 with probability
    `mouth_open_p` (0.75 in THA2), drawn once per character from its own seeded stream.
    'tha1': all zero with mouth_aaa = 1 (eyes and mouth wide open). A mapping: explicit values,
    every other parameter 0.
    """
    vec = pose_vector_def(vector)
    values = dict.fromkeys(vec.names, 0.0)
    if isinstance(rest, str):
        if rest == "tha1":
            values["mouth_aaa"] = 1.0
        elif rest == "tha2":
            u = _rng(seed, character_id, _PURPOSE_REST).random()
            values["mouth_aaa"] = 1.0 if u < mouth_open_p else 0.0
        else:
            raise ValueError(
                f"unknown rest pose {rest!r}; expected {', '.join(REST_CHOICES)} or explicit values"
            )
    else:
        for name, v in rest.items():
            if name not in values:
                raise ValueError(f"unknown {vector} parameter {name!r}")
            lo, hi = vec.param(name).low, vec.param(name).high
            if not lo <= float(v) <= hi:
                raise ValueError(f"{name}: {v} is outside [{lo:g}, {hi:g}]")
            values[name] = float(v)
    return with_tha1_view(values)


def vector_values(pose: Mapping[str, float], vector: str) -> np.ndarray:
    """A pose dict as the vector's ordered values (float32)."""
    return np.array([float(pose.get(n, 0.0)) for n in pose_vector_def(vector).names], np.float32)
