"""Reading a manifest's YAML and checking its values, with errors that name file and field.

A manifest mistake found hours into a render wastes the run, so every value is checked when
the manifest loads, and each failure is one ConfigError line: "<file>: <field>: <problem>"
(`characters[2].annotation: no such file: ...`). The parsers of every manifest section
(render/manifest/parse.py, render/manifest/vector_fields.py, render/poses/sample_images.py,
render/identity/plan.py) share the `Checker` here so the messages read alike.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from thagen.errors import ConfigError


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (PyYAML silently keeps the last one)."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    loader.flatten_mapping(node)
    out: dict = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in out:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        out[key] = loader.construct_object(value_node, deep=deep)
    return out


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_yaml(path: Path) -> object:
    """YAML file -> data; unreadable files, syntax errors and duplicate keys are ConfigErrors."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: no such file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}: invalid YAML{where}: {problem}") from exc


class Checker:
    """Type/range checks that raise ConfigError("<file>: <field>: <problem>").

    Each check returns the value it accepted, so a parser reads as one expression per field.
    """

    def __init__(self, source: str | Path) -> None:
        self.source = str(source)

    def error(self, field_path: str, message: str) -> ConfigError:
        return ConfigError(
            f"{self.source}: {field_path}: {message}" if field_path else f"{self.source}: {message}"
        )

    def mapping(self, value: object, where: str, allowed: Iterable[str]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.error(where or "(top level)", f"expected a mapping, got {type_name(value)}")
        allowed = tuple(allowed)
        for key in value:
            if not isinstance(key, str) or key not in allowed:
                raise self.error(_join(where, str(key)), f"unknown key; allowed here: {', '.join(allowed)}")
        return value

    def integer(
        self, value: object, where: str, minimum: int | None = None, maximum: int | None = None
    ) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(where, f"expected an integer, got {type_name(value)} {value!r}")
        if minimum is not None and value < minimum:
            raise self.error(where, f"must be >= {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise self.error(where, f"must be <= {maximum}, got {value}")
        return value

    def number(
        self, value: object, where: str, minimum: float | None = None, maximum: float | None = None
    ) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(where, f"expected a number, got {type_name(value)} {value!r}")
        v = float(value)
        if not math.isfinite(v):
            raise self.error(where, f"must be finite, got {value!r}")
        if minimum is not None and v < minimum:
            raise self.error(where, f"must be >= {minimum:g}, got {v:g}")
        if maximum is not None and v > maximum:
            raise self.error(where, f"must be <= {maximum:g}, got {v:g}")
        return v

    def string(self, value: object, where: str, nonempty: bool = True) -> str:
        if not isinstance(value, str):
            raise self.error(where, f"expected a string, got {type_name(value)} {value!r}")
        if nonempty and not value.strip():
            raise self.error(where, "must not be empty")
        return value

    def boolean(self, value: object, where: str) -> bool:
        if not isinstance(value, bool):
            raise self.error(where, f"expected true or false, got {type_name(value)} {value!r}")
        return value

    def choice(self, value: object, where: str, options: Iterable[str]) -> str:
        options = tuple(options)
        if not isinstance(value, str) or value not in options:
            raise self.error(where, f"expected one of {', '.join(options)}, got {value!r}")
        return value

    def range_pair(self, value: object, where: str, lo: float, hi: float) -> tuple[float, float]:
        if not isinstance(value, (list, tuple)) or len(value) != 2:
            raise self.error(where, f"expected [low, high], got {value!r}")
        a = self.number(value[0], f"{where}[0]", lo, hi)
        b = self.number(value[1], f"{where}[1]", lo, hi)
        if a > b:
            raise self.error(where, f"low ({a:g}) is greater than high ({b:g})")
        return (a, b)


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def type_name(value: object) -> str:
    """A YAML reader's word for the value's type ("a mapping", not "dict") for messages."""
    if value is None:
        return "nothing (null)"
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )
