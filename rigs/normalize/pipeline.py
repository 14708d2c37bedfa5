"""Rig normalization's entry point: `normalize(model)` fills every role and returns a `RigReport`.

Names find candidates (tables in names.yaml, compared after folding); geometry decides:
a morph counts only if it visibly moves the head, one-eye closes get their side from where
their offsets lie (MMD +X is the character's LEFT), and among several one-eye closes the one
shaped most like the both-eyes blink wins (THA1 used normal closes, not smile winks). With only
a blink, its offsets are split at the head's mid-plane into two synthetic one-eye morphs.

This module only orders the run (override file, head and neck first so that the head region is
known, the other bones, the plain morphs, the one-eye pool, then THA2 / THA3 parameters and the
eyebrow geometry) and assembles the report; the matching itself is matcher.py and one_eye.py, the geometry
geometry.py, the report types report.py.
"""

from __future__ import annotations

from pathlib import Path

from thagen.rigs.model import Model
from thagen.rigs.normalize.extended_rig import ExtendedRig
from thagen.rigs.normalize.extended_roles import find_extended_roles
from thagen.rigs.normalize.eyebrows import find_eyebrows
from thagen.rigs.normalize.matcher import Normalizer
from thagen.rigs.normalize.one_eye import match_pool
from thagen.rigs.normalize.overrides import Overrides, find_override_file, load_overrides
from thagen.rigs.normalize.report import RigReport
from thagen.rigs.normalize.roles import RoleSpec, RoleTable, default_role_table
from thagen.rigs.normalize.vrm_roles import with_model_hints


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
    norm = Normalizer(model, table, ov)

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
        match_pool(norm, pool, members)

    extended: ExtendedRig | None = None
    if pose_vector not in (None, "tha1"):
        extended = find_extended_roles(norm, pose_vector)
        norm.synthetic.update(extended.synthetic_morphs)
        extended.eyebrows = find_eyebrows(model, extended.params, norm.head, extended.eye_line_y)
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
