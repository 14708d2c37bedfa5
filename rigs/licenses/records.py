"""The data a license collection produces: permissions, the evidence behind each, and what was read.

A dataset built from strangers' models has to be able to say, per model, what its author allowed
and *why we believe it*. So every field carries the evidence (file and line, or VRM meta key) that
set it, the texts that were read are kept (size-bounded) next to the verdict, and every field
starts at `unknown`: only explicit evidence moves it, and `unknown` is never read as `allow`.

Everything here is frozen and JSON round-trips (`to_json` / `from_json`), so a record can be stored
beside a rendered character and re-read without the model's files.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

JSON_VERSION = 1


class Permission(StrEnum):
    """Whether one kind of use is allowed. `UNKNOWN` is the default and never means allowed."""

    ALLOW = "allow"
    FORBID = "forbid"
    UNKNOWN = "unknown"


class Credit(StrEnum):
    """Whether the author must be credited."""

    REQUIRED = "required"
    NOT_REQUIRED = "not_required"
    UNKNOWN = "unknown"


PERMISSION_FIELDS: tuple[str, ...] = (
    "redistribution",
    "modification",
    "commercial",
    "sexual",
    "violent",
    "political_religious",
)
"""The allow / forbid / unknown fields of a `LicenseRecord`, in display order."""

TEXT_FIELDS: tuple[str, ...] = ("license_name", "license_url", "author", "credit_line", "avatar_use")
"""The free-text fields of a `LicenseRecord` (None when nothing said them)."""

AVATAR_USES: tuple[str, ...] = ("everyone", "licensed_person", "author_only")
"""Who may use (perform as) the avatar, from least to most restrictive (VRM / VRoid Hub terms)."""

_PERMISSIONS = tuple(item.value for item in Permission)
_CREDITS = tuple(item.value for item in Credit)

EVIDENCE_FIELDS: tuple[str, ...] = (*TEXT_FIELDS, "credit", *PERMISSION_FIELDS)


@dataclass(frozen=True)
class Evidence:
    """Why a field has its value: where it was read and the words that matched.

    `source` is a file path (relative to the collection root), `vrm meta`, `pmx comment`, or
    `override FILE`; `line` is 1-based within that text, None for structured sources.
    """

    source: str
    line: int | None
    text: str

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "line": self.line, "text": self.text}

    @classmethod
    def from_json(cls, data: Any) -> Evidence:
        if not isinstance(data, Mapping):
            raise ValueError(f"evidence: expected a mapping, got {type(data).__name__}")
        source, line, text = data.get("source"), data.get("line"), data.get("text")
        if not isinstance(source, str) or not isinstance(text, str):
            raise ValueError("evidence: 'source' and 'text' must be strings")
        if line is not None and (not isinstance(line, int) or isinstance(line, bool)):
            raise ValueError("evidence: 'line' must be an integer or null")
        return cls(source, line, text)


@dataclass(frozen=True)
class Finding:
    """One statement read from one source: `field` should be `value`, because of `evidence`.

    Interpreters only produce findings; `merge.build_record` turns many of them into a record,
    so the conflict rules live in one place.
    """

    field: str
    value: str
    evidence: Evidence


@dataclass(frozen=True)
class SourceText:
    """A text that was read (or deliberately skipped), kept verbatim up to a size bound.

    `kind` is `file`, `zip member`, `vrm meta` or `pmx comment`; `size` the full size in bytes;
    `text` the decoded head (at most `decode.MAX_KEPT_BYTES` of UTF-8); `truncated` says the kept
    or interpreted text is shorter than the original; `note` why it was skipped or how decoded.
    """

    source: str
    kind: str
    size: int
    encoding: str | None
    text: str
    truncated: bool = False
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "kind": self.kind,
            "size": self.size,
            "encoding": self.encoding,
            "text": self.text,
            "truncated": self.truncated,
            "note": self.note,
        }

    @classmethod
    def from_json(cls, data: Any) -> SourceText:
        if not isinstance(data, Mapping):
            raise ValueError(f"sources: expected a mapping, got {type(data).__name__}")
        try:
            return cls(
                source=_str(data["source"], "sources.source"),
                kind=_str(data["kind"], "sources.kind"),
                size=_int(data["size"], "sources.size"),
                encoding=_opt_str(data.get("encoding"), "sources.encoding"),
                text=_str(data.get("text", ""), "sources.text"),
                truncated=bool(data.get("truncated", False)),
                note=_opt_str(data.get("note"), "sources.note"),
            )
        except KeyError as exc:
            raise ValueError(f"sources: missing key {exc.args[0]!r}") from None


@dataclass(frozen=True)
class LicenseRecord:
    """What one model's author allowed, as far as its files say, with the evidence for each field.

    Permission fields are `Permission` values (plain strings are converted); `evidence` maps a
    field name (see `EVIDENCE_FIELDS`) to the evidence that set it, conflicting pieces included.
    """

    license_name: str | None = None
    license_url: str | None = None
    author: str | None = None
    credit_line: str | None = None
    credit: Credit = Credit.UNKNOWN
    redistribution: Permission = Permission.UNKNOWN
    modification: Permission = Permission.UNKNOWN
    commercial: Permission = Permission.UNKNOWN
    sexual: Permission = Permission.UNKNOWN
    violent: Permission = Permission.UNKNOWN
    political_religious: Permission = Permission.UNKNOWN
    avatar_use: str | None = None
    evidence: Mapping[str, tuple[Evidence, ...]] = field(default_factory=dict, hash=False)
    sources: tuple[SourceText, ...] = ()
    urls: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.credit not in _CREDITS:
            raise ValueError(f"license record: credit must be one of {_CREDITS}, got {self.credit!r}")
        object.__setattr__(self, "credit", Credit(self.credit))
        for name in PERMISSION_FIELDS:
            value = getattr(self, name)
            if value not in _PERMISSIONS:
                raise ValueError(f"license record: {name} must be one of {_PERMISSIONS}, got {value!r}")
            object.__setattr__(self, name, Permission(value))
        if self.avatar_use is not None and self.avatar_use not in AVATAR_USES:
            raise ValueError(
                f"license record: avatar_use must be one of {AVATAR_USES}, got {self.avatar_use!r}"
            )
        frozen = {key: tuple(value) for key, value in self.evidence.items() if value}
        object.__setattr__(self, "evidence", MappingProxyType(frozen))
        object.__setattr__(self, "sources", tuple(self.sources))
        object.__setattr__(self, "urls", tuple(self.urls))
        object.__setattr__(self, "notes", tuple(self.notes))

    @property
    def nothing_found(self) -> bool:
        """True when no source said anything: no license name, credit and every permission unknown."""
        return (
            self.license_name is None
            and self.credit is Credit.UNKNOWN
            and all(getattr(self, name) is Permission.UNKNOWN for name in PERMISSION_FIELDS)
        )

    def evidence_for(self, name: str) -> tuple[Evidence, ...]:
        """The evidence for one field (empty when nothing spoke about it)."""
        return self.evidence.get(name, ())

    def permission(self, name: str) -> Permission:
        """One permission field by name (`redistribution`, `commercial`, ...)."""
        if name not in PERMISSION_FIELDS:
            raise KeyError(f"not a permission field: {name!r} (one of {', '.join(PERMISSION_FIELDS)})")
        value: Permission = getattr(self, name)
        return value

    def summary(self) -> str:
        """One line for CLI output: license, credit, and every permission."""
        name = self.license_name or "no license found"
        credit = f"credit {self.credit.value}"
        if self.credit_line:
            line = self.credit_line if len(self.credit_line) <= 60 else self.credit_line[:57] + "..."
            credit += f" ({line!r})"
        fields = " ".join(f"{name_}={getattr(self, name_).value}" for name_ in PERMISSION_FIELDS)
        count = len(self.sources)
        return f"{name}; {credit}; {fields}; {count} source{'s' if count != 1 else ''}"

    def describe(self) -> list[str]:
        """A few aligned lines for `thagen inspect` / `thagen rig check`: the summary's facts with
        the full credit line (to copy), the author, the URL and the sources read."""
        name = self.license_name or "no license found"
        url = f" ({self.license_url})" if self.license_url else ""
        credit = self.credit.value + (f": {self.credit_line}" if self.credit_line else "")
        sources = ", ".join(source.source for source in self.sources) or "none"
        lines = [
            f"license      {name}{url}",
            f"  author     {self.author or '-'}",
            f"  credit     {credit}",
            "  uses       " + " ".join(f"{n}={getattr(self, n).value}" for n in PERMISSION_FIELDS),
            f"  sources    {sources}",
        ]
        if self.avatar_use:
            lines.insert(4, f"  avatar use {self.avatar_use}")
        return lines

    def to_json(self, *, texts: bool = True) -> dict[str, Any]:
        """A JSON-ready dict (plain str / int / list / dict / None).

        `texts=False` leaves out the verbatim texts of the sources (their names, sizes and notes
        stay): the compact form a dataset.yaml holds for thousands of characters."""
        data: dict[str, Any] = {"version": JSON_VERSION}
        for name in ("license_name", "license_url", "author", "credit_line"):
            data[name] = getattr(self, name)
        data["credit"] = self.credit.value
        for name in PERMISSION_FIELDS:
            data[name] = getattr(self, name).value
        data["avatar_use"] = self.avatar_use
        data["evidence"] = {key: [ev.to_json() for ev in value] for key, value in self.evidence.items()}
        data["sources"] = [
            source.to_json() if texts else {k: v for k, v in source.to_json().items() if k != "text"}
            for source in self.sources
        ]
        data["urls"] = list(self.urls)
        data["notes"] = list(self.notes)
        return data

    @classmethod
    def from_json(cls, data: Any) -> LicenseRecord:
        """Read back `to_json` output; ValueError naming the field when it does not fit."""
        if not isinstance(data, Mapping):
            raise ValueError(f"license record: expected a mapping, got {type(data).__name__}")
        version = data.get("version", JSON_VERSION)
        if version != JSON_VERSION:
            raise ValueError(f"license record: unsupported version {version!r} (expected {JSON_VERSION})")
        kwargs: dict[str, Any] = {}
        for name in ("license_name", "license_url", "author", "credit_line", "avatar_use"):
            kwargs[name] = _opt_str(data.get(name), name)
        kwargs["credit"] = _str(data.get("credit", Credit.UNKNOWN.value), "credit")
        for name in PERMISSION_FIELDS:
            kwargs[name] = _str(data.get(name, Permission.UNKNOWN.value), name)
        evidence = data.get("evidence", {})
        if not isinstance(evidence, Mapping):
            raise ValueError("license record: 'evidence' must be a mapping")
        kwargs["evidence"] = {
            _str(key, "evidence key"): tuple(
                Evidence.from_json(item) for item in _list(value, f"evidence.{key}")
            )
            for key, value in evidence.items()
        }
        kwargs["sources"] = tuple(
            SourceText.from_json(item) for item in _list(data.get("sources", []), "sources")
        )
        kwargs["urls"] = tuple(_str(item, "urls") for item in _list(data.get("urls", []), "urls"))
        kwargs["notes"] = tuple(_str(item, "notes") for item in _list(data.get("notes", []), "notes"))
        return cls(**kwargs)


def _str(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"license record: {name!r} must be a string, got {type(value).__name__}")
    return value


def _opt_str(value: Any, name: str) -> str | None:
    return None if value is None else _str(value, name)


def _int(value: Any, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"license record: {name!r} must be an integer, got {type(value).__name__}")
    return value


def _list(value: Any, name: str) -> Iterable[Any]:
    if not isinstance(value, list | tuple):
        raise ValueError(f"license record: {name!r} must be a list, got {type(value).__name__}")
    return value
