"""THA2 / THA3 morph parameters (eyebrow, eye and mouth shapes): found by name, checked by geometry.

One semantic at a time (a single parameter or a left / right pair): morphs are found by name
(names.yaml `extended_roles`, each name also tried with side marks), then each candidate's
motion must lie on the semantic's feature (rigs/normalize/extended_finder.py) and decides its
side from where its offsets lie (MMD +X is the character's left). A one-side morph is `exact`
for its side; a both-sides morph is `exact` for a single parameter, or split at the head's
mid-plane into two `derived` halves for a pair. THA1's eye-close and mouth-open morphs serve
the wink and `mouth_aaa` parameters as they are (`tha1_role`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from thagen.rigs.normalize.extended_finder import FinderBase
from thagen.rigs.normalize.extended_rig import ParamRole
from thagen.rigs.normalize.roles import fold_name

if TYPE_CHECKING:
    from thagen.pose_vectors import Param

SIDE_MARKS = {
    "left": ("{}左", "左{}", "{}l", "{}left", "left{}", "{}hidari"),
    "right": ("{}右", "右{}", "{}r", "{}right", "right{}", "{}migi"),
}


def _sided(names: tuple[str, ...]) -> tuple[str, ...]:
    """The names plus each with every side mark (folded forms: the matcher folds anyway)."""
    out = list(names)
    for name in names:
        key = fold_name(name)
        for marks in SIDE_MARKS.values():
            out += [m.format(key) for m in marks]
    return tuple(dict.fromkeys(out))


class MorphParams(FinderBase):
    """The morph parameters of a THA2 / THA3 vector."""

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
