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

Iris rotation (not stated by THA2, which set +-1 per model by eye): +-1 turns each eye bone by
the angle that moves the iris centre sideways by `iris_shift_fraction` (0.2) of that eye's
width (the x extent of its eye-close morph), computed from the eye bone's pivot and the iris
vertices weighted to it, so the iris moves the same fraction of the eye on every model.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from thagen.rigs.model import Morph, MorphKind
from thagen.rigs.normalize.extended_rig import (  # noqa: F401 - re-exported
    AVAILABILITY,
    ExtendedRig,
    ParamRole,
    extended_tables,
    iris_vertices,
)
from thagen.rigs.normalize.geometry import split_weights
from thagen.rigs.normalize.roles import fold_name

if TYPE_CHECKING:
    from thagen.pose_vectors import Param
    from thagen.rigs.normalize.matcher import Normalizer

SIDE_MARKS = {
    "left": ("{}左", "左{}", "{}l", "{}left", "left{}", "{}hidari"),
    "right": ("{}右", "右{}", "{}r", "{}right", "right{}", "{}migi"),
}
SYNTHETIC_PREFIX = "thagen:"


def _sided(names: tuple[str, ...]) -> tuple[str, ...]:
    """The names plus each with every side mark (folded forms: the matcher folds anyway)."""
    out = list(names)
    for name in names:
        key = fold_name(name)
        for marks in SIDE_MARKS.values():
            out += [m.format(key) for m in marks]
    return tuple(dict.fromkeys(out))


class _Finder:
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

    # ----- morph parameters

    def morph_param(self, params: list[Param]) -> None:
        """One semantic: a single parameter or a left/right pair."""
        semantic = params[0].semantic
        feature = params[0].feature
        names = self.names.get(semantic, ())
        sided = params[0].side is not None
        cands = self.norm.name_candidates("morph", _sided(names) if sided else names)
        one_side = self.s.get("one_side_share", 0.75)
        both_low = self.norm.setting("both_sides_min_share", 0.25)
        per_side: dict[str, list[tuple[int, np.ndarray, np.ndarray]]] = {"left": [], "right": []}
        both: list[tuple[int, np.ndarray, np.ndarray]] = []
        notes: list[str] = []
        for i, _how, _rank in cands:
            name = self.model.morphs[i].name
            mo = self.norm.motion(i)
            if isinstance(mo, str):
                notes.append(f"{name!r} {mo}")
                continue
            if not mo.offsets.size:
                notes.append(f"{name!r} moves no vertices")
                continue
            idx, off = mo.indices, np.asarray(mo.offsets, np.float64)
            problem = self._region_problem(feature or "", idx, off)
            if problem:
                notes.append(f"{name!r} {problem}")
                continue
            if mo.left_share >= one_side:
                per_side["left"].append((i, idx, off))
            elif mo.left_share <= 1 - one_side:
                per_side["right"].append((i, idx, off))
            elif both_low <= mo.left_share <= 1 - both_low:
                both.append((i, idx, off))
            else:
                notes.append(f"{name!r} moves the sides unevenly ({mo.left_share:.0%} at +X)")
        why = "; ".join(notes) if notes else "no morph with a known name"
        for p in params:
            if p.name in self.params:  # set by the override file
                continue
            if not sided:
                pick = next(
                    (
                        c
                        for c in both + per_side["left"] + per_side["right"]
                        if (c[0], None) not in self.taken
                    ),
                    None,
                )
                if pick is None:
                    self.params[p.name] = ParamRole(p.name, "missing", "-", detail=why)
                    continue
                self.taken.add((pick[0], None))
                name = self.model.morphs[pick[0]].name
                self.params[p.name] = ParamRole(
                    p.name, "exact", "name", name, name, detail=f"{name!r} by name; on the {feature}"
                )
                continue
            side = p.side
            assert side is not None  # the parameters of a sided semantic are all per side
            own = [c for c in per_side[side] if (c[0], side) not in self.taken]
            if own:
                i = own[0][0]
                self.taken.add((i, side))
                name = self.model.morphs[i].name
                self.params[p.name] = ParamRole(
                    p.name,
                    "exact",
                    "name",
                    name,
                    name,
                    side,
                    detail=f"{name!r} moves the character's {side} {(feature or '').split('_')[0]}",
                )
            elif both:
                i, idx, off = both[0]
                morph = self._split(p.name, side, idx, off)
                self.synthetic[p.name] = morph
                name = self.model.morphs[i].name
                self.params[p.name] = ParamRole(
                    p.name,
                    "derived",
                    "split",
                    morph.name,
                    name,
                    side,
                    detail=f"{side} half of both-sides {name!r}, split at the head mid-plane x={self.norm.head.x:.3f}",
                )
            else:
                self.params[p.name] = ParamRole(p.name, "missing", "-", side=side, detail=why)

    def tha1_role(self, param: str, role: str) -> None:
        match = self.norm.matches.get(role)
        morph = (
            self.norm.synthetic[role].name
            if role in self.norm.synthetic
            else (match.name if match and match.found else None)
        )
        if morph is None:
            self.params[param] = ParamRole(param, "missing", "-", detail=f"THA1 role {role} is missing")
            return
        derived = role in self.norm.synthetic
        by_override = match is not None and match.method == "override"
        self.params[param] = ParamRole(
            param,
            "derived" if derived else "exact",
            "override" if by_override else "THA1 role",
            morph,
            match.name
            if match and not derived
            else (self.norm.matches["eye_close_both"].name if derived else None),
            detail=f"THA1 role {role} ({match.method if match else '?'})",
        )

    # ----- bones

    def bone(self, role: str) -> str | None:
        for names in (self.bone_names.get(role, ()),):
            for i, _how, _rank in self.norm.name_candidates("bone", names):
                return self.model.bones[i].name
        return None

    def bone_index(self, name: str) -> int:
        return next(i for i, b in enumerate(self.model.bones) if b.name == name)

    def iris_rotation(self) -> None:
        names = [n for n in ("iris_rotation_x", "iris_rotation_y") if n not in self.params]
        if not names:  # both set by the override file
            return
        eyes = [self.norm.matches.get(r) for r in ("eye_left", "eye_right")]
        both = self.norm.matches.get("eyes")
        bones: list[str] = [m.name for m in eyes if m is not None and m.found and m.name]
        if len(bones) < 2 and both is not None and both.found and both.name:
            bones = [both.name]
        if not bones:
            for n in names:
                self.params[n] = ParamRole(n, "missing", "-", detail="no eye bones (左目 / 右目 or 両目)")
            return
        degrees, notes = [], []
        for bone in bones:
            deg, note = self._calibrate(bone)
            notes.append(note)
            if deg is None:
                for n in names:
                    self.params[n] = ParamRole(n, "missing", "-", bones=tuple(bones), detail=note)
                return
            degrees.append(deg)
        for n in names:
            self.params[n] = ParamRole(
                n,
                "derived",
                "calibrated",
                source=", ".join(bones),
                bones=tuple(bones),
                degrees=tuple(degrees),
                detail="; ".join(notes),
            )

    def _calibrate(
        self, bone: str, fraction: float | None = None, degrees: float | None = None
    ) -> tuple[float | None, str]:
        """The angle that moves the iris `fraction` (default iris_shift_fraction) of the eye's
        width; with `degrees` given (an override), that angle and how far it moves the iris."""
        model = self.model
        b = self.bone_index(bone)
        hit = (model.bone_indices == b) & (model.bone_weights > 0)
        weight = np.where(hit, model.bone_weights, 0.0).sum(axis=1)
        iris = weight >= 0.5
        if not np.any(iris):
            return None, f"{bone!r} carries no vertices"
        pivot = model.bones[b].position.astype(np.float64)
        all_pts = model.positions[iris].astype(np.float64)
        centre = 0.5 * (all_pts.min(axis=0) + all_pts.max(axis=0))
        side = "left" if centre[0] > self.norm.head.x else "right"
        width = self._eye_width(side, centre)
        if width is None:
            xs = model.positions[iris, 0]
            width = float(xs.max() - xs.min()) * (
                1.0 if len(set(np.sign(xs - self.norm.head.x))) > 1 else 1.5
            )
        front = iris_vertices(model, b, width)
        pts = model.positions[front].astype(np.float64)
        fraction = self.s.get("iris_shift_fraction", 0.2) if fraction is None else fraction
        target = fraction * width
        limit = self.s.get("iris_max_degrees", 40.0)
        arm = pts - pivot
        box_x = 0.5 * (pts[:, 0].min() + pts[:, 0].max())

        def shift(deg: float) -> float:
            """Mean sideways move of the iris's box centre (what the image shows) when the eye
            bone turns +-deg about the vertical axis through its joint."""
            moves = []
            for t in (math.radians(deg), -math.radians(deg)):
                x = pivot[0] + arm[:, 0] * math.cos(t) - arm[:, 2] * math.sin(t)
                moves.append(abs(0.5 * (x.min() + x.max()) - box_x))
            return 0.5 * sum(moves)

        if degrees is not None:
            moved = shift(degrees)
            self.iris_cal[bone] = {
                "degrees": degrees,
                "eye_width": width,
                "shift": moved,
                "side": side,
                "iris_vertices": int(len(front)),
            }
            return (
                degrees,
                f"{bone!r}: {degrees:g} deg given, moves the iris {moved / width:.2f} x eye width {width:.4f}",
            )
        if shift(limit) < target:
            return (
                None,
                f"{bone!r}: turning it {limit:g} deg moves the iris less than {target:.4f} (pivot at the iris)",
            )
        lo, hi = 0.0, limit
        for _ in range(50):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if shift(mid) < target else (lo, mid)
        deg = 0.5 * (lo + hi)
        self.iris_cal[bone] = {
            "degrees": deg,
            "eye_width": width,
            "shift": target,
            "side": side,
            "iris_vertices": int(len(front)),
        }
        return (
            deg,
            f"{bone!r}: {deg:.2f} deg moves the iris {target:.4f} = {fraction:g} x eye width {width:.4f}",
        )

    def _eye_width(self, side: str, centre: np.ndarray) -> float | None:
        for role in (f"eye_close_{side}", "eye_close_both"):
            got = self._role_offsets(role)
            if got is None:
                continue
            idx = got[0]
            x = self.model.positions[idx, 0].astype(np.float64)
            x = x[(x > self.norm.head.x) == (side == "left")]
            if x.size:
                return float(x.max() - x.min())
        return None

    def body(self) -> None:
        upper = self.bone("upper_body")
        upper2 = self.bone("upper_body2")
        for n in ("body_y", "body_z"):
            if n in self.params:  # set by the override file
                continue
            if upper is None:
                self.params[n] = ParamRole(n, "missing", "-", detail="no upper-body bone (上半身)")
            else:
                follow = f"; {upper2!r} follows as its child" if upper2 else ""
                self.params[n] = ParamRole(
                    n, "exact", "bone", source=upper, bones=(upper,), detail=f"rotates {upper!r}{follow}"
                )
        chest = upper2 or upper
        if "breathing" in self.params:
            return
        if chest is None:
            self.params["breathing"] = ParamRole("breathing", "missing", "-", detail="no upper-body bone")
            return
        # bones: (chest, left shoulder, right shoulder, left arm, right arm); "" where absent
        limbs = tuple(
            self.bone(r) or "" for r in ("shoulder_left", "shoulder_right", "arm_left", "arm_right")
        )
        shoulders = [b for b in limbs[:2] if b]
        self.params["breathing"] = ParamRole(
            "breathing",
            "derived",
            "thagen motion",
            source=chest,
            bones=(chest, *limbs),
            detail=f"chest {chest!r} lifts"
            + (f", shoulders {', '.join(shoulders)} rise" if shoulders else " (no shoulder bones)"),
        )

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
