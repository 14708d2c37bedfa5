"""A manifest's `licenses:` section: which models may be rendered, decided by what their authors allow.

A dataset is only publishable under the terms of every character in it, and a curator decides
which terms the dataset needs (redistribution to publish it at all; commercial use for a
company; no credit lines to carry). This module parses that decision and applies it to the
discovered models, before identity groups and pose totals are planned, so an excluded model
never takes a split's poses or stands for a duplicate:

    licenses:
      file: licenses.yaml          # collection-wide corrections (docs/licenses.md, "Overrides")
      root: models                 # readmes are read from each model's folder up to here
      require: [redistribution]    # these uses must be `allow`
      forbid: [non_commercial_only, credit_required]   # conditions that exclude a model
      unknown: exclude             # a required use nobody stated: exclude (default) or include

Every excluded model is logged and returned with its reasons (the evidence that decided it),
and `thagen render` records them in OUT (render/output/licenses.py): never silently dropped.
Without the section nothing is excluded, but every character's record is still collected, so
dataset.yaml and the dataset card can credit it. Field meanings: manifests/README.md.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from thagen.errors import ConfigError
from thagen.render.discovery.characters import ModelRef
from thagen.render.discovery.licenses import open_cache, ref_license
from thagen.render.output.licenses import LICENSE_EXCLUDED, source_name
from thagen.rigs.licenses import (
    PERMISSION_FIELDS,
    Credit,
    LicenseRecord,
    LicenseTally,
    Permission,
    load_license_file,
)
from thagen.rigs.normalize.overrides import find_override_file

if TYPE_CHECKING:
    from thagen.yaml_checks import Checker

log = logging.getLogger("thagen.render.manifest")

LICENSES_KEYS = ("file", "root", "require", "forbid", "unknown")
UNKNOWN_POLICIES = ("exclude", "include")
FORBID_CONDITIONS: dict[str, str] = {
    "credit_required": "the author requires credit",
    "non_commercial_only": "commercial use is forbidden",
    "no_redistribution": "redistribution is forbidden",
    "no_modification": "modification is forbidden",
    "author_only": "only the author may use the avatar",
    "no_license_found": "no license terms were found",
}
"""`licenses.forbid` conditions: a model meeting one is excluded, whatever `unknown` says."""

_MAGIC = frozenset("*?[")
_SHOWN_EXCLUSIONS = 10
_SHOWN_EVIDENCE = 3


@dataclass(frozen=True)
class LicenseOptions:
    """`licenses:` of a manifest (paths relative to the manifest's folder)."""

    file: str | None = None
    root: str | None = None
    require: tuple[str, ...] = ()
    forbid: tuple[str, ...] = ()
    unknown: str = "exclude"

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "root": self.root,
            "require": list(self.require),
            "forbid": list(self.forbid),
            "unknown": self.unknown,
        }


def parse_license_options(c: Checker, data: object) -> LicenseOptions:
    """The `licenses:` mapping checked; every error names its field (`licenses.require[1]`)."""
    d = c.mapping({} if data is None else data, "licenses", LICENSES_KEYS)
    paths = {
        key: None if d.get(key) is None else c.string(d[key], f"licenses.{key}") for key in ("file", "root")
    }
    return LicenseOptions(
        file=paths["file"],
        root=paths["root"],
        require=_names(c, d.get("require"), "licenses.require", PERMISSION_FIELDS),
        forbid=_names(c, d.get("forbid"), "licenses.forbid", tuple(FORBID_CONDITIONS)),
        unknown=c.choice(d.get("unknown", "exclude"), "licenses.unknown", UNKNOWN_POLICIES),
    )


def _names(c: Checker, value: object, where: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise c.error(where, f"expected a list of {', '.join(allowed)}, got {type(value).__name__}")
    names = [c.choice(item, f"{where}[{i}]", allowed) for i, item in enumerate(value)]
    return tuple(dict.fromkeys(names))


class _Entry(Protocol):
    @property
    def glob(self) -> str | None: ...

    @property
    def rig_override(self) -> str | None: ...


class LicensedManifest(Protocol):
    """What the filter reads of a `Manifest` (render/manifest/types.py imports this module)."""

    @property
    def path(self) -> Path: ...

    @property
    def licenses(self) -> LicenseOptions: ...

    @property
    def characters(self) -> Sequence[_Entry]: ...

    def resolve(self, relative: str | Path) -> Path: ...


@dataclass(frozen=True)
class LicenseExclusion:
    """A model the filter left out, why, and its record (compact: no verbatim texts)."""

    id: str
    model: str
    model_file: str
    reasons: tuple[str, ...]
    license: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "model": self.model,
            "model_file": self.model_file,
            "reasons": list(self.reasons),
            "license": self.license,
        }


def _evidence(record: LicenseRecord, name: str) -> str:
    """`; evidence: readme.txt line 4: '再配布禁止', ...`: what was read for the field (a conflict
    keeps both sides' evidence, so the forbidding words are among the first few)."""
    found = record.evidence_for(name)[:_SHOWN_EVIDENCE]
    shown = [f"{e.source}{f' line {e.line}' if e.line else ''}: {e.text!r}" for e in found]
    return f"; evidence: {', '.join(shown)}" if shown else ""


def license_reasons(options: LicenseOptions, record: LicenseRecord) -> list[str]:
    """Why `record`'s model may not be rendered under `options` (empty: it may)."""
    reasons: list[str] = []
    for name in options.require:
        value = record.permission(name)
        if value is Permission.FORBID:
            reasons.append(f"{name}: forbid (licenses.require{_evidence(record, name)})")
        elif value is Permission.UNKNOWN and options.unknown == "exclude":
            reasons.append(f"{name}: unknown (licenses.require, and licenses.unknown is exclude)")
    checks = {
        "credit_required": ("credit", record.credit is Credit.REQUIRED),
        "non_commercial_only": ("commercial", record.commercial is Permission.FORBID),
        "no_redistribution": ("redistribution", record.redistribution is Permission.FORBID),
        "no_modification": ("modification", record.modification is Permission.FORBID),
        "author_only": ("avatar_use", record.avatar_use == "author_only"),
        "no_license_found": ("license_name", record.nothing_found),
    }
    for condition in options.forbid:
        name, met = checks[condition]
        if met:
            reasons.append(
                f"{FORBID_CONDITIONS[condition]} (licenses.forbid: {condition}{_evidence(record, name)})"
            )
    return list(dict.fromkeys(reasons))


def _glob_root(manifest: LicensedManifest, pattern: str) -> Path:
    """A glob's fixed leading folders (`models/**/*.pmx` -> models): its models' collection root."""
    fixed: list[str] = []
    for part in Path(pattern).parts[:-1]:
        if _MAGIC & set(part):
            break
        fixed.append(part)
    return manifest.resolve(Path(*fixed) if fixed else Path("."))


def _root(manifest: LicensedManifest, ref: ModelRef) -> Path | None:
    """Where readme search stops: `licenses.root`, a glob's fixed folders, or the model's folder."""
    if manifest.licenses.root is not None:
        return manifest.resolve(manifest.licenses.root)
    entry = manifest.characters[ref.entry] if 0 <= ref.entry < len(manifest.characters) else None
    if entry is not None and entry.glob is not None:
        return _glob_root(manifest, entry.glob)
    return None


def _override(manifest: LicensedManifest, ref: ModelRef) -> Path | None:
    """The model's override file: its entry's `rig_override`, else the one beside it."""
    entry = manifest.characters[ref.entry] if 0 <= ref.entry < len(manifest.characters) else None
    if entry is not None and entry.rig_override is not None:
        named = manifest.resolve(entry.rig_override)
        return named if named.is_file() else None  # a missing one is expand's error to report
    return None if ref.path is None else find_override_file(ref.path, ref.member)


def filter_by_license(
    manifest: LicensedManifest, refs: Sequence[ModelRef], excluded: list[LicenseExclusion] | None = None
) -> tuple[list[ModelRef], dict[str, dict[str, Any]]]:
    """The refs the manifest's `licenses:` allows, and every allowed one's compact record by id.

    Excluded models are logged and appended to `excluded` (when given). ConfigError naming the
    field when the licenses file cannot be read, or when no model is left.
    """
    options = manifest.licenses
    license_file = None
    if options.file is not None:
        path = manifest.resolve(options.file)
        if not path.is_file():
            raise ConfigError(f"{manifest.path}: licenses.file: no such file: {path}")
        license_file = load_license_file(path)
    kept: list[ModelRef] = []
    records: dict[str, dict[str, Any]] = {}
    dropped: list[LicenseExclusion] = []
    tally = LicenseTally()
    conn = open_cache()
    try:
        for ref in refs:
            record = ref_license(
                ref,
                root=_root(manifest, ref),
                license_file=license_file,
                override_file=_override(manifest, ref),
                conn=conn,
            )
            tally.add(record)
            reasons = license_reasons(options, record)
            compact = record.to_json(texts=False)
            if reasons:
                name = source_name(ref.path, ref.member, ref.builtin)
                dropped.append(LicenseExclusion(ref.id, ref.describe(), name, tuple(reasons), compact))
            else:
                kept.append(ref)
                records[ref.id] = compact
    finally:
        if conn is not None:
            conn.close()
    _log(manifest, dropped, tally)
    if excluded is not None:
        excluded.extend(dropped)
    if refs and not kept:
        first = dropped[0]
        raise ConfigError(
            f"{manifest.path}: licenses: every model was excluded (e.g. {first.id}: {first.reasons[0]})"
        )
    return kept, records


def _log(manifest: LicensedManifest, dropped: list[LicenseExclusion], tally: LicenseTally) -> None:
    log.info("%s: %s", manifest.path, tally.text())
    for item in dropped[:_SHOWN_EXCLUSIONS]:
        log.warning(
            "%s: licenses: %s (%s) not rendered: %s",
            manifest.path,
            item.id,
            item.model,
            "; ".join(item.reasons),
        )
    if len(dropped) > _SHOWN_EXCLUSIONS:
        log.warning(
            "%s: licenses: %d more models not rendered (all listed in OUT/%s)",
            manifest.path,
            len(dropped) - _SHOWN_EXCLUSIONS,
            LICENSE_EXCLUDED,
        )
