"""A person's word on a model's license, which wins over anything read from its files.

Readmes are free text and the reader is deliberately timid, so a curator must be able to state
the license outright: after reading the terms on the author's site, after getting permission by
mail, or to correct a misreading. Two places say it:
- a `license:` mapping (for instance in a model's override file, read by
  `override_file_license`), applied by `apply_license_override`;
- a collection-wide licenses file, read by `load_license_file`:

      version: 1
      models:
        gene/Gene.pmx: {license_name: CC BY 4.0, commercial: forbid}
        "vroid/*.vrm": {credit: required, credit_line: "Model: someone"}

  Keys are paths or globs (`*` also crosses `/`) relative to the file's folder; a key naming a
  folder covers every model under it; entries apply in file order, so a later one wins.

Field names are the record's: permission fields take `allow` / `forbid` / `unknown` (YAML
booleans read as allow / forbid), `credit` takes `required` / `not_required` / `unknown`,
`license_name`, `license_url`, `author`, `credit_line` take a string (null clears), and
`avatar_use` one of `everyone` / `licensed_person` / `author_only`. An override's value replaces
the read one and its evidence (`override FILE`) comes first; the read evidence is kept after it.
Mistakes are one-line `ConfigError`s naming the file and the field: an override that is
silently ignored would publish a dataset under terms nobody checked.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath
from typing import Any

from thagen.errors import ConfigError
from thagen.rigs.licenses.records import (
    AVATAR_USES,
    PERMISSION_FIELDS,
    Credit,
    Evidence,
    LicenseRecord,
    Permission,
)

STRING_FIELDS: tuple[str, ...] = ("license_name", "license_url", "author", "credit_line")
OVERRIDE_FIELDS: tuple[str, ...] = (*STRING_FIELDS, "credit", *PERMISSION_FIELDS, "avatar_use", "note")
TOP_KEYS = ("version", "models", "note")
MAX_EVIDENCE_KEPT = 12

_PERMISSIONS = tuple(item.value for item in Permission)
_CREDITS = tuple(item.value for item in Credit)


def _one_of(value: Any, allowed: tuple[str, ...], where: str, true: str | None, false: str | None) -> str:
    if isinstance(value, bool) and true is not None and false is not None:
        return true if value else false
    if isinstance(value, str) and value.strip().lower() in allowed:
        return value.strip().lower()
    raise ConfigError(f"{where}: expected one of {', '.join(allowed)}, got {value!r}")


def validate_license_mapping(mapping: Any, where: str) -> dict[str, str | None]:
    """The mapping checked and normalized (values as the record spells them).

    `where` prefixes every error: the file and the key path, e.g. `licenses.yaml: models.a.pmx`.
    """
    if not isinstance(mapping, Mapping):
        raise ConfigError(f"{where}: expected a mapping of license fields, got {type(mapping).__name__}")
    unknown = [str(key) for key in mapping if key not in OVERRIDE_FIELDS]
    if unknown:
        raise ConfigError(
            f"{where}: unknown field(s) {', '.join(sorted(unknown))} (use {', '.join(OVERRIDE_FIELDS)})"
        )
    result: dict[str, str | None] = {}
    for key, value in mapping.items():
        field_where = f"{where}.{key}"
        if key in PERMISSION_FIELDS:
            result[key] = _one_of(value, _PERMISSIONS, field_where, "allow", "forbid")
        elif key == "credit":
            result[key] = _one_of(value, _CREDITS, field_where, "required", "not_required")
        elif key == "avatar_use":
            result[key] = None if value is None else _one_of(value, AVATAR_USES, field_where, None, None)
        elif value is None:
            result[key] = None
        elif isinstance(value, str | int | float) and not isinstance(value, bool) and str(value).strip():
            result[key] = str(value).strip()
        else:
            raise ConfigError(f"{field_where}: expected a non-empty string or null, got {value!r}")
    return result


def apply_license_override(record: LicenseRecord, mapping: Any, *, source: str) -> LicenseRecord:
    """`record` with the fields `mapping` states replaced; `source` (a file) names the override."""
    fields = validate_license_mapping(mapping, source)
    evidence = dict(record.evidence)
    changes: dict[str, Any] = {}
    notes = list(record.notes)
    for key, value in fields.items():
        if key == "note":
            if value is not None:
                notes.append(f"override {source}: {value}")
            continue
        if key in PERMISSION_FIELDS:
            changes[key] = Permission(str(value))  # validated: never None
        elif key == "credit":
            changes[key] = Credit(str(value))
        else:
            changes[key] = value
        stated = Evidence(f"override {source}", None, f"{key}: {value}")
        evidence[key] = (stated, *record.evidence_for(key))[:MAX_EVIDENCE_KEPT]
    return replace(record, **changes, evidence=evidence, notes=tuple(notes))


@dataclass(frozen=True)
class LicenseRule:
    """One `models:` entry: the path or glob, relative to the file's folder, and its fields."""

    pattern: str
    fields: Mapping[str, str | None]

    def matches(self, relative: str) -> bool:
        """Whether a '/'-separated path relative to the licenses file's folder is covered."""
        pattern = self.pattern.rstrip("/")
        return relative == pattern or relative.startswith(pattern + "/") or fnmatchcase(relative, pattern)


