"""One model's license as every command sees it: what the model file says, what its folder says,
and what a person said, in that order of authority.

`thagen inspect`, `thagen rig check`, `thagen rig survey` and a manifest's `licenses:` section
all need the same record for the same model, so the steps live here once:

1. `license_inputs(model, member)`: what the model file itself says (the raw VRM meta, the
   PMX/PMD header comments, the text members of its folder inside a zip). Reading a model costs
   far more than reading its readme, so these are a plain value a caller can cache by the model's
   hash (render/discovery/licenses.py does); a model that cannot be read gives inputs with a
   `problem`, and the files beside it still speak.
2. `model_license(path, inputs, root=...)`: `collect_license` over those inputs and the files
   beside the model up to the collection root, then the collection-wide licenses file's rules,
   then the model's own override `license:` section, which wins (a person's word beats a readme).

The built-in character needs no special case: its PMX comment says CC0, and that is read like
any other model's comment.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

from thagen.rigs.licenses.collect import collect_license
from thagen.rigs.licenses.decode import MAX_READ_BYTES, read_head
from thagen.rigs.licenses.files import (
    MAX_ENTRIES_PER_FOLDER,
    MAX_FILES,
    is_model_folder_text,
    is_readable_suffix,
)
from thagen.rigs.licenses.overrides import LicenseFile, apply_license_override, override_file_license
from thagen.rigs.licenses.records import LicenseRecord
from thagen.rigs.model import Model

INPUTS_VERSION = 1
"""Bumped when `license_inputs` reads more of a model, so cached inputs are read again."""


@dataclass(frozen=True)
class LicenseInputs:
    """What a model file says about its license, apart from the files beside it.

    `vrm_meta`: the VRM meta object (None for PMX/PMD); `comments`: the PMX/PMD header comments;
    `zip_members`: (member name, head bytes) of the text files in the model's folder inside its
    zip (None for a loose file); `problem`: why the model could not be read (then the rest is
    empty and only the files beside the model are read).
    """

    vrm_meta: Mapping[str, Any] | None = None
    comments: tuple[str, ...] = ()
    zip_members: tuple[tuple[str, bytes], ...] | None = None
    problem: str | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready (member bytes as base64), for a cache."""
        members = None
        if self.zip_members is not None:
            members = [[name, base64.b64encode(data).decode("ascii")] for name, data in self.zip_members]
        return {
            "version": INPUTS_VERSION,
            "vrm_meta": None if self.vrm_meta is None else dict(self.vrm_meta),
            "comments": list(self.comments),
            "zip_members": members,
            "problem": self.problem,
        }

    @classmethod
    def from_json(cls, data: Any) -> LicenseInputs:
        """Read back `to_json`; ValueError when it does not fit (a cache then reads the model again)."""
        if not isinstance(data, Mapping) or data.get("version") != INPUTS_VERSION:
            raise ValueError("license inputs: not a mapping of the current version")
        meta = data.get("vrm_meta")
        comments = data.get("comments", [])
        members = data.get("zip_members")
        problem = data.get("problem")
        if meta is not None and not isinstance(meta, Mapping):
            raise ValueError("license inputs: vrm_meta must be a mapping or null")
        if not isinstance(comments, list) or not all(isinstance(c, str) for c in comments):
            raise ValueError("license inputs: comments must be a list of strings")
        if problem is not None and not isinstance(problem, str):
            raise ValueError("license inputs: problem must be a string or null")
        decoded: tuple[tuple[str, bytes], ...] | None = None
        if members is not None:
            if not isinstance(members, list):
                raise ValueError("license inputs: zip_members must be a list or null")
            items = []
            for item in members:
                if not (isinstance(item, list) and len(item) == 2 and all(isinstance(v, str) for v in item)):
                    raise ValueError("license inputs: a zip member must be [name, base64]")
                items.append((item[0], base64.b64decode(item[1].encode("ascii"), validate=True)))
            decoded = tuple(items)
        return cls(meta, tuple(comments), decoded, problem)


