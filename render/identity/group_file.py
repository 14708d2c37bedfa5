"""The manual group file: a person's word on which models are one character.

`thagen rig survey --groups-out FILE` writes one; a person edits it and a manifest names it
(`identity: {groups: FILE}`); it always wins over the automatic grouping. Format:

    version: 1
    groups:
      gene:                          # group name: lower-case letters, digits and '-'
        - gene-light-3f2a9c01        # a character id,
        - models/Gene_light.pmd      # a model file (relative to this file),
        - packs/gene.zip!Gene.pmx    # or a zip member (a bare zip: every model in it)

Every mistake is a ConfigError naming the file and the line, because a silently skipped line
would put a character into two splits.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from thagen.errors import ConfigError
from thagen.files import atomic_write_bytes

GROUP_FILE_VERSION = 1
_GROUP_NAME = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


@dataclass(frozen=True)
class GroupMember:
    text: str  # as written: a character id, a path, or zip!member
    line: int  # 1-based line in the file


@dataclass(frozen=True)
class GroupFile:
    path: Path
    groups: dict[str, tuple[GroupMember, ...]]

    def resolve(self, member: GroupMember) -> tuple[Path, str | None]:
        """The (file, zip member or None) a path-like member names, relative to the file."""
        text, _, inner = member.text.partition("!")
        p = Path(text).expanduser()
        return (p if p.is_absolute() else (self.path.parent / p)).resolve(), inner or None


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def read_group_file(path: str | Path) -> GroupFile:
    """Parse and check a group file (ConfigError "<file>: line N: <problem>")."""
    path = Path(path).expanduser().resolve()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: no such group file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc

    def error(line: int, message: str) -> ConfigError:
        return ConfigError(f"{path}: line {line}: {message}")

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise error(mark.line + 1 if mark else 1, f"invalid YAML: {getattr(exc, 'problem', exc)}") from exc
    if root is None:
        raise error(1, "empty file; expected 'version: 1' and 'groups:'")
    if not isinstance(root, yaml.MappingNode):
        raise error(_line(root), "expected a mapping with 'version' and 'groups'")
    top: dict[str, yaml.Node] = {}
    for key, value in root.value:
        if not isinstance(key, yaml.ScalarNode) or key.value not in ("version", "groups"):
            raise error(_line(key), f"unknown key {getattr(key, 'value', '?')!r}; allowed: version, groups")
        if key.value in top:
            raise error(_line(key), f"duplicate key {key.value!r}")
        top[key.value] = value
    version = top.get("version")
    if version is not None and (
        not isinstance(version, yaml.ScalarNode) or version.value != str(GROUP_FILE_VERSION)
    ):
        raise error(_line(version), f"this thagen reads group file version {GROUP_FILE_VERSION}")
    node = top.get("groups")
    if node is None:
        raise error(_line(root), "missing 'groups:'")
    if not isinstance(node, yaml.MappingNode):
        raise error(_line(node), "'groups' must be a mapping of group name -> list of models")
    groups: dict[str, tuple[GroupMember, ...]] = {}
    seen: dict[str, tuple[str, int]] = {}
    for key, value in node.value:
        name = key.value if isinstance(key, yaml.ScalarNode) else None
        if not isinstance(name, str) or not _GROUP_NAME.match(name):
            raise error(_line(key), f"group name {name!r}: use lower-case letters, digits and '-'")
        if name in groups:
            raise error(_line(key), f"group {name!r} is given twice")
        if not isinstance(value, yaml.SequenceNode) or not value.value:
            raise error(_line(value), f"group {name!r}: expected a non-empty list of models")
        members = []
        for item in value.value:
            if not isinstance(item, yaml.ScalarNode) or not item.value.strip():
                raise error(_line(item), f"group {name!r}: each model is a character id or a path")
            text = item.value.strip()
            if text in seen and seen[text][0] != name:
                raise error(
                    _line(item), f"{text!r} is already in group {seen[text][0]!r} (line {seen[text][1]})"
                )
            seen[text] = (name, _line(item))
            members.append(GroupMember(text, _line(item)))
        groups[name] = tuple(members)
    return GroupFile(path, groups)


def write_group_file(path: Path, groups: Sequence[tuple[str, Sequence[tuple[str, str]]]]) -> None:
    """Write groups as (name, [(member, comment)]) atomically (temp file, fsync, rename)."""
    lines = [
        "# thagen identity groups: edit, then name this file in a manifest:",
        "#   identity: {groups: " + path.name + "}",
        "# A model listed here is in this group whatever the automatic grouping says (docs/identity.md).",
        f"version: {GROUP_FILE_VERSION}",
        "groups:",
    ]
    for name, members in groups:
        lines.append(f"  {name}:")
        for member, comment in members:
            quoted = (
                yaml.safe_dump(member, allow_unicode=True, width=10_000).strip().removesuffix("...").strip()
            )
            note = comment.replace("\n", " ")
            lines.append(f"    - {quoted}" + (f"  # {note}" if note else ""))
    atomic_write_bytes(path, ("\n".join(lines) + "\n").encode("utf-8"))
