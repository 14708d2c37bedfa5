"""Rig normalization: find the bones and morphs that fill thagen's roles in an MMD model.

Names find candidates (tables in names.yaml, compared after folding); geometry decides:
a morph counts only if it visibly moves the head, one-eye closes get their side from where
their offsets lie (MMD +X is the character's LEFT), and among several one-eye closes the one
shaped most like the both-eyes blink wins (THA1 used normal closes, not smile winks). With only
a blink, its offsets are split at the head's mid-plane into two synthetic one-eye morphs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from thagen.errors import ConfigError, ThagenError
from thagen.rigs.flatten import flatten_group_morph, leaf_kinds
from thagen.rigs.model import Model, Morph, MorphKind
from thagen.rigs.normalize.overrides import (
    Overrides,
    find_override_file,
    load_overrides,
    resolve_override_name,
)
from thagen.rigs.normalize.roles import RoleSpec, RoleTable, default_role_table, fold_name
from thagen.rigs.normalize.vrm_roles import with_model_hints

SYNTHETIC_PREFIX = "thagen:"
METHODS = ("exact", "alias", "geometry", "fallback", "override", "missing", "absent")


@dataclass
class RoleMatch:
    """How one role was filled (or why not)."""

    role: str
    kind: str  # "bone" or "morph"
    name: str | None
    index: int | None
    method: str  # one of METHODS
    detail: str = ""
    score: float | None = None

    @property
    def found(self) -> bool:
        return self.method not in ("missing", "absent")

    def to_dict(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "kind": self.kind,
            "name": self.name,
            "index": self.index,
            "method": self.method,
            "detail": self.detail,
            "score": None if self.score is None else round(float(self.score), 4),
        }


@dataclass
class RigReport:
    """Everything the importer and renderer need to drive a model's roles."""

    model_name: str
    matches: dict[str, RoleMatch]
    synthetic_morphs: dict[str, Morph] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    missing_required: list[str] = field(default_factory=list)
    head_height: float = 0.0
    head_x: float = 0.0  # the mid-plane splitting left from right (MMD x of the head bone)
    head_min: list[float] | None = None  # bounding box of the head's own vertices, MMD coords
    head_max: list[float] | None = None
    override_file: str | None = None
    extended: Any = None  # rigs.extended_roles.ExtendedRig, for pose_vector tha2 / tha3 only

    @property
    def ok(self) -> bool:
        return not self.missing_required

    def morph_for(self, role: str) -> str | None:
        """The morph (shape key) name to drive for a role; the synthetic one when synthesized."""
        if role in self.synthetic_morphs:
            return self.synthetic_morphs[role].name
        match = self.matches.get(role)
        if match is None or match.kind != "morph" or not match.found:
            return None
        return match.name

    def bone_for(self, role: str) -> str | None:
        match = self.matches.get(role)
        if match is None or match.kind != "bone" or not match.found:
            return None
        return match.name

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "ok": self.ok,
            "missing_required": list(self.missing_required),
            "matches": {role: m.to_dict() for role, m in self.matches.items()},
            "synthetic_morphs": {
                role: {"name": m.name, "kind": "vertex", "vertex_count": int(len(m.indices))}
                for role, m in self.synthetic_morphs.items()
            },
            "warnings": list(self.warnings),
            "head_height": float(self.head_height),
            "head_x": float(self.head_x),
            "head_min": self.head_min,
            "head_max": self.head_max,
            "override_file": self.override_file,
            **({"extended": self.extended.to_dict()} if self.extended is not None else {}),
        }


# --------------------------------------------------------------------------- geometry


@dataclass
class _Head:
    """The head region every morph is judged against."""

    x: float
    height: float
    lo: np.ndarray  # region box (with margin), MMD coords
    hi: np.ndarray
    box_min: np.ndarray | None
    box_max: np.ndarray | None
    neck_y: float | None

    def region_mask(self, positions: np.ndarray) -> np.ndarray:
        inside = np.all((positions >= self.lo) & (positions <= self.hi), axis=1)
        if self.neck_y is not None:
            inside &= positions[:, 1] >= self.neck_y
        return inside


def _bone_weight(model: Model, bone: int) -> np.ndarray:
    """Per-vertex total weight of one bone."""
    if model.bone_indices.size == 0:
        return np.zeros(model.vertex_count, np.float32)
    hit = (model.bone_indices == bone) & (model.bone_weights > 0)
    return np.where(hit, model.bone_weights, 0.0).sum(axis=1)


