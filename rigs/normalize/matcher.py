"""The THA1 role matcher: finds each role's bone or morph by name, then checks it by geometry.

`Normalizer` holds one model's matching state (the matches so far, the head region, each
morph's judged motion) and fills the bone roles and the plain morph roles; the one-eye closes,
which share one candidate pool, are chosen in one_eye.py and the order of the whole run is
pipeline.py's `normalize()`. extended_roles.py reuses the same state for THA2 / THA3.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from thagen.errors import ConfigError, ThagenError
from thagen.rigs.flatten import flatten_group_morph, leaf_kinds
from thagen.rigs.model import Model, Morph, MorphKind
from thagen.rigs.normalize.geometry import (
    Head,
    Motion,
    bone_weight,
    bones_touch,
    head_from_bone,
    head_from_model,
)
from thagen.rigs.normalize.overrides import OverrideEntry, Overrides, resolve_override_name
from thagen.rigs.normalize.report import RoleMatch
from thagen.rigs.normalize.roles import RoleSpec, RoleTable, fold_name


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


class Normalizer:
    """One model's THA1 matching: the roles filled so far, the head region, each morph's motion."""

    def __init__(self, model: Model, table: RoleTable, overrides: Overrides | None) -> None:
        self.model = model
        self.table = table
        self.overrides = overrides
        self.s = table.settings
        self.matches: dict[str, RoleMatch] = {}
        self.synthetic: dict[str, Morph] = {}
        self.warnings: list[str] = []
        self.head: Head = head_from_model(model)
        self.head_ok = False
        self._motion_cache: dict[int, Motion | str] = {}
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

    def override(self, role: str) -> OverrideEntry | None:
        if self.overrides is None:
            return None
        return self.overrides.entries.get(role)

    # ----- motion

    def motion(self, index: int) -> Motion | str:
        """What a morph moves on the head, or a reason string why it does not count."""
        if index in self._motion_cache:
            return self._motion_cache[index]
        result = self._compute_motion(index)
        self._motion_cache[index] = result
        return result

    def _compute_motion(self, index: int) -> Motion | str:
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
            return Motion(idx, off, peak, share, note)
        if bone_leaves:
            bones = self._driven_bones(bone_leaves)
            if bones.size:
                touched = bones_touch(model, bones) & head.region_mask(model.positions)
                if np.any(touched):
                    names = ", ".join(model.bones[b].name for b in bones[:4])
                    return Motion(
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
        match: RoleMatch | None
        if entry is not None:
            assert self.overrides is not None  # the entry came from it
            i = resolve_override_name(self.model, spec, entry, self.overrides.source)
            if spec.name == "head" and not np.any(bone_weight(self.model, i) > 0):
                raise ConfigError(
                    f"{self.overrides.source}: roles.head: bone {self.model.bones[i].name!r} has no vertices "
                    "weighted to it; the head bone must carry the head's vertices"
                )
            match = RoleMatch(spec.name, "bone", self.model.bones[i].name, i, "override", "named by override")
        else:
            match = None
            rejected: list[str] = []
            for i, how, _rank in self.name_candidates("bone", spec.names):
                if spec.name == "head":
                    n = int(np.count_nonzero(bone_weight(self.model, i) > 0))
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
                neck is not None
                and neck_i is not None
                and self.model.bones[neck_i].position[1] > self.model.bones[head.index].position[1]
            ):
                self.warnings.append(
                    f"neck bone {neck.name!r} lies above the head bone; ignored for the head region"
                )
                neck_i = None
            self.head = head_from_bone(
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
            assert self.overrides is not None  # the entry came from it
            i = resolve_override_name(self.model, spec, entry, self.overrides.source)
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

    def blend_halfwidth(self) -> float:
        """Half the width of the smooth seam where a both-sides morph is split at the mid-plane."""
        return self.setting("split_blend_fraction", 0.02) * self.head.height
