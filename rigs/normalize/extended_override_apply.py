"""Apply an override file's `params` to a THA2 / THA3 rig, before automatic finding.

An overridden parameter is never searched for: its role is what the file says, reported with
method `override` and availability `exact` (a morph, given bones and angle) or `derived` (a
split half, a calibrated iris angle, the breathing motion). Overridden morphs are taken first,
so automatic finding does not reuse them for another parameter. What thagen can use but doubts
(a morph on the other side or another feature, one that moves nothing) is kept, with a warning
in the rig report, as THA1's role overrides are (docs/overrides.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import numpy as np

from thagen.errors import ConfigError
from thagen.rigs.model import Model, Morph
from thagen.rigs.normalize.extended_overrides import ParamOverride, effective, resolve_bone, resolve_morph
from thagen.rigs.normalize.extended_rig import ParamRole

if TYPE_CHECKING:
    from thagen.pose_vectors import Param, PoseVectorDef
    from thagen.rigs.normalize.matcher import Normalizer

BREATHING_BONE_ROLES = ("upper_body2", "shoulder_left", "shoulder_right", "arm_left", "arm_right")


class ExtendedFinder(Protocol):
    """What applying overrides uses of extended_roles.py's finder (which imports this module)."""

    norm: Normalizer
    model: Model
    vec: PoseVectorDef
    s: dict[str, float]
    params: dict[str, ParamRole]
    synthetic: dict[str, Morph]
    taken: set[tuple[int, str | None]]

    def bone(self, role: str) -> str | None: ...

    def _region_problem(self, feature: str, idx: np.ndarray, off: np.ndarray) -> str | None: ...

    def _split(self, param: str, side: str, idx: np.ndarray, off: np.ndarray) -> Morph: ...

    def _calibrate(
        self, bone: str, fraction: float | None = None, degrees: float | None = None
    ) -> tuple[float | None, str]: ...


def apply_param_overrides(finder: ExtendedFinder) -> None:
    """Fill `finder.params` for every parameter of its vector that the override file sets."""
    overrides = finder.norm.overrides
    entries = getattr(overrides, "params", None) or {}
    if not entries:
        return
    for p in finder.vec.params:
        entry = effective(entries, p.name)
        if entry is None:
            continue
        if entry.action == "missing":
            finder.params[p.name] = ParamRole(
                p.name, "missing", "override", side=p.side, detail=f"marked missing by {_origin(entry)}"
            )
        elif entry.action in ("morph", "split"):
            _morph(finder, p, entry)
        elif entry.action == "iris":
            _iris(finder, p.name, entry)
        elif entry.action == "body":
            bone = resolve_bone(finder.model, entry.bones[0], entry, "bone")
            finder.params[p.name] = ParamRole(
                p.name,
                "exact",
                "override",
                source=bone,
                bones=(bone,),
                detail=f"rotates {bone!r}; {_origin(entry)}",
            )
        else:
            _breathing(finder, entry)


def _take(finder: ExtendedFinder, index: int, side: str | None) -> None:
    """Automatic finding may not reuse an overridden morph: on that side (and for no
    one-sided parameter) when the override is per side, anywhere when it is not."""
    sides = (side, None) if side is not None else ("left", "right", None)
    finder.taken.update((index, s) for s in sides)


def _origin(entry: ParamOverride) -> str:
    return "override " + entry.where.rsplit(": ", 1)[0]


def _warn(finder: ExtendedFinder, entry: ParamOverride, text: str) -> None:
    finder.norm.warnings.append(f"{entry.param}: override {text} ({_origin(entry)})")


