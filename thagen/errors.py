"""Errors shared by every part of thagen.

They carry the file they are about, so one line of CLI output is enough to find the problem.
"""

from __future__ import annotations

from pathlib import Path


class ThagenError(Exception):
    """Base class: an error the CLI prints as one line (the traceback only with --debug)."""


class ModelFormatError(ThagenError):
    """A model file is truncated, corrupt, hostile or of an unsupported version."""

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        offset: int | None = None,
        field: str | None = None,
    ) -> None:
        self.path = str(path) if path is not None else None
        self.offset = offset
        self.field = field
        self.detail = message
        parts = []
        if self.path:
            parts.append(self.path)
        if offset is not None:
            parts.append(f"byte {offset}")
        if field:
            parts.append(field)
        prefix = ": ".join([", ".join(parts)]) if parts else ""
        super().__init__(f"{prefix}: {message}" if prefix else message)


class ArchiveError(ThagenError):
    """A model archive (.zip) is unsafe, too large, or does not hold the model asked for."""


class ConfigError(ThagenError):
    """A manifest, override, annotation or training config is wrong (names the file and key)."""


class RigError(ThagenError):
    """A model lacks a role thagen needs (head bone, mouth morph, ...)."""


class RenderError(ThagenError):
    """Blender failed while building or rendering a character."""
