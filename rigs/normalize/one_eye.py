"""The one-eye closes (eye_close_left / eye_close_right): chosen by geometry, or split from the blink.

Every name in the pool (names.yaml `pool: eye_close_one`) is a candidate for either eye, plus
unnamed eye-panel morphs; a candidate's side comes from where its offsets lie (MMD +X is the
character's LEFT), never from its name, and among several on one side the one shaped most like
that side's half of the both-eyes blink wins (THA1 used normal closes, not smile winks). With
no such candidate, the blink's offsets are split at the head's mid-plane into a synthetic
one-eye morph. Kept apart from matcher.py: the pool is judged as a whole, against the blink.
"""

from __future__ import annotations

import numpy as np

from thagen.rigs.model import Morph, MorphKind
from thagen.rigs.normalize.geometry import Motion, cosine, split_weights
from thagen.rigs.normalize.matcher import Normalizer
from thagen.rigs.normalize.overrides import resolve_override_name
from thagen.rigs.normalize.report import RoleMatch
from thagen.rigs.normalize.roles import RoleSpec, fold_name

SYNTHETIC_PREFIX = "thagen:"


def _side_word(side: str) -> str:
    return "+X, the character's left" if side == "left" else "-X, the character's right"


def _name_side_hint(name: str) -> str | None:
    key = fold_name(name)
    if "右" in key or key.endswith(("right", "r")) or key.startswith("right"):
        return "right"
    if "左" in key or key.endswith(("left", "l")) or key.startswith("left"):
        return "left"
    return None


def match_pool(norm: Normalizer, pool: str, specs: list[RoleSpec]) -> None:
    """Fill the pool's one-eye roles: one candidate per side, or half of the blink."""
    names: list[str] = []
    for spec in specs:
        names += [n for n in spec.names if n not in names]
    blink = norm.matches.get("eye_close_both")
    blink_mo = None
    if blink is not None and blink.found and blink.index is not None:
        mo = norm.motion(blink.index)
        if isinstance(mo, Motion) and mo.offsets.size:
            blink_mo = mo
    halves: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    if blink_mo is not None:
        x = norm.model.positions[blink_mo.indices, 0]
        for side, keep in (("left", x > norm.head.x), ("right", x < norm.head.x)):
            halves[side] = (blink_mo.indices[keep], blink_mo.offsets[keep])

    # candidates: named ones in preference order, then unnamed eye-panel morphs
    cands: list[tuple[int, str, int, bool]] = [
        (i, how, r, True) for i, how, r in norm.name_candidates("morph", tuple(names))
    ]
    if blink_mo is not None:
        taken = {c[0] for c in cands} | {blink.index}  # type: ignore[union-attr]
        for i, m in enumerate(norm.model.morphs):
            if i not in taken and m.panel == 2 and m.kind in (MorphKind.VERTEX, MorphKind.GROUP):
                cands.append((i, "unnamed eye-panel morph", len(names), False))

    per_side: dict[str, list[tuple[float, int, int, str, bool]]] = {"left": [], "right": []}
    notes: list[str] = []
    one_side = norm.setting("one_side_share", 0.85)
    for i, how, rank, named in cands:
        name = norm.model.morphs[i].name
        mo = norm.motion(i)
        if isinstance(mo, str):
            if named:
                notes.append(f"{name!r} {mo}")
            continue
        if not mo.offsets.size:
            if named:
                notes.append(f"{name!r} is a bone morph (cannot be judged or split)")
            continue
        if mo.left_share >= one_side:
            side = "left"
        elif mo.left_share <= 1 - one_side:
            side = "right"
        else:
            if named:
                notes.append(f"{name!r} moves both sides ({mo.left_share:.0%} at +X)")
            continue
        score = float("nan")
        if side in halves and halves[side][0].size:
            score = cosine(mo.indices, mo.offsets, *halves[side])
        if not named and not score >= norm.setting("unnamed_min_similarity", 0.9):
            continue
        per_side[side].append((score, rank, i, how, named))

    for spec in specs:
        _choose_side(norm, spec, per_side[spec.side or "left"], halves, blink, notes)


