"""Availability of THA2 / THA3 parameters for `thagen rig check` / `rig survey` (text and CSV).

`rig check MODEL --pose-vector tha3` prints one row per parameter (exact / derived / missing,
how, which morph or bone); `rig survey --pose-vector tha3` adds one column per parameter and a
summary of how many models can show each (THA2's collection had raised_lower_eyelid on 1,646
models and smirk on 775: the summary answers the same question for yours).
"""

from __future__ import annotations

import collections
import unicodedata
from typing import Any

from thagen.rigs.normalize.extended_rig import AVAILABILITY, ExtendedRig


def format_availability(ext: ExtendedRig) -> str:
    """The per-parameter table of one model."""
    rows = [("#", "parameter", "availability", "method", "drives", "detail")]
    for i, (name, role) in enumerate(ext.params.items()):
        drives = role.morph or ", ".join(
            f"{b} {d:.1f} deg" if d else b
            for b, d in zip(role.bones, role.degrees or (0.0,) * len(role.bones))
            if b  # breathing leaves "" where a shoulder or arm bone is absent
        )
        rows.append((str(i), name, role.availability, role.method, drives or "-", role.detail))
    widths = [max(_width(r[c]) for r in rows) for c in range(5)]
    lines = [f"  {ext.vector} parameters:"]
    for r in rows:
        lines.append(
            "  " + "  ".join(r[c] + " " * (widths[c] - _width(r[c])) for c in range(5)) + "  " + r[5]
        )
    counts = collections.Counter(role.availability for role in ext.params.values())
    lines.append("  " + ", ".join(f"{counts[a]} {a}" for a in AVAILABILITY) + f" of {len(ext.params)}")
    return "\n".join(lines)


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def availability_columns(names: tuple[str, ...]) -> list[str]:
    return [f"avail_{n}" for n in names] + ["avail_missing"]


def availability_cells(ext: ExtendedRig) -> dict[str, Any]:
    cells: dict[str, Any] = {f"avail_{n}": r.availability for n, r in ext.params.items()}
    cells["avail_missing"] = " ".join(ext.missing())
    return cells


def availability_summary(rows: list[dict[str, Any]], names: tuple[str, ...]) -> str:
    """How many readable models can show each parameter (exact + derived), and how."""
    read = [r for r in rows if r.get("status") in ("usable", "unusable")]
    lines = [f"parameters shown by the {len(read)} readable models (exact + derived = can show):"]
    for n in names:
        c = collections.Counter(r.get(f"avail_{n}", "missing") for r in read)
        lines.append(
            f"  {n:32s} {c['exact'] + c['derived']:6d}  (exact {c['exact']}, derived {c['derived']})"
        )
    return "\n".join(lines)
