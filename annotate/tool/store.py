"""What is saved for each character (annotation, skip), its status and its version.

The files on disk are the only state: a killed server loses nothing and a restarted one sees
exactly what was accepted. The version of a character is a hash of both files' bytes, so two
people editing the same character get optimistic concurrency without any extra bookkeeping:
a save that names a version other than the current one is refused (HTTP 409).
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from thagen.annotate.tool.catalog import Character
from thagen.errors import ConfigError
from thagen.render.framing.annotation_file import Annotation, load_annotation, now_iso, save_annotation

STATUSES = ("todo", "auto", "manual", "skipped")
SKIP_KEYS = ("reason", "annotator", "created")
MAX_REASON = 500


class StaleVersion(Exception):
    """The character changed since the version the caller edited."""

    def __init__(self, current: str) -> None:
        super().__init__(f"the character was changed by someone else (now version {current})")
        self.current = current


@dataclass
class Skip:
    reason: str
    annotator: str = ""
    created: str = ""


@dataclass
class Saved:
    """What is on disk for one character."""

    status: str
    version: str
    annotation: Annotation | None = None
    skip: Skip | None = None
    problems: list[str] = field(default_factory=list)  # unreadable files
    stale: bool = False  # the annotation names another model_sha256 than the model's


def _bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return b""


def version_of(ch: Character) -> str:
    digest = hashlib.sha256()
    for path in (ch.annotation_path, ch.skip_path):
        data = _bytes(path)
        digest.update(len(data).to_bytes(8, "little") + data)
    return digest.hexdigest()[:16]


def _load_skip(path: Path) -> Skip:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("reason"), str):
        raise ConfigError(f"{path}: reason: required text")
    for key in data:
        if key not in SKIP_KEYS:
            raise ConfigError(f"{path}: {key}: unknown key; allowed: {', '.join(SKIP_KEYS)}")
    return Skip(data["reason"], str(data.get("annotator") or ""), str(data.get("created") or ""))


def read_saved(ch: Character) -> Saved:
    """Status and files of one character (an unreadable file is a problem, not a crash)."""
    version = version_of(ch)
    saved = Saved("todo", version)
    if ch.annotation_path.is_file():
        try:
            saved.annotation = load_annotation(ch.annotation_path)
            sha = saved.annotation.model_sha256
            saved.stale = bool(sha) and len(ch.sha256) == 64 and sha != ch.sha256
            # an answer about another version of the model file is no answer for this one
            saved.status = "todo" if saved.stale else saved.annotation.kind
        except ConfigError as exc:
            saved.problems.append(str(exc))
    if ch.skip_path.is_file():
        try:
            saved.skip = _load_skip(ch.skip_path)
        except ConfigError as exc:
            saved.problems.append(str(exc))
        # both files: the later answer counts (an accept after a skip, or a skip after an accept)
        if saved.skip is not None and (
            saved.annotation is None
            or ch.skip_path.stat().st_mtime_ns >= ch.annotation_path.stat().st_mtime_ns
        ):
            saved.status = "skipped"
    return saved


def needs_work(status: str) -> bool:
    return status in ("todo", "auto")


class Store:
    """Serialises check-version-then-write per process, so a stale save can never slip in."""

    def __init__(self, annotator: str = "") -> None:
        self.annotator = annotator
        self._lock = threading.Lock()

    def _check(self, ch: Character, version: str | None) -> None:
        current = version_of(ch)
        if version is not None and version != current:
            raise StaleVersion(current)

    def accept(
        self,
        ch: Character,
        head_top: np.ndarray,
        chin: np.ndarray,
        center_x: float | None,
        version: str | None,
        notes: str = "",
    ) -> Saved:
        """Write a manual annotation (and drop a skip) if `version` is still current."""
        ann = Annotation(
            head_top=head_top,
            chin=chin,
            center_x=center_x,
            model=ch.label,
            model_sha256=ch.sha256 if len(ch.sha256) == 64 else "",
            annotator=self.annotator,
            created=now_iso(),
            notes=notes,
            kind="manual",
        )
        with self._lock:
            self._check(ch, version)
            ch.annotation_path.parent.mkdir(parents=True, exist_ok=True)
            save_annotation(ch.annotation_path, ann)
            ch.skip_path.unlink(missing_ok=True)
            return read_saved(ch)

    def skip(self, ch: Character, reason: str, version: str | None) -> Saved:
        from thagen.files import atomic_write_bytes

        text = yaml.safe_dump(
            {"reason": reason, "annotator": self.annotator, "created": now_iso()},
            sort_keys=False,
            allow_unicode=True,
        )
        with self._lock:
            self._check(ch, version)
            ch.skip_path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(
                ch.skip_path, ("# thagen: character skipped by the annotation tool\n" + text).encode()
            )
            return read_saved(ch)

    def write_auto(self, ch: Character, ann: Annotation) -> bool:
        """Write an auto annotation unless a person already answered (manual or skipped)."""
        with self._lock:
            if not needs_work(read_saved(ch).status):
                return False
            ch.annotation_path.parent.mkdir(parents=True, exist_ok=True)
            save_annotation(ch.annotation_path, ann)
            return True
