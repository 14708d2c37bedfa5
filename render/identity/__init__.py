"""Character identity: which models are one character (groups) and which are the same file twice
(duplicates), from compact signals; the groups file, split pins and the survey columns.

Modules: signals.py (per-model signatures), names.py (name keys), cache.py (the sqlite cache),
sign.py (signing in parallel), grouping.py (groups and duplicates), shown.py (the THA2 / THA3
parameters a duplicate can show, to keep the richest), group_file.py (a person's groups file),
pins.py (splits an output already holds), plan.py (identity in a manifest), survey.py (`thagen
rig survey` columns). See docs/identity.md.
"""

from __future__ import annotations

from thagen.render.identity.grouping import (
    Group,
    IdentityResult,
    Link,
    group_models,
)
from thagen.render.identity.signals import ModelSignals, compute_signals, signals_for_file

__all__ = [
    "Group",
    "IdentityResult",
    "Link",
    "ModelSignals",
    "compute_signals",
    "group_models",
    "signals_for_file",
]
