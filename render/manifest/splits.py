"""Which split each character goes to, and how many poses each gets.

Kept apart from expansion because this is the part with rules a dataset's correctness hangs on
(no character in two splits, identity groups kept together, split totals met exactly).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

from thagen.render.discovery import characters as chars
from thagen.render.identity.pins import SplitPin, read_output_pins
from thagen.render.identity.plan import split_by_group
from thagen.render.manifest.types import Manifest
from thagen.render.output.layout import PartFiles
from thagen.yaml_checks import Checker

# the public module's name, so log filters set before the split into modules keep working
log = logging.getLogger("thagen.render.manifest")


def assign_splits(
    manifest: Manifest, refs: list[chars.ModelRef], group_of: dict[str, str] | None = None
) -> dict[str, str]:
    """Each kept character's split: its entry's `split`, a split's `characters` list, else by ratio.

    An explicit assignment wins over ratios; two explicit ones that disagree are an error naming
    both fields, because a character silently in the wrong split leaks test data into training.
    `group_of` maps ids to identity groups (render/identity/plan.py): a group stays in one split.
    """
    c = Checker(manifest.path)
    entries = manifest.characters
    assigned: dict[str, tuple[str, str]] = {}  # id -> (split, why)

    def assign(ref: chars.ModelRef, split: str, why: str) -> None:
        previous = assigned.get(ref.id)
        if previous is not None and previous[0] != split:
            raise c.error(why, f"{ref.id} is already put in split {previous[0]!r} by {previous[1]}")
        assigned[ref.id] = (split, why)

    for ref in refs:
        entry = entries[ref.entry] if 0 <= ref.entry < len(entries) else None
        if entry is not None and entry.split is not None:
            assign(ref, entry.split, f"{entry.field_path}.split")
    for spec in manifest.splits:
        for i, item in enumerate(spec.characters):
            where = f"splits.{spec.name}.characters[{i}]"
            item_path = None if chars.is_valid_id(item) else manifest.resolve(item)
            hits = [
                r
                for r in refs
                if r.id == item
                or (group_of is not None and group_of.get(r.id) == item)
                or (item_path is not None and r.path is not None and r.path.resolve() == item_path)
            ]
            if not hits:
                log.warning("%s: %s: %r matches no character", manifest.path, where, item)
            for ref in hits:
                assign(ref, spec.name, where)
    ratios = {s.name: s.ratio for s in manifest.splits if s.ratio}
    # identity groups (render/identity/plan.py): a group goes to one split, by its group id
    return split_by_group(refs, assigned, group_of or {}, ratios, manifest.effective_split_seed, c.error)


def pose_counts(manifest: Manifest, refs: list[chars.ModelRef], split_of: dict[str, str]) -> dict[str, int]:
    """Each character's pose count: its entry's `poses`, else its split's total spread exactly
    (render/discovery/characters.py distribute_exactly), else the split's or manifest's per-character count."""
    c = Checker(manifest.path)
    counts: dict[str, int] = {}
    for spec in manifest.splits:
        members = [r for r in refs if split_of[r.id] == spec.name]
        fixed: dict[str, int] = {}
        for r in members:
            own = manifest.characters[r.entry].poses
            if own is not None:
                fixed[r.id] = own
        counts.update(fixed)
        free = [r.id for r in members if r.id not in fixed]
        if spec.poses is not None:
            remaining = spec.poses - sum(fixed.values())
            if remaining < 0:
                raise c.error(
                    f"splits.{spec.name}.poses",
                    f"{spec.poses} poses, but characters with their own 'poses' already take {sum(fixed.values())}",
                )
            if free:
                counts.update(chars.distribute_exactly(remaining, free))
            elif remaining:
                log.warning(
                    "%s: splits.%s: %d poses left for no character", manifest.path, spec.name, remaining
                )
        else:
            per = (
                spec.poses_per_character
                if spec.poses_per_character is not None
                else manifest.poses_per_character
            )
            counts.update({cid: per for cid in free})
        if not members:
            log.warning("%s: split %r has no characters", manifest.path, spec.name)
    return counts


def pin_to_output(
    manifest: Manifest,
    out: Path,
    *,
    resume: bool = True,
    part: tuple[int, int] | None = None,
    sign_jobs: int = 0,
) -> Manifest:
    """The manifest with its identity options pinned to what OUT has rendered: nothing on a
    whole restart (OUT is cleared), the other parts' characters on a restart of one part."""
    pins: dict[str, SplitPin] = {}
    if out.is_dir() and (resume or part is not None):
        skip = () if resume else [PartFiles(out, part).journal]
        pins = read_output_pins(out, skip=skip, planned=part is not None)
    names = {s.name for s in manifest.splits}
    gone = sorted({pin.split for pin in pins.values()} - names)
    if gone:  # a split the manifest no longer has: nothing to keep its groups in
        logging.getLogger("thagen.render.identity.pins").warning(
            "%s: identity: characters rendered in split(s) %s, which the manifest no longer has, pin nothing",
            out,
            ", ".join(gone),
        )
        pins = {cid: pin for cid, pin in pins.items() if pin.split in names}
    identity = replace(manifest.identity, pins=pins, sign_jobs=sign_jobs)
    return replace(manifest, identity=identity)
