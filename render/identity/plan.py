"""Identity in a manifest: the `identity` options, groups of the discovered models, the split by
group, and the identity section of dataset.yaml.

The ratio split hashes the group id instead of the character id. A model alone in its group has
its own id as group id, so manifests without variants split exactly as before; a group's id is
its manual name or its smallest member id, so adding unrelated models never moves a group. A
model joining a group can change that id: when rendering into an output, the splits its
journalled characters were rendered in win (render/identity/pins.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from thagen.errors import ConfigError
from thagen.render.discovery import characters as chars
from thagen.render.identity import cache as identity_cache
from thagen.render.identity.cache import location_key
from thagen.render.identity.group_file import GroupFile, read_group_file
from thagen.render.identity.grouping import IdentityResult, ShownParameters, group_models
from thagen.render.identity.pins import GroupMap, SplitPin, pinned_splits
from thagen.render.identity.shown import SHOWN_VECTORS, OverrideOf, shown_counts
from thagen.render.identity.sign import sign_models
from thagen.render.identity.signals import ModelSignals, signals_for_file

if TYPE_CHECKING:
    from thagen.yaml_checks import Checker

log = logging.getLogger(__name__)

IDENTITY_KEYS = ("groups", "auto", "keep_duplicates")


@dataclass(frozen=True)
class IdentityOptions:
    """`identity:` of a manifest. auto: group by signals (reads every model once, then cached);
    groups: a manual group file that always wins; keep_duplicates: render duplicates too.
    Not from the manifest (set by `thagen render`, never in to_dict): pins, the splits of the
    characters the output has rendered (render/identity/pins.py); sign_jobs, the processes that
    sign models (0: all cores)."""

    groups: str | None = None
    auto: bool = True
    keep_duplicates: bool = False
    pins: Mapping[str, SplitPin] = field(default_factory=dict, compare=False, hash=False)
    sign_jobs: int = field(default=0, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {"groups": self.groups, "auto": self.auto, "keep_duplicates": self.keep_duplicates}


def parse_identity_options(c: Checker, data: object) -> IdentityOptions:
    d = c.mapping({} if data is None else data, "identity", IDENTITY_KEYS)
    groups = None if d.get("groups") is None else c.string(d["groups"], "identity.groups")
    return IdentityOptions(
        groups=groups,
        auto=c.boolean(d.get("auto", True), "identity.auto"),
        keep_duplicates=c.boolean(d.get("keep_duplicates", False), "identity.keep_duplicates"),
    )


@dataclass(frozen=True)
class JobIdentity:
    """A rendered character's identity, carried by its CharacterJob into dataset.yaml."""

    group: str
    evidence: tuple[str, ...] = ()  # the links that formed the group
    duplicates: tuple[str, ...] = ()  # "<id> (<model>): <reason>" of models not rendered
    duplicate_of: str = ""  # with keep_duplicates: the id this one duplicates


# --------------------------------------------------------------------------- signals


def ref_key(ref: chars.ModelRef) -> str:
    return "builtin" if ref.path is None else location_key(ref.path, ref.member)


def ref_signals(
    refs: Sequence[chars.ModelRef], cache_dir: Path | None = None, jobs: int = 0
) -> dict[str, ModelSignals]:
    """Signals of every ref by id: from the cache where still valid, else read (in `jobs`
    processes, 0: all cores) and stored."""
    keyed = [(ref_key(r), r) for r in refs if not r.builtin]
    stored = identity_cache.lookup_many([(k, r.sha256) for k, r in keyed])
    out = {ref.id: stored[key] for key, ref in keyed if key in stored}
    fresh = [(key, ref) for key, ref in keyed if key not in stored]
    out.update(sign_models(fresh, cache_dir, jobs))
    for ref in refs:
        if ref.builtin:  # written to a new temp folder each process: cheap, never cached
            out[ref.id] = signals_for_file(chars.builtin_model_file())[0]
    if fresh:
        log.info("identity: signed %d models (%d from the cache)", len(fresh), len(stored))
    return out


def manual_assignments(group_file: GroupFile, refs: Sequence[chars.ModelRef]) -> dict[str, str]:
    """id -> group name for every ref the file names (by id, file or zip member)."""
    out: dict[str, str] = {}
    for name, members in group_file.groups.items():
        for member in members:
            hits = [r for r in refs if r.id == member.text]
            if not hits and not chars.is_valid_id(member.text):
                path, inner = group_file.resolve(member)
                hits = [
                    r
                    for r in refs
                    if r.path is not None
                    and r.path.resolve() == path
                    and (inner is None or r.member == inner)
                ]
            if not hits:
                log.info(
                    "%s: line %d: %r is not among this manifest's models",
                    group_file.path,
                    member.line,
                    member.text,
                )
            for ref in hits:
                if out.get(ref.id, name) != name:
                    raise ConfigError(
                        f"{group_file.path}: line {member.line}: {ref.describe()} is already in group {out[ref.id]!r}"
                    )
                out[ref.id] = name
    return out


