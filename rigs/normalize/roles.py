"""Role definitions and name folding, loaded from names.yaml.

The tables are data so new roles and newly met spellings need no code change.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from thagen.errors import ConfigError

NAMES_FILE = Path(__file__).with_name("names.yaml")

_STRIP = re.compile(r"[\s_\-.・]+")


def fold_name(name: str) -> str:
    """Comparison key: NFKC, katakana -> hiragana, casefold, separators dropped.

    NFKC maps half-width katakana and full-width digits to their usual forms, so the many
    spellings of one MMD name meet at one key.
    """
    text = unicodedata.normalize("NFKC", name)
    text = "".join(chr(ord(c) - 0x60) if "\u30a1" <= c <= "\u30f6" else c for c in text)
    return _STRIP.sub("", text.casefold())


@dataclass(frozen=True)
class RoleSpec:
    """One role: which kind of part fills it and the names it is known by."""

    name: str
    kind: str  # "bone" or "morph"
    required: bool
    names: tuple[str, ...]
    side: str | None = None  # "left" / "right" for sided roles
    pool: str | None = None  # sided morph roles sharing one candidate list

    @property
    def canonical(self) -> str:
        return self.names[0]


@dataclass(frozen=True)
class RoleTable:
    roles: dict[str, RoleSpec]
    settings: dict[str, float] = field(default_factory=dict)

    @property
    def required(self) -> list[str]:
        return [r.name for r in self.roles.values() if r.required]


def _parse(data: object, source: str) -> RoleTable:
    if not isinstance(data, dict) or not isinstance(data.get("roles"), dict):
        raise ConfigError(f"{source}: expected a mapping with a 'roles' mapping")
    roles: dict[str, RoleSpec] = {}
    for key, spec in data["roles"].items():
        if not isinstance(spec, dict):
            raise ConfigError(f"{source}: roles.{key}: expected a mapping")
        kind = spec.get("kind")
        if kind not in ("bone", "morph"):
            raise ConfigError(f"{source}: roles.{key}.kind: must be 'bone' or 'morph', got {kind!r}")
        names = spec.get("names") or []
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names) or not names:
            raise ConfigError(f"{source}: roles.{key}.names: expected a non-empty list of strings")
        side = spec.get("side")
        if side not in (None, "left", "right"):
            raise ConfigError(f"{source}: roles.{key}.side: must be 'left' or 'right', got {side!r}")
        roles[str(key)] = RoleSpec(
            name=str(key),
            kind=kind,
            required=bool(spec.get("required", False)),
            names=tuple(names),
            side=side,
            pool=spec.get("pool"),
        )
    settings = data.get("settings") or {}
    if not isinstance(settings, dict):
        raise ConfigError(f"{source}: settings: expected a mapping")
    return RoleTable(roles=roles, settings={str(k): float(v) for k, v in settings.items()})


def load_role_table(path: Path | None = None) -> RoleTable:
    """Parse a names file (the packaged names.yaml by default)."""
    if path is None:
        return default_role_table()
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read role table: {exc}") from exc
    return _parse(data, str(path))


@functools.cache
def default_role_table() -> RoleTable:
    data = yaml.safe_load(NAMES_FILE.read_text(encoding="utf-8"))
    return _parse(data, str(NAMES_FILE))
