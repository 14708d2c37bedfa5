"""The state shared by every THA2 / THA3 parameter finder, and its judgement of geometry.

`FinderBase` holds one model's finding state (the normalizer's THA1 matches, the parameters
found so far, the synthetic split morphs, the morphs already taken) and the geometry every
parameter's search uses: where the eye line and the mouth line are (measured on THA1's
eye-close and mouth-open morphs), whether a motion lies on the feature it should move, the
split of a both-sides morph at the head's mid-plane, and bone lookup by name. The searches
for each kind of parameter build on it in their own modules (extended_morphs.py,
extended_iris.py, extended_body.py); extended_roles.py puts them together.

A motion's feature is judged by the height of its centre relative to the eye line and the
mouth line: eyebrows above the eyes, eyes and irises at the eye line, the mouth near the
mouth line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from thagen.rigs.model import Morph, MorphKind
from thagen.rigs.normalize.extended_rig import ParamRole, extended_tables
from thagen.rigs.normalize.geometry import split_weights

if TYPE_CHECKING:
    from thagen.rigs.normalize.matcher import Normalizer

SYNTHETIC_PREFIX = "thagen:"


class FinderBase:
    """One model's finding state for one pose vector; the parameter finders subclass it."""

    def __init__(self, norm: Normalizer, vector: str) -> None:
        from thagen.pose_vectors import pose_vector_def

        self.norm = norm
        self.model = norm.model
        self.vec = pose_vector_def(vector)
        self.names, self.bone_names, self.s = extended_tables()
        self.params: dict[str, ParamRole] = {}
        self.synthetic: dict[str, Morph] = {}
        self.taken: set[tuple[int, str | None]] = set()
        self.iris_cal: dict[str, dict[str, Any]] = {}
        for role, side in (("eye_close_left", "left"), ("eye_close_right", "right"), ("mouth_open", None)):
            match = norm.matches.get(role)  # THA1's morphs are never reused for another parameter
            if match is not None and match.found and match.index is not None:
                self.taken.add((match.index, side))
        self.eye_y = self._centre_y(("eye_close_left", "eye_close_right", "eye_close_both"))
        self.mouth_y = self._centre_y(("mouth_open",))

    # ----- geometry helpers

    def _role_offsets(self, role: str) -> tuple[np.ndarray, np.ndarray] | None:
        if role in self.norm.synthetic:
            m = self.norm.synthetic[role]
            return np.asarray(m.indices), np.asarray(m.values, np.float64)
        match = self.norm.matches.get(role)
        if match is None or not match.found or match.index is None:
            return None
        mo = self.norm.motion(match.index)
        if isinstance(mo, str) or not mo.offsets.size:
            return None
        return mo.indices, np.asarray(mo.offsets, np.float64)

    def _centre_y(self, roles: tuple[str, ...]) -> float | None:
        ys, ws = [], []
        for role in roles:
            got = self._role_offsets(role)
            if got is None:
                continue
            idx, off = got
            mag = np.linalg.norm(off, axis=1)
            ys.append(self.model.positions[idx, 1].astype(np.float64))
            ws.append(mag)
        if not ys or float(np.sum(np.concatenate(ws))) <= 0:
            return None
        return float(np.average(np.concatenate(ys), weights=np.concatenate(ws)))

    def _region_problem(self, feature: str, idx: np.ndarray, off: np.ndarray) -> str | None:
        """Why the motion is not on `feature` (None when it is, or when there is no reference)."""
        if self.eye_y is None or self.mouth_y is None or self.eye_y <= self.mouth_y:
            return None
        mag = np.linalg.norm(off, axis=1)
        if mag.sum() <= 0:
            return None
        y = float(np.average(self.model.positions[idx, 1], weights=mag))
        d = self.eye_y - self.mouth_y
        rel = (y - self.eye_y) / d  # in eye-to-mouth distances above the eye line
        kind = feature.split("_")[0]
        if kind == "eyebrow" and rel < self.s.get("eyebrow_min_above", 0.15):
            return f"moves {rel:+.2f} eye-mouth distances from the eye line, not above the eyes"
        if kind in ("eye", "iris") and abs(rel) > self.s.get("eye_band", 0.5):
            return f"moves {rel:+.2f} eye-mouth distances from the eye line, not at the eyes"
        if kind == "mouth" and rel > -self.s.get("mouth_min_below", 0.5):
            return f"moves {rel:+.2f} eye-mouth distances from the eye line, not at the mouth"
        return None

    def _split(self, param: str, side: str, idx: np.ndarray, off: np.ndarray) -> Morph:
        weight = split_weights(self.model.positions[idx, 0], self.norm.head.x, self.norm.blend_halfwidth())
        if side == "right":
            weight = 1.0 - weight
        keep = weight > 0
        return Morph(
            name=SYNTHETIC_PREFIX + param,
            name_en=SYNTHETIC_PREFIX + param,
            panel=1,
            kind=int(MorphKind.VERTEX),
            indices=idx[keep].astype(np.int32),
            values=(off[keep] * weight[keep, None]).astype(np.float32),
        )

    # ----- bones

    def bone(self, role: str) -> str | None:
        for names in (self.bone_names.get(role, ()),):
            for i, _how, _rank in self.norm.name_candidates("bone", names):
                return self.model.bones[i].name
        return None

    def bone_index(self, name: str) -> int:
        return next(i for i, b in enumerate(self.model.bones) if b.name == name)
