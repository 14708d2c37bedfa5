"""Rig normalization: which bone and morph of a model plays each of thagen's roles, under any naming.

`normalize(model)` returns a `RigReport`. Modules: roles.py + names.yaml (role definitions and
name folding), pipeline.py (`normalize()`, the order of the run), report.py (RigReport,
RoleMatch), matcher.py + one_eye.py (THA1's roles, checked by geometry), geometry.py (head
region, morph motion, mid-plane split), vrm_roles.py (a VRM's own humanoid and expression
evidence), overrides.py (a person's word in an override file), extended_*.py (THA2 / THA3
parameters), availability.py (their summary for `rig check` / `rig survey`).
"""

from __future__ import annotations

from thagen.rigs.normalize.pipeline import normalize
from thagen.rigs.normalize.report import RigReport, RoleMatch

__all__ = [
    "RigReport",
    "RoleMatch",
    "normalize",
]
