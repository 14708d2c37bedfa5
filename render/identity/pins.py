"""Keep identity groups in the split an output already rendered them in.

A group's ratio split hashes its group id, its smallest member id. A new model that joins the
group (an outfit found later) or links two groups can bring a smaller id and so another split;
rendering it into an output that already holds the group's other members would put one
character into two splits. So, when `thagen render` resumes into an output, every journalled
character pins its split: its group (as grouped now) goes to that split, whatever the hash or
a split list says, and new members follow it. Two pins of different splits in one group (two
groups rendered apart, now linked by new evidence) is an error naming both groups: that output
cannot be made leak-free by rendering more, only by a group file that keeps them apart (if they
are different characters) or by rendering again (--restart).

A `--part K/N` run also pins the characters OUT's run.json plans but no journal holds yet:
the other parts render them by that plan right now, so a part that starts after the collection
grew must not re-plan their groups. Those planned pins give way to the manifest's split lists,
and a whole-manifest run (which holds OUT alone) re-plans them freely.

The pins travel from `thagen render` (render/cli.py: `pin_to_output`) in the manifest's
IdentityOptions to plan_identity, which hands them to the split with the group mapping.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from thagen.errors import ConfigError
from thagen.render.output.jsonl import read_jsonl
from thagen.render.output.layout import RUN_JSON, journal_files

if TYPE_CHECKING:
    from thagen.render.discovery import characters as chars

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SplitPin:
    """A character an output has rendered: the split it is in, where that is recorded, and the
    identity group the output recorded it in (its own id when none was recorded)."""

    split: str
    source: str  # the journal file (or run.json for a planned one)
    old_group: str
    rendered: bool = True  # False: planned in run.json, not journalled yet


class GroupMap(dict[str, str]):
    """id -> group id, carrying the output's split pins from plan_identity to the split."""

    def __init__(self, group_of: Mapping[str, str], pins: Mapping[str, SplitPin]) -> None:
        super().__init__(group_of)
        self.pins: dict[str, SplitPin] = dict(pins)


def _run_json(out: Path) -> tuple[dict[str, str], dict[str, str]]:
    """(id -> group id, id -> planned split) as OUT's run.json recorded them (empty if none)."""
    try:
        data = json.loads((out / RUN_JSON).read_text(encoding="utf-8"))
        groups = (data.get("identity") or {}).get("groups") or {}
        group_of = {str(m): str(g) for g, rec in groups.items() for m in rec.get("members", [])}
        planned = {str(c["id"]): str(c["split"]) for c in data.get("characters") or []}
        return group_of, planned
    except (OSError, ValueError, AttributeError, TypeError, KeyError):
        return {}, {}


def read_output_pins(out: Path, *, skip: Sequence[Path] = (), planned: bool = False) -> dict[str, SplitPin]:
    """The split of every character journalled in OUT (all parts' journals but `skip`), and
    with `planned` of every other character OUT's run.json plans."""
    skipped = {p.resolve() for p in skip}
    old_group, plan = _run_json(out)
    pins: dict[str, SplitPin] = {}
    if planned:
        for cid, split in plan.items():
            pins[cid] = SplitPin(split, str(out / RUN_JSON), old_group.get(cid, cid), rendered=False)
    for journal in journal_files(out):
        if journal.resolve() in skipped:
            continue
        for rec in read_jsonl(journal):
            rec_id, rec_split = rec.get("id"), rec.get("split")
            if isinstance(rec_id, str) and isinstance(rec_split, str):
                pins[rec_id] = SplitPin(rec_split, str(journal), old_group.get(rec_id, rec_id))
    return pins


def _describe(pins: Sequence[tuple[str, SplitPin]], limit: int = 4) -> str:
    ids = sorted(cid for cid, _ in pins)
    more = f" and {len(ids) - limit} more" if len(ids) > limit else ""
    return ", ".join(ids[:limit]) + more


