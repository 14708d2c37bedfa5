"""Rig normalization: which bone and morph of a model plays each of thagen's roles, under any naming.

`normalize(model)` returns a `RigReport`. Modules: roles.py + names.yaml (role definitions and
name folding), core.py (THA1's roles, checked by geometry), vrm_roles.py (a VRM's own humanoid
and expression evidence), overrides.py (a person's word in an override file), extended_*.py
(THA2 / THA3 parameters), availability.py (their summary for `rig check` / `rig survey`).
"""

from __future__ import annotations

from thagen.rigs.normalize.core import RigReport, RoleMatch, normalize

__all__ = [
    "RigReport",
    "RoleMatch",
    "normalize",
]