def _morph(finder: ExtendedFinder, p: Param, entry: ParamOverride) -> None:
    model = finder.model
    i = resolve_morph(model, entry)
    name = model.morphs[i].name
    origin = _origin(entry)
    mo = finder.norm.motion(i)
    if isinstance(mo, str) or not mo.offsets.size:
        why = mo if isinstance(mo, str) else "moves no vertices"
        if entry.action == "split":
            raise ConfigError(f"{entry.where}: split: morph {name!r} {why}; nothing to split")
        _warn(finder, entry, f"morph {name!r} {why}")
        _take(finder, i, p.side)
        finder.params[p.name] = ParamRole(
            p.name, "exact", "override", name, name, p.side, detail=f"{origin}; {why}"
        )
        return
    problem = finder._region_problem(p.feature or "", mo.indices, mo.offsets)
    if problem:
        _warn(finder, entry, f"morph {name!r} {problem}")
    share = float(mo.left_share)
    one_side = finder.s.get("one_side_share", 0.75)
    moved = "left" if share >= one_side else "right" if share <= 1 - one_side else "both"
    if entry.action == "split":
        if moved != "both":
            _warn(
                finder,
                entry,
                f"split of {name!r}, which moves mostly the character's {moved} ({share:.0%} at +X)",
            )
        assert p.side is not None  # parse_param allows split only on per-side parameters
        morph = finder._split(p.name, p.side, mo.indices, mo.offsets)
        finder.synthetic[p.name] = morph
        _take(finder, i, p.side)
        finder.params[p.name] = ParamRole(
            p.name,
            "derived",
            "override",
            morph.name,
            name,
            p.side,
            detail=f"{p.side} half of {name!r}, split at the head mid-plane x={finder.norm.head.x:.3f}; {origin}",
        )
        return
    if p.side is not None and moved not in (p.side, "both"):
        _warn(
            finder,
            entry,
            f"morph {name!r} moves mostly the character's {moved} ({share:.0%} at +X), not the {p.side}",
        )
    elif p.side is not None and moved == "both":
        _warn(
            finder,
            entry,
            f"morph {name!r} moves both sides ({share:.0%} at +X); 'split: {name}' drives one half",
        )
    _take(finder, i, p.side)
    finder.params[p.name] = ParamRole(
        p.name,
        "exact",
        "override",
        name,
        name,
        moved if p.side is not None else None,
        detail=f"{name!r} named by {origin}",
    )


def _eye_bones(finder: ExtendedFinder, entry: ParamOverride) -> tuple[str, ...]:
    if entry.bones:
        return tuple(resolve_bone(finder.model, b, entry, "bones") for b in entry.bones)
    eyes = [finder.norm.matches.get(r) for r in ("eye_left", "eye_right")]
    bones = tuple(m.name for m in eyes if m is not None and m.found and m.name)
    both = finder.norm.matches.get("eyes")
    if len(bones) < 2 and both is not None and both.found and both.name:
        bones = (both.name,)
    if not bones:
        raise ConfigError(
            f"{entry.where}: the model has no eye bones thagen can find; name them with bones: [...]"
        )
    return bones


def _iris(finder: ExtendedFinder, name: str, entry: ParamOverride) -> None:
    bones = _eye_bones(finder, entry)
    if len(entry.degrees) not in (0, 1, len(bones)):
        raise ConfigError(f"{entry.where}: degrees: {len(entry.degrees)} angles for {len(bones)} bones")
    notes, degrees = [], []
    for k, bone in enumerate(bones):
        given = entry.degrees[k if len(entry.degrees) > 1 else 0] if entry.degrees else None
        deg, note = finder._calibrate(bone, fraction=entry.shift_fraction, degrees=given)
        if deg is None:
            raise ConfigError(f"{entry.where}: {note}")
        degrees.append(deg)
        notes.append(note)
    finder.params[name] = ParamRole(
        name,
        "exact" if entry.degrees else "derived",
        "override",
        source=", ".join(bones),
        bones=bones,
        degrees=tuple(degrees),
        detail="; ".join(notes) + f"; {_origin(entry)}",
    )


def _breathing(finder: ExtendedFinder, entry: ParamOverride) -> None:
    model = finder.model
    given = [resolve_bone(model, b, entry, key) if b else "" for b, key in zip(entry.bones, _BREATH_KEYS)]
    auto = [finder.bone(r) or "" for r in BREATHING_BONE_ROLES]
    chest = given[0] or auto[0] or finder.bone("upper_body") or ""
    if not chest:
        raise ConfigError(
            f"{entry.where}: the model has no chest or upper-body bone thagen can find; name it with chest:"
        )
    bones = (chest, *(g or a for g, a in zip(given[1:], auto[1:])))
    finder.params["breathing"] = ParamRole(
        "breathing",
        "derived",
        "override",
        source=chest,
        bones=bones,
        detail=f"chest {chest!r} lifts, shoulders {bones[1] or '-'}, {bones[2] or '-'}, arms {bones[3] or '-'}, "
        f"{bones[4] or '-'}; {_origin(entry)}",
    )


_BREATH_KEYS = ("chest", "shoulders", "shoulders", "arms", "arms")