def _bones_touch(model: Model, bones: np.ndarray) -> np.ndarray:
    """Vertices with any positive weight on any of these bones."""
    if model.bone_indices.size == 0 or bones.size == 0:
        return np.zeros(model.vertex_count, bool)
    return np.any(np.isin(model.bone_indices, bones) & (model.bone_weights > 0), axis=1)


def _head_from_bone(model: Model, head: int, neck: int | None, margin: float) -> _Head:
    weight = _bone_weight(model, head)
    verts = weight >= 0.5
    if np.count_nonzero(verts) < 4:
        verts = weight > 0
    pos = model.positions[verts].astype(np.float64)
    box_min, box_max = pos.min(axis=0), pos.max(axis=0)
    height = float(box_max[1] - box_min[1])
    if height <= 0:
        height = float(np.max(box_max - box_min)) or 1.0
    pad = margin * height
    neck_y = float(model.bones[neck].position[1]) if neck is not None else None
    return _Head(
        x=float(model.bones[head].position[0]),
        height=height,
        lo=box_min - pad,
        hi=box_max + pad,
        box_min=box_min,
        box_max=box_max,
        neck_y=neck_y,
    )


def _head_from_model(model: Model) -> _Head:
    """Without a usable head bone: judge against the whole model (a rough, flagged guess)."""
    if model.vertex_count == 0:
        return _Head(0.0, 1.0, np.full(3, -np.inf), np.full(3, np.inf), None, None, None)
    pos = model.positions.astype(np.float64)
    lo, hi = pos.min(axis=0), pos.max(axis=0)
    height = float(hi[1] - lo[1]) / 7.0 or 1.0
    return _Head(0.0, height, lo, hi, None, None, None)


@dataclass
class _Motion:
    """What a candidate morph does to the head."""

    indices: np.ndarray
    offsets: np.ndarray
    peak: float  # largest head-vertex displacement
    left_share: float  # share of head motion at +X (character's left)
    note: str = ""


def _cosine(ia: np.ndarray, va: np.ndarray, ib: np.ndarray, vb: np.ndarray) -> float:
    """Cosine similarity of two sparse offset fields over the union of their vertices."""
    union = np.union1d(ia, ib)
    a = np.zeros((union.size, 3))
    b = np.zeros((union.size, 3))
    a[np.searchsorted(union, ia)] = va
    b[np.searchsorted(union, ib)] = vb
    denom = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.sum(a * b) / denom) if denom > 0 else 0.0


def _side_word(side: str) -> str:
    return "+X, the character's left" if side == "left" else "-X, the character's right"


def _name_side_hint(name: str) -> str | None:
    key = fold_name(name)
    if "右" in key or key.endswith(("right", "r")) or key.startswith("right"):
        return "right"
    if "左" in key or key.endswith(("left", "l")) or key.startswith("left"):
        return "left"
    return None


# --------------------------------------------------------------------------- the matcher


def _name_index(items: list[Any]) -> tuple[dict[str, list[int]], ...]:
    """Indices by verbatim name, by folded name and by folded English name."""
    by_name: dict[str, list[int]] = {}
    by_fold: dict[str, list[int]] = {}
    by_fold_en: dict[str, list[int]] = {}
    for i, item in enumerate(items):
        by_name.setdefault(item.name, []).append(i)
        by_fold.setdefault(fold_name(item.name), []).append(i)
        if item.name_en:
            by_fold_en.setdefault(fold_name(item.name_en), []).append(i)
    return by_name, by_fold, by_fold_en