def plan_identity(
    options: IdentityOptions,
    refs: Sequence[chars.ModelRef],
    groups_file: Path | None,
    cache_dir: Path,
    pose_vector: str = "tha1",
    override_of: OverrideOf | None = None,
) -> IdentityResult:
    """Groups and duplicates of a manifest's models (the group file, `identity.groups` resolved
    against the manifest, wins); signals are computed in parallel and cached under cache_dir.
    For a THA2 / THA3 `pose_vector`, the duplicate kept is the one showing the most of its
    parameters, rigged with the override `override_of` gives (default: the one beside it)."""
    manual: dict[str, str] = {}
    if groups_file is not None:
        manual = manual_assignments(read_group_file(groups_file), refs)
    if options.auto:
        signals = ref_signals(refs, cache_dir, options.sign_jobs)
    else:
        signals = {r.id: ModelSignals(problem="identity.auto is false") for r in refs}
    pins = {cid: pin for cid, pin in options.pins.items() if cid in signals}
    shown = None
    if pose_vector in SHOWN_VECTORS:
        by_id = {r.id: r for r in refs}

        def count(ids: Sequence[str]) -> Mapping[str, int]:
            asked = [by_id[cid] for cid in ids]
            return shown_counts(asked, pose_vector, override_of, options.sign_jobs)

        shown = ShownParameters(pose_vector, count)
    result = group_models(signals, manual, prefer=pins, shown=shown)
    result.group_of = GroupMap(result.group_of, pins)
    for cid, problem in sorted(result.problems.items()):
        if options.auto:
            log.warning("identity: %s has no signals (%s); it is a group of its own", cid, problem)
    return result


def kept_refs(
    result: IdentityResult, refs: Sequence[chars.ModelRef], keep_duplicates: bool
) -> list[chars.ModelRef]:
    if keep_duplicates:
        return list(refs)
    # a duplicate the output has rendered already stays a job (done; its shards are there)
    pins = getattr(result.group_of, "pins", {})
    dropped = [r for r in refs if r.id in result.duplicate_of and r.id not in pins]
    for ref in dropped:
        kept, why = result.duplicate_of[ref.id]
        log.info("identity: %s (%s) duplicates %s (%s); rendered once", ref.id, ref.describe(), kept, why)
    if dropped:
        log.warning(
            "identity: %d duplicate models are not rendered (listed in dataset.yaml under identity.duplicates; "
            "identity: {keep_duplicates: true} renders them)",
            len(dropped),
        )
    dropped_ids = {r.id for r in dropped}
    return [r for r in refs if r.id not in dropped_ids]


def job_identity(
    result: IdentityResult, refs: Sequence[chars.ModelRef], cid: str, kept_all: bool
) -> JobIdentity:
    group = result.groups[result.group_of[cid]]
    where = {r.id: r.describe() for r in refs}
    dups = (
        ()
        if kept_all
        else tuple(f"{d} ({where.get(d, '?')}): {why}" for d, why in result.duplicates().get(cid, []))
    )
    return JobIdentity(
        group=group.id,
        evidence=tuple(link.text() for link in group.links),
        duplicates=dups,
        duplicate_of=result.duplicate_of[cid][0] if kept_all and cid in result.duplicate_of else "",
    )


# --------------------------------------------------------------------------- splits


def split_by_group(
    refs: Sequence[chars.ModelRef],
    explicit: Mapping[str, tuple[str, str]],
    group_of: Mapping[str, str],
    ratios: Mapping[str, float],
    seed: int,
    error: Callable[[str, str], ConfigError],
) -> dict[str, str]:
    """id -> split. A group the output has rendered members of stays in their split (`group_of`
    from plan_identity carries the pins); else an explicit assignment of any member moves its
    whole group; the rest go by the ratio hash of their group id. Two members explicitly put in
    different splits is an error, and so is a group pinned to two splits."""
    by_group: dict[str, tuple[str, str, str]] = {}  # group -> (split, why, id)
    for cid, (split, why) in sorted(explicit.items()):
        gid = group_of.get(cid, cid)
        previous = by_group.get(gid)
        if previous is not None and previous[0] != split:
            raise error(
                why,
                f"{cid} is in identity group {gid!r} with {previous[2]}, which {previous[1]} puts in split "
                f"{previous[0]!r}: a group stays in one split",
            )
        by_group[gid] = (split, why, cid)
    pinned = pinned_splits(refs, group_of, by_group)
    out: dict[str, str] = {}
    for ref in refs:
        gid = group_of.get(ref.id, ref.id)
        if gid in pinned:
            out[ref.id] = pinned[gid]
        elif gid in by_group:
            out[ref.id] = by_group[gid][0]
        elif ratios:
            out[ref.id] = chars.split_by_ratio(seed, gid, ratios)
        else:
            raise error("splits", f"{ref.describe()} (id {ref.id}) is in no split and no split has a ratio")
    return out


def identity_section(jobs: Sequence[Any]) -> dict[str, Any]:
    """dataset.yaml's `identity`: each group's split, members and evidence; the duplicates."""
    groups: dict[str, dict[str, Any]] = {}
    duplicates: dict[str, list[str]] = {}
    for job in sorted(jobs, key=lambda j: j.id):
        ident = getattr(job, "identity", None)
        if ident is None:
            continue
        g = groups.setdefault(
            ident.group, {"split": job.split, "members": [], "evidence": list(ident.evidence)}
        )
        g["members"].append(job.id)
        if ident.duplicates:
            duplicates.setdefault(job.id, []).extend(ident.duplicates)
        if ident.duplicate_of:  # keep_duplicates: rendered, but still listed as a duplicate
            duplicates.setdefault(ident.duplicate_of, []).append(f"{job.id}: rendered too (keep_duplicates)")
    return {"groups": dict(sorted(groups.items())), "duplicates": duplicates}
