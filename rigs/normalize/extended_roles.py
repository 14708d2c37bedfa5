"""Roles for THA2 / THA3 pose vectors: one per parameter, with its availability on this model.

Called once from `normalize(..., pose_vector="tha2" | "tha3")` after THA1's roles are filled,
so it reuses their judgement of the head (region, mid-plane) and of each morph's motion.

Every parameter ends up `exact` (the model has a part that shows it: a one-side morph on the
right side, a both-sides morph for a single parameter, a bone), `derived` (thagen made it: a
both-sides morph split at the head's mid-plane, an iris rotation calibrated from the eye
geometry, the breathing motion) or `missing` (the model cannot show it: renders and records
keep it at 0).

Morphs are found by name (names.yaml `extended_roles`, each name also tried with side marks)
and checked by geometry: the side from where the offsets lie (MMD +X is the character's left)
and the feature from the height of the motion's centre relative to the eye line and the mouth
line (measured on the THA1 eye-close and mouth-open morphs): eyebrows above the eyes, eyes and
irises at the eye line, the mouth near the mouth line.

An override file's `params` section (docs/overrides.md, rigs/normalize/extended_overrides.py) is applied
first: an overridden parameter is not searched for, and its morph is not reused for another.

The finding is done in modules of one job each, put together here: extended_finder.py (the
shared state and its geometry checks), extended_morphs.py (eyebrow, eye and mouth shape
morphs), extended_iris.py (the calibrated iris rotation), extended_body.py (body turns and
breathing); the head and neck bones are THA1's own roles.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from thagen.rigs.normalize.extended_body import BodyParams
from thagen.rigs.normalize.extended_finder import SYNTHETIC_PREFIX  # noqa: F401 - re-exported
from thagen.rigs.normalize.extended_iris import IrisRotation
from thagen.rigs.normalize.extended_morphs import SIDE_MARKS, MorphParams  # noqa: F401 - re-exported
from thagen.rigs.normalize.extended_rig import (  # noqa: F401 - re-exported
    AVAILABILITY,
    ExtendedRig,
    ParamRole,
    extended_tables,
    iris_vertices,
)

if TYPE_CHECKING:
    from thagen.pose_vectors import Param
    from thagen.rigs.normalize.matcher import Normalizer


class _Finder(MorphParams, IrisRotation, BodyParams):
    """Every parameter of one vector on one model, in order: overrides, morphs, bones."""

    def run(self) -> ExtendedRig:
        from thagen.rigs.normalize.extended_override_apply import apply_param_overrides

        apply_param_overrides(self)  # a person's word first; those morphs are taken
        groups: dict[str, list[Param]] = {}
        for p in self.vec.params:
            if p.is_morph:
                groups.setdefault(p.semantic, []).append(p)
        for semantic, params in groups.items():
            if semantic == "eye_wink":
                for p in params:
                    self.tha1_role(p.name, f"eye_close_{p.side}")
            elif semantic == "mouth_aaa":
                self.tha1_role(params[0].name, "mouth_open")
            else:
                self.morph_param(params)
        self.iris_rotation()
        for n in ("head_x", "head_y", "neck_z"):
            role = "neck" if n == "neck_z" else "head"
            bone = self.norm.matches.get(role)
            name = bone.name if bone is not None and bone.found else None  # a found match has a name
            ok = name is not None
            self.params[n] = ParamRole(
                n,
                "exact" if ok else "missing",
                "bone" if ok else "-",
                source=name,
                bones=(name,) if name is not None else (),
            )
        if "body_y" in self.vec.names:
            self.body()
        ordered = {n: self.params[n] for n in self.vec.names}
        return ExtendedRig(self.vec.name, ordered, self.synthetic, self.eye_y, self.mouth_y, self.iris_cal)


def find_extended_roles(norm: Normalizer, vector: str) -> ExtendedRig:
    """Every parameter of `vector` ('tha2' / 'tha3') on the normalizer's model."""
    return _Finder(norm, vector).run()
