"""Per-model override files: a person's word on which bone or morph fills a role.

Schema in docs/overrides.md. Every mistake is a ConfigError naming the file and the key, since
a silently ignored override would produce a wrong dataset. The file's `license:` section is a
person's word on the model's license (docs/licenses.md, "Overrides"): checked here with the
rest of the file, applied by rigs/licenses/model_license.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from thagen.errors import ConfigError
from thagen.rigs.licenses import validate_license_mapping
from thagen.rigs.model import Bone, Model, Morph
from thagen.rigs.normalize.roles import RoleSpec, RoleTable, fold_name

if TYPE_CHECKING:
    from thagen.rigs.normalize.extended_overrides import ParamOverride

ABSENT = "absent"
SPLIT = "split"
TOP_KEYS = {"version", "roles", "params", "license", "note"}


@dataclass(frozen=True)
class OverrideEntry:
    role: str
    action: str  # "name", "absent" or "split"
    name: str | None = None


@dataclass(frozen=True)
class Overrides:
    source: str  # file path, or "<overrides dict>"
    entries: dict[str, OverrideEntry]
    # THA2 / THA3 parameter -> its override (the `params` section)
    params: dict[str, ParamOverride] = field(default_factory=dict)
    # the `license` section, checked and normalized (rigs/licenses/overrides.py)
    license: dict[str, str | None] = field(default_factory=dict)


def find_override_file(model_path: Path | None, member: str | None = None) -> Path | None:
    """The override that applies to a model file, if any.

    Plain files: `<stem>.thagen.yaml` beside the model, else `thagen.yaml` in its folder.
    A model inside a zip: `<member stem>.thagen.yaml`, else `<zip stem>.thagen.yaml`, beside the zip.
    """
    if model_path is None:
        return None
    model_path = Path(model_path)
    folder = model_path.parent
    if member is not None:
        candidates = [folder / f"{Path(member).stem}.thagen.yaml", folder / f"{model_path.stem}.thagen.yaml"]
    else:
        candidates = [folder / f"{model_path.stem}.thagen.yaml", folder / "thagen.yaml"]
    for path in candidates:
        if path.is_file():
            return path
    return None


def _entry(role: str, value: object, where: str) -> OverrideEntry:
    if isinstance(value, str):
        if value == ABSENT:
            return OverrideEntry(role, "absent")
        if value == SPLIT:
            return OverrideEntry(role, "split")
        if not value.strip():
            raise ConfigError(f"{where}: empty name")
        return OverrideEntry(role, "name", value)
    if isinstance(value, dict):
        unknown = set(value) - {"name", "absent", "split"}
        if unknown:
            raise ConfigError(
                f"{where}: unknown keys {sorted(unknown)} (use 'name', 'absent: true' or 'split: true')"
            )
        if value.get("absent") is True and len(value) == 1:
            return OverrideEntry(role, "absent")
        if value.get("split") is True and len(value) == 1:
            return OverrideEntry(role, "split")
        if isinstance(value.get("name"), str) and value["name"].strip() and len(value) == 1:
            return OverrideEntry(role, "name", value["name"])
        raise ConfigError(
            f"{where}: expected {{name: NAME}}, {{absent: true}} or {{split: true}}, got {value!r}"
        )
    if value is None:
        raise ConfigError(f"{where}: empty value; write 'absent' to mark the role as missing from the model")
    raise ConfigError(
        f"{where}: expected a bone/morph name (string), 'absent' or 'split', got {type(value).__name__}"
    )


def parse_overrides(
    data: object, source: str, table: RoleTable, lines: dict[str, dict[str, int]] | None = None
) -> Overrides:
    """Check an override document's shape against the role table and the pose vectors'
    parameter names (the model is checked later); `lines`: each key's line in the file."""
    if data is None:
        return Overrides(source, {})
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping with a 'roles' key, got {type(data).__name__}")
    unknown_top = set(map(str, data)) - TOP_KEYS
    if unknown_top:
        raise ConfigError(
            f"{source}: unknown top-level key(s) {sorted(unknown_top)} (allowed: {sorted(TOP_KEYS)})"
        )
    if "version" in data and data["version"] != 1:
        raise ConfigError(f"{source}: version: only version 1 is supported, got {data['version']!r}")
    roles = data.get("roles") or {}
    if not isinstance(roles, dict):
        raise ConfigError(f"{source}: roles: expected a mapping of role -> name, got {type(roles).__name__}")
    entries: dict[str, OverrideEntry] = {}
    for key, value in roles.items():
        where = f"{source}: roles.{key}"
        if key not in table.roles:
            raise ConfigError(f"{where}: unknown role (known roles: {', '.join(table.roles)})")
        entry = _entry(str(key), value, where)
        if entry.action == "split" and table.roles[key].pool is None:
            raise ConfigError(f"{where}: 'split' only applies to one-eye close roles")
        entries[str(key)] = entry
    from thagen.rigs.normalize.extended_overrides import parse_params

    params = parse_params(data.get("params"), source, (lines or {}).get("params", {}))
    return Overrides(source, entries, params, _license_section(data, source))


def _license_section(data: dict[Any, Any], source: str) -> dict[str, str | None]:
    """The `license:` mapping checked (an empty or absent section states nothing); license-only
    readers use rigs/licenses/overrides.py's `override_file_license`, which checks it the same way."""
    if data.get("license") is None:
        return {}
    return validate_license_mapping(data["license"], f"{source}: license")


def load_overrides(source: Path | str | dict, table: RoleTable) -> Overrides:
    """Read an override file (or take an already-parsed dict)."""
    if isinstance(source, dict):
        return parse_overrides(source, "<overrides dict>", table)
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read override file: {exc.strerror or exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    from thagen.rigs.normalize.extended_overrides import key_lines

    return parse_overrides(data, str(path), table, key_lines(text))


def resolve_override_name(model: Model, spec: RoleSpec, entry: OverrideEntry, source: str) -> int:
    """Index of the bone/morph an override names: exact name first, then a unique folded match."""
    assert entry.name is not None
    where = f"{source}: roles.{spec.name}"
    items: Sequence[Bone | Morph] = model.bones if spec.kind == "bone" else model.morphs
    for i, item in enumerate(items):
        if item.name == entry.name:
            return i
    key = fold_name(entry.name)
    folded = [i for i, item in enumerate(items) if fold_name(item.name) == key]
    if len(folded) == 1:
        return folded[0]
    if len(folded) > 1:
        names = ", ".join(repr(items[i].name) for i in folded)
        raise ConfigError(
            f"{where}: {entry.name!r} matches several {spec.kind}s ({names}); give the exact name"
        )
    other: Sequence[Bone | Morph] = model.morphs if spec.kind == "bone" else model.bones
    other_kind = "morph" if spec.kind == "bone" else "bone"
    if any(item.name == entry.name or fold_name(item.name) == key for item in other):
        raise ConfigError(
            f"{where}: {entry.name!r} is a {other_kind} in the model, but this role needs a {spec.kind}"
        )
    raise ConfigError(f"{where}: no {spec.kind} named {entry.name!r} in the model")