@dataclass(frozen=True)
class LicenseFile:
    """A collection-wide licenses file: its path and its rules in file order."""

    path: Path
    rules: tuple[LicenseRule, ...]

    def relative(self, model_path: Path) -> str | None:
        """`model_path` relative to this file's folder ('/'-separated), None when outside it."""
        base = os.path.abspath(self.path.parent)
        relative = os.path.relpath(os.path.abspath(model_path), base)
        if relative == ".." or relative.startswith(".." + os.sep) or os.path.isabs(relative):
            return None
        return PurePosixPath(*Path(relative).parts).as_posix()

    def rules_for(self, model_path: Path, member: str | None = None) -> list[LicenseRule]:
        """The rules covering a model (for a zip member: `pack.zip/member/path` also matches)."""
        relative = self.relative(model_path)
        if relative is None:
            return []
        candidates = [relative]
        if member:
            candidates.append(f"{relative}/{member.strip('/')}")
        return [rule for rule in self.rules if any(rule.matches(candidate) for candidate in candidates)]

    def apply(self, record: LicenseRecord, model_path: Path, member: str | None = None) -> LicenseRecord:
        """`record` with every covering rule applied in file order (a later rule wins)."""
        for rule in self.rules_for(model_path, member):
            record = apply_license_override(record, rule.fields, source=f"{self.path}: models.{rule.pattern}")
        return record


def load_license_file(path: Path) -> LicenseFile:
    """Read and check a collection-wide licenses file (schema in this module's doc)."""
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read licenses file ({exc})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}: not valid YAML{at}: {problem}") from None
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: expected a mapping with 'models', got {type(data).__name__}")
    unknown = [str(key) for key in data if key not in TOP_KEYS]
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {', '.join(sorted(unknown))} (use {', '.join(TOP_KEYS)})")
    if data.get("version", 1) != 1:
        raise ConfigError(f"{path}: version: expected 1, got {data.get('version')!r}")
    models = data.get("models")
    if not isinstance(models, Mapping):
        raise ConfigError(f"{path}: models: expected a mapping of path or glob -> license fields")
    rules: list[LicenseRule] = []
    for key, fields in models.items():
        where = f"{path}: models.{key}"
        if not isinstance(key, str) or not key.strip():
            raise ConfigError(f"{where}: a key must be a non-empty path or glob")
        pattern = key.strip().replace("\\", "/")
        if pattern.startswith("/") or (len(pattern) > 1 and pattern[1] == ":") or ".." in pattern.split("/"):
            raise ConfigError(f"{where}: must be relative to the licenses file's folder, without '..'")
        rules.append(LicenseRule(pattern, validate_license_mapping(fields, where)))
    return LicenseFile(path, tuple(rules))


def override_file_license(path: Path) -> dict[str, str | None]:
    """The checked `license:` section of a model's override file (docs/overrides.md); {} when it
    has none. Only this section is read: the roles are checked where the rig is normalized."""
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read override file ({exc})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: expected a mapping, got {type(data).__name__}")
    section = data.get("license")
    return {} if section is None else validate_license_mapping(section, f"{path}: license")