class _Normalizer:
    def __init__(self, model: Model, table: RoleTable, overrides: Overrides | None) -> None:
        self.model = model
        self.table = table
        self.overrides = overrides
        self.s = table.settings
        self.matches: dict[str, RoleMatch] = {}
        self.synthetic: dict[str, Morph] = {}
        self.warnings: list[str] = []
        self.head: _Head = _head_from_model(model)
        self.head_ok = False
        self._motion_cache: dict[int, _Motion | str] = {}
        self._index = {"bone": _name_index(model.bones), "morph": _name_index(model.morphs)}

    def setting(self, key: str, default: float) -> float:
        return float(self.s.get(key, default))

    # ----- names

    def items(self, kind: str) -> list[Any]:
        return self.model.bones if kind == "bone" else self.model.morphs

    def name_candidates(self, kind: str, names: tuple[str, ...]) -> list[tuple[int, str, int]]:
        """(index, how found, alias rank), best first: per alias, verbatim, folded, then English name."""
        items = self.items(kind)
        by_name, by_fold, by_fold_en = self._index[kind]
        out: list[tuple[int, str, int]] = []
        seen: set[int] = set()
        for rank, alias in enumerate(names):
            key = fold_name(alias)
            hits = [(i, "exact" if rank == 0 else f"alias {alias!r}") for i in by_name.get(alias, [])]
            hits += [(i, f"folded name ~ {alias!r}") for i in by_fold.get(key, [])]
            hits += [(i, f"English name {items[i].name_en!r} ~ {alias!r}") for i in by_fold_en.get(key, [])]
            for i, how in hits:
                if i not in seen:
                    seen.add(i)
                    out.append((i, how, rank))
        return out

    def override(self, role: str) -> Any:
        if self.overrides is None:
            return None
        return self.overrides.entries.get(role)

    # ----- motion

    def motion(self, index: int) -> _Motion | str:
        """What a morph moves on the head, or a reason string why it does not count."""
        if index in self._motion_cache:
            return self._motion_cache[index]
        result = self._compute_motion(index)
        self._motion_cache[index] = result
        return result

    def _compute_motion(self, index: int) -> _Motion | str:
        model = self.model
        morph = model.morphs[index]
        if morph.kind not in (MorphKind.VERTEX, MorphKind.GROUP, MorphKind.BONE):
            return f"is a {MorphKind(morph.kind).name.lower()} morph, which moves no vertices"
        try:
            kinds = leaf_kinds(model, index)
            idx, off = flatten_group_morph(model, index)
        except ThagenError as exc:
            self.warnings.append(f"morph {morph.name!r} skipped: {exc}")
            return f"cannot be resolved ({exc})"
        note = ""
        if morph.kind == MorphKind.GROUP:
            note = f"group of {sum(len(v) for v in kinds.values())} morphs"
        bone_leaves = kinds.get(int(MorphKind.BONE), [])
        head = self.head
        mag = np.linalg.norm(off, axis=1) if off.size else np.zeros(0)
        in_head = head.region_mask(model.positions[idx]) if idx.size else np.zeros(0, bool)
        moved = in_head & (mag > self.setting("moved_fraction", 0.0005) * head.height)
        peak = float(mag[moved].max()) if np.any(moved) else 0.0
        if peak > self.setting("min_motion_fraction", 0.004) * head.height:
            x = model.positions[idx[moved], 0]
            m = mag[moved]
            left, right = float(m[x > head.x].sum()), float(m[x < head.x].sum())
            share = left / (left + right) if left + right > 0 else 0.5
            if bone_leaves:
                note = (note + "; " if note else "") + "also drives bones"
            return _Motion(idx, off, peak, share, note)
        if bone_leaves:
            bones = self._driven_bones(bone_leaves)
            if bones.size:
                touched = _bones_touch(model, bones) & head.region_mask(model.positions)
                if np.any(touched):
                    names = ", ".join(model.bones[b].name for b in bones[:4])
                    return _Motion(
                        np.zeros(0, np.int32),
                        np.zeros((0, 3), np.float32),
                        0.0,
                        0.5,
                        f"bone morph driving {names}",
                    )
            return "is a bone morph whose bones carry no head vertices"
        if peak > 0:
            return f"moves head vertices only {peak / head.height:.2%} of the head height"
        if idx.size:
            return "moves no vertices of the head"
        return "moves no vertices"

    def _driven_bones(self, leaves: list[tuple[int, float]]) -> np.ndarray:
        eps = 1e-6
        out: list[np.ndarray] = []
        nb = len(self.model.bones)
        for leaf, weight in leaves:
            morph = self.model.morphs[leaf]
            vals = np.asarray(morph.values, np.float64).reshape(-1, 7)
            moves = (np.abs(vals[:, :3]).max(axis=1) > eps) | (np.abs(vals[:, 3:6]).max(axis=1) > eps)
            bones = np.asarray(morph.indices, np.int64).reshape(-1)[moves & (weight != 0)]
            out.append(bones[(bones >= 0) & (bones < nb)])
        return np.unique(np.concatenate(out)) if out else np.zeros(0, np.int64)

    # ----- bones

    def match_bone(self, spec: RoleSpec) -> None:
        entry = self.override(spec.name)
        if entry is not None and entry.action == "absent":
            self.matches[spec.name] = RoleMatch(
                spec.name, "bone", None, None, "absent", "marked absent by override"
            )
            return
        if entry is not None:
            i = resolve_override_name(self.model, spec, entry, self.overrides.source)  # type: ignore[union-attr]
            if spec.name == "head" and not np.any(_bone_weight(self.model, i) > 0):
                raise ConfigError(
                    f"{self.overrides.source}: roles.head: bone {self.model.bones[i].name!r} has no vertices "  # type: ignore[union-attr]
                    "weighted to it; the head bone must carry the head's vertices"
                )
            match = RoleMatch(spec.name, "bone", self.model.bones[i].name, i, "override", "named by override")
        else:
            match = None
            rejected: list[str] = []
            for i, how, _rank in self.name_candidates("bone", spec.names):
                if spec.name == "head":
                    n = int(np.count_nonzero(_bone_weight(self.model, i) > 0))
                    if n == 0:
                        rejected.append(f"{self.model.bones[i].name!r} has no weighted vertices")
                        continue
                    how += f", {n} vertices weighted"
                method = "exact" if how.startswith("exact") else "alias"
                match = RoleMatch(spec.name, "bone", self.model.bones[i].name, i, method, how)
                break
            if match is None:
                why = "; ".join(rejected) if rejected else "no bone with a known name"
                self.matches[spec.name] = RoleMatch(spec.name, "bone", None, None, "missing", why)
                return
            if rejected:
                match.detail += f" (rejected: {'; '.join(rejected)})"
        self.matches[spec.name] = match
        if spec.side is not None and self.head_ok and match.index is not None:
            x = float(self.model.bones[match.index].position[0])
            if (x - self.head.x) * (1 if spec.side == "left" else -1) < 0:
                self.warnings.append(
                    f"{spec.name}: bone {match.name!r} lies at {'-' if x < self.head.x else '+'}X of the head, "
                    f"but the character's {spec.side} is {'+' if spec.side == 'left' else '-'}X"
                )

    def set_head(self) -> None:
        head = self.matches.get("head")
        neck = self.matches.get("neck")
        if head is not None and head.found and head.index is not None:
            neck_i = neck.index if neck is not None and neck.found else None
            if (
                neck_i is not None
                and self.model.bones[neck_i].position[1] > self.model.bones[head.index].position[1]
            ):
                self.warnings.append(
                    f"neck bone {neck.name!r} lies above the head bone; ignored for the head region"
                )  # type: ignore[union-attr]
                neck_i = None
            self.head = _head_from_bone(
                self.model, head.index, neck_i, self.setting("head_margin_fraction", 0.08)
            )
            self.head_ok = True
        else:
            self.warnings.append(
                "no head bone: morphs were judged against the whole model, sides against x = 0"
            )

    # ----- plain morph roles

    def match_morph(self, spec: RoleSpec) -> None:
        entry = self.override(spec.name)
        if entry is not None and entry.action == "absent":
            self.matches[spec.name] = RoleMatch(
                spec.name, "morph", None, None, "absent", "marked absent by override"
            )
            return
        if entry is not None:
            i = resolve_override_name(self.model, spec, entry, self.overrides.source)  # type: ignore[union-attr]
            mo = self.motion(i)
            detail = "named by override"
            if isinstance(mo, str):
                self.warnings.append(f"{spec.name}: override morph {self.model.morphs[i].name!r} {mo}")
            elif mo.note:
                detail += f"; {mo.note}"
            self.matches[spec.name] = RoleMatch(
                spec.name, "morph", self.model.morphs[i].name, i, "override", detail
            )
            return
        rejected: list[str] = []
        for i, how, _rank in self.name_candidates("morph", spec.names):
            mo = self.motion(i)
            name = self.model.morphs[i].name
            if isinstance(mo, str):
                rejected.append(f"{name!r} {mo}")
                continue
            if spec.name == "eye_close_both" and mo.offsets.size:
                low = self.setting("both_sides_min_share", 0.25)
                if not low <= mo.left_share <= 1 - low:
                    rejected.append(f"{name!r} moves one side only ({mo.left_share:.0%} at +X)")
                    continue
            detail = how + f"; moves the head up to {mo.peak / self.head.height:.1%} of its height"
            if mo.note:
                detail += f"; {mo.note}"
            if rejected:
                detail += f" (rejected: {'; '.join(rejected)})"
            method = "exact" if how == "exact" else "alias"
            self.matches[spec.name] = RoleMatch(spec.name, "morph", name, i, method, detail)
            return
        why = "; ".join(rejected) if rejected else "no morph with a known name"
        self.matches[spec.name] = RoleMatch(spec.name, "morph", None, None, "missing", why)

    # ----- one-eye closes

    def match_pool(self, pool: str, specs: list[RoleSpec]) -> None:
        names: list[str] = []
        for spec in specs:
            names += [n for n in spec.names if n not in names]
        blink = self.matches.get("eye_close_both")
        blink_mo = None
        if blink is not None and blink.found and blink.index is not None:
            mo = self.motion(blink.index)
            if isinstance(mo, _Motion) and mo.offsets.size:
                blink_mo = mo
        halves: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        if blink_mo is not None:
            x = self.model.positions[blink_mo.indices, 0]
            for side, keep in (("left", x > self.head.x), ("right", x < self.head.x)):
                halves[side] = (blink_mo.indices[keep], blink_mo.offsets[keep])

        # candidates: named ones in preference order, then unnamed eye-panel morphs
        cands: list[tuple[int, str, int, bool]] = [
            (i, how, r, True) for i, how, r in self.name_candidates("morph", tuple(names))
        ]
        if blink_mo is not None:
            taken = {c[0] for c in cands} | {blink.index}  # type: ignore[union-attr]
            for i, m in enumerate(self.model.morphs):
                if i not in taken and m.panel == 2 and m.kind in (MorphKind.VERTEX, MorphKind.GROUP):
                    cands.append((i, "unnamed eye-panel morph", len(names), False))

        per_side: dict[str, list[tuple[float, int, int, str, bool]]] = {"left": [], "right": []}
        notes: list[str] = []
        one_side = self.setting("one_side_share", 0.85)
        for i, how, rank, named in cands:
            name = self.model.morphs[i].name
            mo = self.motion(i)
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
                score = _cosine(mo.indices, mo.offsets, *halves[side])
            if not named and not score >= self.setting("unnamed_min_similarity", 0.9):
                continue
            per_side[side].append((score, rank, i, how, named))

        for spec in specs:
            self._choose_side(spec, per_side[spec.side or "left"], halves, blink, notes)

    def _choose_side(
        self,
        spec: RoleSpec,
        cands: list[tuple[float, int, int, str, bool]],
        halves: dict[str, tuple[np.ndarray, np.ndarray]],
        blink: RoleMatch | None,
        notes: list[str],
    ) -> None:
        side = spec.side or "left"
        role = spec.name
        entry = self.override(role)
        model = self.model
        if entry is not None and entry.action == "name":
            i = resolve_override_name(model, spec, entry, self.overrides.source)  # type: ignore[union-attr]
            mo = self.motion(i)
            detail = "named by override"
            score = None
            if isinstance(mo, str):
                self.warnings.append(f"{role}: override morph {model.morphs[i].name!r} {mo}")
            elif mo.offsets.size:
                mo_side = "left" if mo.left_share >= 0.5 else "right"
                if mo_side != side:
                    self.warnings.append(
                        f"{role}: override morph {model.morphs[i].name!r} moves mostly {_side_word(mo_side)}"
                    )
                if side in halves and halves[side][0].size:
                    score = _cosine(mo.indices, mo.offsets, *halves[side])
                    detail += f"; cosine {score:.3f} to the blink's {side} half"
            self.matches[role] = RoleMatch(role, "morph", model.morphs[i].name, i, "override", detail, score)
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
                if chosen[0] < self.setting("min_blink_similarity", 0.95):
                    self.warnings.append(
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
                    f"{model.morphs[c[2]].name!r}" + (f" {c[0]:.3f}" if have_blink else "")
                    for c in others[:4]
                )
                detail += f"; other {side} candidates: {listed}"
            hint = _name_side_hint(name)
            if hint is not None and hint != side:
                self.warnings.append(
                    f"{role}: morph {name!r} reads as {hint} by name but closes the character's {side} eye "
                    f"({_side_word(side)}); assigned by geometry"
                )
            self.matches[role] = RoleMatch(
                role, "morph", name, i, "geometry", detail, None if np.isnan(score) else score
            )
            return
        if have_blink:
            morph = self._split_blink(role, side, halves[side])
            self.synthetic[role] = morph
            why = (
                "forced by override"
                if force_split
                else ("own morph marked absent by override" if marked_absent else "")
            )
            if not why:
                why = "no one-eye close matched" if not cands else "no candidate shaped like the blink"
            detail = (
                f"split {blink.name!r} at the head mid-plane x={round(self.head.x, 3) + 0.0:.3f} "  # type: ignore[union-attr]
                f"(seam blend +-{self._blend_halfwidth():.3f}); {why}"
            )
            self.matches[role] = RoleMatch(role, "morph", morph.name, None, "fallback", detail)
            return
        if marked_absent:
            self.matches[role] = RoleMatch(
                role, "morph", None, None, "absent", "marked absent by override; no blink to split"
            )
            return
        why = "; ".join(notes) if notes else "no one-eye close matched"
        if force_split:
            why = "split requested by override, but the model has no usable both-eyes blink"
        self.matches[role] = RoleMatch(role, "morph", None, None, "missing", why + "; no blink to split")

    def _blend_halfwidth(self) -> float:
        return self.setting("split_blend_fraction", 0.02) * self.head.height

    def _split_blink(self, role: str, side: str, half: tuple[np.ndarray, np.ndarray]) -> Morph:
        """One side of the blink, with a smooth seam so left + right equals the blink exactly."""
        blink = self.matches["eye_close_both"]
        assert blink.index is not None
        mo = self.motion(blink.index)
        assert isinstance(mo, _Motion)
        weight = split_weights(self.model.positions[mo.indices, 0], self.head.x, self._blend_halfwidth())
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