def pinned_splits(
    refs: Sequence[chars.ModelRef],
    group_of: Mapping[str, str],
    explicit: Mapping[str, tuple[str, str, str]],
) -> dict[str, str]:
    """group id -> the split its rendered members (else its planned ones) pin it to.
    `explicit`: group -> (split, why, id) of the manifest's split lists. A group rendered in two
    splits, or rendered against its manifest split, is a ConfigError naming the groups and how
    to resolve it."""
    pins: Mapping[str, SplitPin] = getattr(group_of, "pins", {})
    if not pins:
        return {}
    by_group: dict[str, list[tuple[str, SplitPin]]] = {}
    members: dict[str, list[str]] = {}
    for ref in refs:
        gid = group_of.get(ref.id, ref.id)
        members.setdefault(gid, []).append(ref.id)
        if ref.id in pins:
            by_group.setdefault(gid, []).append((ref.id, pins[ref.id]))
    out: dict[str, str] = {}
    for gid, found in sorted(by_group.items()):
        rendered = [(cid, pin) for cid, pin in found if pin.rendered]
        if rendered:
            out[gid] = _rendered_split(gid, rendered, members[gid], explicit)
        elif gid not in explicit:  # planned only: the manifest's split lists win
            out[gid] = _planned_split(gid, found)
        else:
            continue
        if len(found) < len(members[gid]):
            log.info(
                "identity: group %s stays in split %r, where %s holds %s",
                gid,
                out[gid],
                found[0][1].source,
                _describe(found),
            )
    return out


def _by_old_group(found: Sequence[tuple[str, SplitPin]]) -> dict[str, list[tuple[str, SplitPin]]]:
    old: dict[str, list[tuple[str, SplitPin]]] = {}
    for cid, pin in found:
        old.setdefault(pin.old_group, []).append((cid, pin))
    return dict(sorted(old.items(), key=lambda kv: (kv[1][0][1].split, kv[0])))


def _rendered_split(
    gid: str,
    found: Sequence[tuple[str, SplitPin]],
    members: Sequence[str],
    explicit: Mapping[str, tuple[str, str, str]],
) -> str:
    splits = sorted({pin.split for _, pin in found})
    source = found[0][1].source
    if len(splits) > 1:
        parts = [
            f"group {g!r} (rendered in split {pins[0][1].split!r}: {_describe(pins)})"
            for g, pins in _by_old_group(found).items()
        ]
        new = sorted(set(members) - {cid for cid, _ in found})
        via = f" through {', '.join(new[:4])}" if new else ""
        raise ConfigError(
            f"{source}: identity: {' and '.join(parts)} are linked into one identity group "
            f"{gid!r}{via}, but a group stays in one split and both are rendered already. "
            "If they are different characters, keep them apart with a group file "
            "(identity: {groups: FILE}, one group for each); otherwise render into a new output "
            "or with --restart"
        )
    if gid in explicit and explicit[gid][0] != splits[0]:
        manual_split, why, cid = explicit[gid]
        raise ConfigError(
            f"{source}: identity: {why} puts {cid} (group {gid!r}) in split {manual_split!r}, but its "
            f"group is rendered in split {splits[0]!r} already ({_describe(found)}); "
            "render with --restart to move it"
        )
    return splits[0]


def _planned_split(gid: str, found: Sequence[tuple[str, SplitPin]]) -> str:
    """The split run.json plans the group's members in; when it planned them in several (groups
    the plan kept apart are linked now, nothing rendered yet), the one planned for most."""
    count: dict[str, int] = {}
    for _, pin in found:
        count[pin.split] = count.get(pin.split, 0) + 1
    split = min(count, key=lambda s: (-count[s], s))
    if len(count) > 1:
        parts = [
            f"group {g!r} (split {pins[0][1].split!r}: {_describe(pins)})"
            for g, pins in _by_old_group(found).items()
        ]
        log.warning(
            "%s: identity: %s are linked into one identity group %s; none is rendered yet, so all go "
            "to split %r (a group file keeps them apart if they are different characters)",
            found[0][1].source,
            " and ".join(parts),
            gid,
            split,
        )
    return split
