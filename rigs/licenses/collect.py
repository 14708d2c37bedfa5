"""Collecting one model's license: every source read, bounded, and merged into a record.

The order of sources is the order of authority for text fields (author, credit line, license
URL): the VRM meta (the model's own declaration), the PMX/PMD header comments, the text members
of the model's folder inside a zip, then files beside the model, nearest folder first. For
permissions the order does not matter: any forbid wins (see `merge`).

Nothing here raises on bad input: an unreadable, binary or oversized file becomes a note in the
record, since one stranger's broken readme must not stop a collection of thousands of models.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from thagen.rigs.licenses.decode import MAX_READ_BYTES, clip_text, decode_bytes, read_head
from thagen.rigs.licenses.files import MAX_FILES, find_license_files, is_model_folder_text, is_readable_suffix
from thagen.rigs.licenses.interpret import interpret_text, url_findings
from thagen.rigs.licenses.merge import build_record
from thagen.rigs.licenses.records import Finding, LicenseRecord, SourceText
from thagen.rigs.licenses.vrm_meta import SOURCE as VRM_SOURCE
from thagen.rigs.licenses.vrm_meta import vrm_meta_findings

PMX_COMMENT_SOURCE = "pmx comment"
MAX_TOTAL_BYTES = 2 * 1024 * 1024
"""Files and zip members are read for one model until this many bytes have been read."""


class _Collection:
    """Findings, sources, URLs and notes gathered so far for one model."""

    def __init__(self) -> None:
        self.findings: list[Finding] = []
        self.sources: list[SourceText] = []
        self.urls: list[str] = []
        self.notes: list[str] = []
        self.bytes_read = 0

    def add_text(
        self, text: str, source: str, kind: str, *, size: int, encoding: str | None, truncated: bool
    ) -> None:
        reading = interpret_text(text, source)
        self.findings.extend(reading.findings)
        self.urls.extend(reading.urls)
        kept, clipped = clip_text(text)
        self.sources.append(SourceText(source, kind, size, encoding, kept, truncated or clipped))

    def add_bytes(self, data: bytes, source: str, kind: str, *, size: int, truncated: bool) -> None:
        self.bytes_read += len(data)
        decoded = decode_bytes(data, truncated=truncated)
        if decoded.text is None:
            self.sources.append(SourceText(source, kind, size, None, "", truncated, decoded.note))
            self.notes.append(f"{source}: {decoded.note}")
            return
        reading = interpret_text(decoded.text, source)
        self.findings.extend(reading.findings)
        self.urls.extend(reading.urls)
        kept, clipped = clip_text(decoded.text)
        note = decoded.note
        if truncated:
            note = "; ".join(filter(None, [note, f"only the first {MAX_READ_BYTES} bytes read"]))
        if note:
            self.notes.append(f"{source}: {note}")
        self.sources.append(
            SourceText(source, kind, size, decoded.encoding, kept, truncated or clipped, note)
        )

    def add_vrm_meta(self, meta: Mapping[str, Any]) -> None:
        findings = vrm_meta_findings(meta)
        self.findings.extend(findings)
        try:
            text = json.dumps(meta, ensure_ascii=False, sort_keys=True, default=str)
        except (TypeError, ValueError):  # keys of mixed types cannot be sorted
            text = repr(meta)[:MAX_READ_BYTES]
        kept, clipped = clip_text(text)
        self.sources.append(
            SourceText(VRM_SOURCE, "vrm meta", len(text.encode("utf-8")), "json", kept, clipped)
        )
        for finding in findings:
            if finding.field == "license_url" and finding.value not in self.urls:
                self.urls.append(finding.value)


def _zip_source(model_path: Path, root: Path | None) -> str:
    if root is not None:
        real, real_root = Path(os.path.realpath(model_path)), Path(os.path.realpath(root))
        if real.is_relative_to(real_root):
            return real.relative_to(real_root).as_posix()
    return model_path.name


def collect_license(
    model_path: Path,
    *,
    root: Path | None = None,
    vrm_meta: Mapping[str, Any] | None = None,
    comments: Sequence[str] = (),
    zip_members: Sequence[tuple[str, bytes]] | None = None,
) -> LicenseRecord:
    """Everything `model_path`'s sources say about its license, merged conservatively.

    `root`: the collection root; files are searched from the model's folder up to it (only the
    model's folder without it), never above. `vrm_meta`: the parsed VRM meta dict (0.x or 1.0;
    `vrm_meta.meta_from_gltf` finds it in a glTF JSON). `comments`: the PMX/PMD header comments
    (Japanese, English). `zip_members`: for a model inside a zip (then `model_path` is the zip),
    (member name, bytes) of the text members of the model's folder in it.
    """
    model_path = Path(model_path)
    collection = _Collection()
    if vrm_meta is not None:
        if isinstance(vrm_meta, Mapping):
            collection.add_vrm_meta(vrm_meta)
        else:
            collection.notes.append(f"vrm meta: not a mapping ({type(vrm_meta).__name__}), ignored")
    comment_texts = [comment for comment in comments if isinstance(comment, str) and comment.strip()]
    for index, comment in enumerate(comment_texts):
        source = PMX_COMMENT_SOURCE if index == 0 else f"{PMX_COMMENT_SOURCE} {index + 1}"
        size = len(comment.encode("utf-8", errors="replace"))
        clipped = comment[:MAX_READ_BYTES]
        collection.add_text(
            clipped, source, "pmx comment", size=size, encoding=None, truncated=len(clipped) < len(comment)
        )
    if zip_members:
        _add_zip_members(collection, zip_members, _zip_source(model_path, root))
    search = find_license_files(model_path, root)
    collection.notes.extend(search.notes)
    for found in search.files:
        if collection.bytes_read >= MAX_TOTAL_BYTES:
            collection.notes.append(
                f"{found.shown}: not read (more than {MAX_TOTAL_BYTES} bytes already read)"
            )
            continue
        try:
            head = read_head(found.path)
        except OSError as exc:
            collection.notes.append(f"{found.shown}: cannot read ({exc.strerror or exc})")
            continue
        collection.add_bytes(head.data, found.shown, "file", size=head.size, truncated=head.truncated)
    return build_record(
        collection.findings, sources=collection.sources, urls=collection.urls, notes=collection.notes
    )


def _add_zip_members(collection: _Collection, members: Sequence[tuple[str, bytes]], zip_name: str) -> None:
    count = 0
    for name, data in members:
        if not isinstance(name, str) or not isinstance(data, bytes | bytearray):
            continue
        if not is_model_folder_text(name):
            continue
        source = f"{zip_name}:{name}"
        if not is_readable_suffix(name):
            collection.notes.append(f"{source}: not a text file, not read")
            continue
        if count >= MAX_FILES or collection.bytes_read >= MAX_TOTAL_BYTES:
            collection.notes.append(f"{source} and later zip members: not read (read bounds reached)")
            return
        count += 1
        head = bytes(data[:MAX_READ_BYTES])
        collection.add_bytes(head, source, "zip member", size=len(data), truncated=len(data) > len(head))


def collect_url(url: str, source: str = "url") -> LicenseRecord:
    """A record from one license URL alone (VRoid Hub conditions or a CC deed)."""
    return build_record(url_findings(url, source, None), urls=[url])