def license_inputs(model: Model, member: str | None = None) -> LicenseInputs:
    """What `model` (read from a file, or from `member` of a zip) says about its license.

    VRM: the raw meta. PMX/PMD: the Japanese and English header comments. A zip member: also the
    text files of the member's folder, read from the folder the reader extracted it to (the
    reader extracts the model's whole folder, so these are exactly the zip's members there).
    """
    meta = model.vrm.meta if model.vrm is not None and model.vrm.meta else None
    comments = () if model.format == "vrm" else tuple(c for c in (model.comment, model.comment_en) if c)
    members = None
    if member is not None and model.source_path is not None:
        members = _extracted_folder_texts(Path(model.source_path).parent, member)
    return LicenseInputs(meta, comments, members)


def unreadable_inputs(exc: BaseException) -> LicenseInputs:
    """The inputs of a model that could not be read: only the reason."""
    text = " ".join(str(exc).split())
    return LicenseInputs(problem=f"{type(exc).__name__}: {text}" if text else type(exc).__name__)


def _extracted_folder_texts(folder: Path, member: str) -> tuple[tuple[str, bytes], ...]:
    """(member name, head bytes) of the license-like and .txt/.md files in an extracted model's folder."""
    prefix = PurePosixPath(member.replace("\\", "/")).parent
    names: list[str] = []
    try:
        with os.scandir(folder) as entries:
            for count, entry in enumerate(entries):
                if count >= MAX_ENTRIES_PER_FOLDER:
                    break
                if is_model_folder_text(entry.name) and entry.is_file(follow_symlinks=False):
                    names.append(entry.name)
    except OSError:
        return ()
    found: list[tuple[str, bytes]] = []
    for name in sorted(names)[:MAX_FILES]:
        shown = name if str(prefix) == "." else f"{prefix.as_posix()}/{name}"
        if not is_readable_suffix(name):
            found.append((shown, b""))  # collect_license notes it as not a text file
            continue
        try:
            found.append((shown, read_head(folder / name, MAX_READ_BYTES + 1).data))
        except OSError:
            continue
    return tuple(found)


def model_license(
    path: Path,
    inputs: LicenseInputs,
    *,
    root: Path | None = None,
    member: str | None = None,
    license_file: LicenseFile | None = None,
    override_file: Path | None = None,
) -> LicenseRecord:
    """The license record of the model at `path` (a .zip for `member`), most authoritative last.

    `root`: the collection root (files are searched from the model's folder up to it; only the
    model's folder when None). `license_file`: the collection-wide licenses file, whose rules
    covering the model are applied in order. `override_file`: the model's own override file
    (docs/overrides.md), whose `license:` section is applied last, so it wins; a mistake in it
    is a ConfigError naming the file and field.
    """
    record = collect_license(
        Path(path),
        root=root,
        vrm_meta=inputs.vrm_meta,
        comments=inputs.comments,
        zip_members=inputs.zip_members,
    )
    if inputs.problem is not None:
        record = replace(record, notes=(f"model not read ({inputs.problem})", *record.notes))
    if license_file is not None:
        record = license_file.apply(record, Path(path), member)
    if override_file is not None:
        section = override_file_license(Path(override_file))
        if section:
            record = apply_license_override(record, section, source=str(override_file))
    return record


def read_model_license(
    model: Model,
    path: Path,
    member: str | None = None,
    *,
    root: Path | None = None,
    license_file: LicenseFile | None = None,
    override_file: Path | None = None,
) -> LicenseRecord:
    """`model_license` of a model already read from `path` (and `member`): no caching, for the
    commands that read the model anyway (`inspect`, `rig check`, `rig survey`)."""
    inputs = license_inputs(model, member)
    return model_license(
        path, inputs, root=root, member=member, license_file=license_file, override_file=override_file
    )