def split_weights(x: np.ndarray, mid_x: float, halfwidth: float) -> np.ndarray:
    """Left-side weight per vertex: 1 at +X, 0 at -X, smoothstep across mid_x +- halfwidth."""
    if halfwidth <= 0:
        return (np.asarray(x) > mid_x).astype(np.float64) + 0.5 * (np.asarray(x) == mid_x)
    t = np.clip((np.asarray(x, np.float64) - mid_x) / (2 * halfwidth) + 0.5, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def normalize(
    model: Model,
    *,
    overrides: Path | str | dict | None = None,
    model_path: Path | None = None,
    table: RoleTable | None = None,
    discover: bool = True,
    pose_vector: str | None = None,
) -> RigReport:
    """Fill every role of the table for this model and report how.

    `overrides`: an override file or dict; when None and `discover` is true, an override file
    beside `model_path` (or `model.source_path`) is used if there is one (docs/overrides.md).
    `pose_vector` 'tha2' / 'tha3' also finds a role for every parameter of that vector
    (rigs/normalize/extended_roles.py; the report's `extended`). Raises ConfigError for a bad override.
    """
    # a VRM's humanoid map and expression presets come before the name tables (rigs/normalize/vrm_roles.py)
    table = with_model_hints(table or default_role_table(), model)
    source: str | None = None
    ov: Overrides | None = None
    if overrides is None and discover:
        found = find_override_file(model_path or model.source_path)
        if found is not None:
            overrides = found
    if overrides is not None:
        ov = load_overrides(overrides, table)
        source = ov.source
    norm = _Normalizer(model, table, ov)

    specs = list(table.roles.values())
    for spec in specs:
        if spec.kind == "bone" and spec.name in ("head", "neck"):
            norm.match_bone(spec)
    norm.set_head()
    for spec in specs:
        if spec.kind == "bone" and spec.name not in ("head", "neck"):
            norm.match_bone(spec)
    for spec in specs:
        if spec.kind == "morph" and spec.pool is None:
            norm.match_morph(spec)
    pools: dict[str, list[RoleSpec]] = {}
    for spec in specs:
        if spec.kind == "morph" and spec.pool is not None:
            pools.setdefault(spec.pool, []).append(spec)
    for pool, members in pools.items():
        norm.match_pool(pool, members)

    extended = None
    if pose_vector not in (None, "tha1"):
        from thagen.rigs.normalize.extended_roles import find_extended_roles

        extended = find_extended_roles(norm, pose_vector)
        norm.synthetic.update(extended.synthetic_morphs)
    matches = {spec.name: norm.matches[spec.name] for spec in specs}
    missing = [spec.name for spec in specs if spec.required and not matches[spec.name].found]
    head = norm.head
    return RigReport(
        model_name=model.name,
        matches=matches,
        synthetic_morphs=norm.synthetic,
        warnings=norm.warnings,
        missing_required=missing,
        head_height=float(head.height) if norm.head_ok else 0.0,
        head_x=float(head.x),
        head_min=[float(v) for v in head.box_min] if head.box_min is not None else None,
        head_max=[float(v) for v in head.box_max] if head.box_max is not None else None,
        override_file=source,
        extended=extended,
    )
