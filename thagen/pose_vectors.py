"""The named pose vectors thagen can render: THA1's 6, THA2's 42 and THA3's 45 parameters.

Pure data (no numpy, no bpy), so the manifest, sampler, renderer, rig checks and docs all read
one definition. The order of each vector is the order of its parameters here; it is the order
of the released THA2 / THA3 / THA4 demo code (THA4 uses THA3's 45):

======== ============== =====================================================================
index    group          parameters (a pair is ``_left`` then ``_right``)
======== ============== =====================================================================
0-11     eyebrow        troubled, angry, lowered, raised, happy, serious (each a pair)
12-23    eye            wink, happy_wink, surprised, relaxed, unimpressed, raised_lower_eyelid
24-25    iris_morph     iris_small (a pair)
26-36    mouth          aaa, iii, uuu, eee, ooo, delta; lowered_corner, raised_corner (pairs);
                        smirk
37-38    iris_rotation  iris_rotation_x, iris_rotation_y
39-41    face_rotation  head_x, head_y, neck_z (THA1's three rotations)
42-44    body (THA3)    body_y, body_z, breathing
======== ============== =====================================================================

Morph weights and breathing lie in [0, 1]; rotations in [-1, 1]. A *feature* is the part of
the face a set of morphs acts on: each eyebrow, each eye, each iris and the mouth. The weights
on one feature sum to at most 1 (THA2's rule), which the sampler keeps.

THA1's six are a subset: ``left_eye`` / ``right_eye`` ~ ``eye_wink_left`` / ``eye_wink_right``,
``mouth`` ~ ``mouth_aaa``; the three rotations keep their names. Extended pose dicts carry those
three THA1 names too (`with_tha1_view`), so THA1 consumers (the bundled trainer, QA, framing)
read extended data unchanged.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

VECTOR_NAMES = ("tha1", "tha2", "tha3")

# group -> its parameters' semantic names, in vector order; True = a left/right pair
_EYEBROW = ("troubled", "angry", "lowered", "raised", "happy", "serious")
_EYE = ("wink", "happy_wink", "surprised", "relaxed", "unimpressed", "raised_lower_eyelid")
_MOUTH: tuple[tuple[str, bool], ...] = (
    ("aaa", False),
    ("iii", False),
    ("uuu", False),
    ("eee", False),
    ("ooo", False),
    ("delta", False),
    ("lowered_corner", True),
    ("raised_corner", True),
    ("smirk", False),
)
# morph groups sampled jointly (THA2: 25% one semantic, 75% two per feature)
MORPH_GROUPS = ("eyebrow", "eye", "iris_morph", "mouth")
ROTATION_GROUPS = ("iris_rotation", "face_rotation", "body_rotation", "breathing")
GROUPS = MORPH_GROUPS + ROTATION_GROUPS

# THA1 names of the THA2 parameters they match
THA1_ALIASES = {"left_eye": "eye_wink_left", "right_eye": "eye_wink_right", "mouth": "mouth_aaa"}


@dataclass(frozen=True)
class Param:
    """One named parameter of a pose vector.

    feature: which face part it acts on ('eyebrow_left', 'eye_right', 'iris_left', 'mouth') for
    morph parameters, None for rotations and breathing; side: the character's own 'left' /
    'right' for a per-side parameter, None otherwise; semantic: the name without its side.
    """

    name: str
    group: str
    semantic: str
    side: str | None
    feature: str | None
    low: float
    high: float

    @property
    def is_morph(self) -> bool:
        return self.group in MORPH_GROUPS


@dataclass(frozen=True)
class PoseVectorDef:
    """A pose vector: its name and ordered parameters."""

    name: str
    params: tuple[Param, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    def __len__(self) -> int:
        return len(self.params)

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def domains(self) -> dict[str, tuple[float, float]]:
        return {p.name: (p.low, p.high) for p in self.params}

    def features(self) -> dict[str, tuple[str, ...]]:
        """Feature -> its parameter names (vector order); the weights of each sum to <= 1."""
        out: dict[str, list[str]] = {}
        for p in self.params:
            if p.feature is not None:
                out.setdefault(p.feature, []).append(p.name)
        return {k: tuple(v) for k, v in out.items()}

    def group(self, group: str) -> tuple[Param, ...]:
        return tuple(p for p in self.params if p.group == group)


def _pairs(group: str, prefix: str, semantics: tuple[str, ...], feature: str) -> list[Param]:
    out = []
    for sem in semantics:
        for side in ("left", "right"):
            out.append(
                Param(f"{prefix}_{sem}_{side}", group, f"{prefix}_{sem}", side, f"{feature}_{side}", 0, 1)
            )
    return out


def _tha2_params() -> list[Param]:
    params = _pairs("eyebrow", "eyebrow", _EYEBROW, "eyebrow")
    params += _pairs("eye", "eye", _EYE, "eye")
    params += [
        Param(f"iris_small_{side}", "iris_morph", "iris_small", side, f"iris_{side}", 0, 1)
        for side in ("left", "right")
    ]
    for sem, paired in _MOUTH:
        if paired:
            params += [
                Param(f"mouth_{sem}_{side}", "mouth", f"mouth_{sem}", side, "mouth", 0, 1)
                for side in ("left", "right")
            ]
        else:
            params.append(Param(f"mouth_{sem}", "mouth", f"mouth_{sem}", None, "mouth", 0, 1))
    params += [
        Param(n, "iris_rotation", n, None, None, -1, 1) for n in ("iris_rotation_x", "iris_rotation_y")
    ]
    params += [Param(n, "face_rotation", n, None, None, -1, 1) for n in ("head_x", "head_y", "neck_z")]
    return params


def _tha1_params() -> list[Param]:
    return [
        Param("left_eye", "eye", "eye_close", "left", "eye_left", 0, 1),
        Param("right_eye", "eye", "eye_close", "right", "eye_right", 0, 1),
        Param("mouth", "mouth", "mouth_open", None, "mouth", 0, 1),
        *(Param(n, "face_rotation", n, None, None, -1, 1) for n in ("head_x", "head_y", "neck_z")),
    ]


@functools.cache
def pose_vector_def(name: str) -> PoseVectorDef:
    """The vector called `name` (one of VECTOR_NAMES); KeyError otherwise."""
    if name == "tha1":
        return PoseVectorDef("tha1", tuple(_tha1_params()))
    if name == "tha2":
        return PoseVectorDef("tha2", tuple(_tha2_params()))
    if name == "tha3":
        extra = [
            Param("body_y", "body_rotation", "body_y", None, None, -1, 1),
            Param("body_z", "body_rotation", "body_z", None, None, -1, 1),
            Param("breathing", "breathing", "breathing", None, None, 0, 1),
        ]
        return PoseVectorDef("tha3", tuple(_tha2_params() + extra))
    raise KeyError(f"unknown pose vector {name!r}; expected one of {', '.join(VECTOR_NAMES)}")


def with_tha1_view(values: dict[str, float]) -> dict[str, float]:
    """An extended pose dict plus THA1's left_eye / right_eye / mouth (copied from their matches)."""
    out = dict(values)
    for tha1_name, name in THA1_ALIASES.items():
        out[tha1_name] = float(values.get(name, 0.0))
    return out