def _choose_side(
    norm: Normalizer,
    spec: RoleSpec,
    cands: list[tuple[float, int, int, str, bool]],
    halves: dict[str, tuple[np.ndarray, np.ndarray]],
    blink: RoleMatch | None,
    notes: list[str],
) -> None:
    side = spec.side or "left"
    role = spec.name
    entry = norm.override(role)
    model = norm.model
    if entry is not None and entry.action == "name":
        i = resolve_override_name(model, spec, entry, norm.overrides.source)  # type: ignore[union-attr]
        mo = norm.motion(i)
        detail = "named by override"
        score = None
        if isinstance(mo, str):
            norm.warnings.append(f"{role}: override morph {model.morphs[i].name!r} {mo}")
        elif mo.offsets.size:
            mo_side = "left" if mo.left_share >= 0.5 else "right"
            if mo_side != side:
                norm.warnings.append(
                    f"{role}: override morph {model.morphs[i].name!r} moves mostly {_side_word(mo_side)}"
                )
            if side in halves and halves[side][0].size:
                score = cosine(mo.indices, mo.offsets, *halves[side])
                detail += f"; cosine {score:.3f} to the blink's {side} half"
        norm.matches[role] = RoleMatch(role, "morph", model.morphs[i].name, i, "override", detail, score)
        return
    force_split = entry is not None and entry.action == "split"
    marked_absent = entry is not None and entry.action == "absent"
    if marked_absent:
        cands = []
    have_blink = side in halves and halves[side][0].size > 0
    chosen = None
    if cands and not force_split:
        if have_blink:
            best = max(c[0] for c in cands)
            # near-ties go to the preferred name (normal closes before smile winks)
            near = [c for c in cands if c[0] >= best - 0.01]
            chosen = min(near, key=lambda c: (not c[4], c[1], -c[0]))
            if chosen[0] < norm.setting("min_blink_similarity", 0.95):
                norm.warnings.append(
                    f"{role}: best one-eye candidate {model.morphs[chosen[2]].name!r} has cosine "
                    f"{chosen[0]:.3f} to the blink's {side} half; splitting the blink instead"
                )
                chosen = None
        else:
            chosen = min(cands, key=lambda c: c[1])
    if chosen is not None:
        score, _rank, i, how, _named = chosen
        name = model.morphs[i].name
        how = "listed name" if how == "exact" or how.startswith("alias") else how
        detail = f"{name!r} ({how}) moves {_side_word(side)}"
        if have_blink:
            detail += f"; cosine {score:.3f} to the {side} half of {blink.name!r}"  # type: ignore[union-attr]
        else:
            detail += "; no blink to compare shapes, chosen by name order"
        others = sorted((c for c in cands if c is not chosen), key=lambda c: -np.nan_to_num(c[0]))
        if others:
            listed = ", ".join(
                f"{model.morphs[c[2]].name!r}" + (f" {c[0]:.3f}" if have_blink else "") for c in others[:4]
            )
            detail += f"; other {side} candidates: {listed}"
        hint = _name_side_hint(name)
        if hint is not None and hint != side:
            norm.warnings.append(
                f"{role}: morph {name!r} reads as {hint} by name but closes the character's {side} eye "
                f"({_side_word(side)}); assigned by geometry"
            )
        norm.matches[role] = RoleMatch(
            role, "morph", name, i, "geometry", detail, None if np.isnan(score) else score
        )
        return
    if have_blink:
        morph = _split_blink(norm, role, side, halves[side])
        norm.synthetic[role] = morph
        why = (
            "forced by override"
            if force_split
            else ("own morph marked absent by override" if marked_absent else "")
        )
        if not why:
            why = "no one-eye close matched" if not cands else "no candidate shaped like the blink"
        detail = (
            f"split {blink.name!r} at the head mid-plane x={round(norm.head.x, 3) + 0.0:.3f} "  # type: ignore[union-attr]
            f"(seam blend +-{norm.blend_halfwidth():.3f}); {why}"
        )
        norm.matches[role] = RoleMatch(role, "morph", morph.name, None, "fallback", detail)
        return
    if marked_absent:
        norm.matches[role] = RoleMatch(
            role, "morph", None, None, "absent", "marked absent by override; no blink to split"
        )
        return
    why = "; ".join(notes) if notes else "no one-eye close matched"
    if force_split:
        why = "split requested by override, but the model has no usable both-eyes blink"
    norm.matches[role] = RoleMatch(role, "morph", None, None, "missing", why + "; no blink to split")


def _split_blink(norm: Normalizer, role: str, side: str, half: tuple[np.ndarray, np.ndarray]) -> Morph:
    """One side of the blink, with a smooth seam so left + right equals the blink exactly."""
    blink = norm.matches["eye_close_both"]
    assert blink.index is not None
    mo = norm.motion(blink.index)
    assert isinstance(mo, Motion)
    weight = split_weights(norm.model.positions[mo.indices, 0], norm.head.x, norm.blend_halfwidth())
    if side == "right":
        weight = 1.0 - weight
    keep = weight > 0
    values = (mo.offsets[keep].astype(np.float64) * weight[keep, None]).astype(np.float32)
    return Morph(
        name=SYNTHETIC_PREFIX + role,
        name_en=SYNTHETIC_PREFIX + role,
        panel=2,
        kind=int(MorphKind.VERTEX),
        indices=mo.indices[keep].astype(np.int32),
        values=values,
    )
