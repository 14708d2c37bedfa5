"""`thagen merge OUT`: check that every character of the manifest is complete exactly once,
then write the final OUT/dataset.yaml and OUT/index.json.

Parts (and requeued parts, and Ray drivers) each keep their own journal; merge is the one
place that reads them all together. It trusts nothing it can check cheaply: each journalled
shard must exist, hold exactly its character's samples, and together a character's shards
must hold samples 0..n-1 once. index.json lists every shard with its split, path, sample
count and sha256, so a copy of the dataset can be verified without thagen.
"""

from __future__ import annotations

import collections
import contextlib
import fcntl
import hashlib
import json
import os
import tarfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from thagen.errors import ConfigError
from thagen.files import atomic_write_bytes
from thagen.render.output.jsonl import read_jsonl
from thagen.render.output.layout import INDEX_JSON, RUN_JSON, journal_files, part_of_file
from thagen.render.run.commit import pending_ids
from thagen.render.run.dataset_card import write_dataset_card
from thagen.render.run.dataset_yaml import read_failures, write_dataset_yaml
from thagen.render.settings import RunSettings

MERGE_LOCK = ".thagen-merge.lock"


@dataclass
class ShardEntry:
    split: str
    path: str
    samples: int
    sha256: str
    character: str
    excluded: bool = False


@dataclass
class MergeReport:
    out: Path
    characters: int = 0
    done: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # id -> reason
    missing: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    shards: list[ShardEntry] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.failed or self.missing or self.duplicates or self.problems)

    def text(self) -> str:
        if self.ok:
            samples = sum(s.samples for s in self.shards)
            return (
                f"thagen merge: {len(self.done)} characters complete, {len(self.shards)} shards, "
                f"{samples} samples -> {self.out / 'dataset.yaml'}, {self.out / INDEX_JSON}"
            )
        lines = [
            f"thagen merge: {self.out} is not complete: {len(self.done)}/{self.characters} characters done, "
            f"{len(self.failed)} failed, {len(self.missing)} missing"
        ]
        lines += [f"  failed: {cid}: {why}" for cid, why in sorted(self.failed.items())]
        lines += [f"  missing: {cid}" for cid in self.missing]
        lines += [f"  journalled more than once: {cid}" for cid in self.duplicates]
        lines += [f"  problem: {p}" for p in self.problems]
        lines.append(f"  see: thagen status {self.out}")
        return "\n".join(lines)


def load_run(out: Path) -> dict[str, Any]:
    path = Path(out) / RUN_JSON
    if not path.exists():
        raise ConfigError(
            f"{out}: no {RUN_JSON}; is this a thagen render output (thagen render --out {out})?"
        )
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: unreadable: {exc}") from exc


def journal_records(out: Path) -> list[tuple[str, dict[str, Any]]]:
    """(part label, record) of every journal line in OUT."""
    return [(part_of_file(p), r) for p in journal_files(out) for r in read_jsonl(p) if "id" in r]


def _check_shard(out: Path, rel: str, cid: str) -> tuple[ShardEntry | None, list[int], str | None]:
    path = out / rel
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        with tarfile.open(path, mode="r") as tar:
            keys = [m.name.split(".", 1)[0] for m in tar if m.isfile()]
    except (OSError, tarfile.TarError) as exc:
        return None, [], f"{rel}: unreadable ({exc})"
    indices: list[int] = []
    for key in dict.fromkeys(keys):
        owner, _, index = key.rpartition("/")
        if owner != cid or not index.isdigit():
            return None, [], f"{rel}: holds sample {key}, not one of {cid}'s"
        indices.append(int(index))
    parts = Path(rel).parts
    excluded = parts[0] == "excluded"
    entry = ShardEntry(
        parts[1] if excluded else parts[0], rel, len(indices), digest.hexdigest(), cid, excluded
    )
    return entry, indices, None


def check_output(out: Path) -> MergeReport:
    out = Path(out)
    run = load_run(out)
    wanted = [c["id"] for c in run.get("characters", [])]
    report = MergeReport(out=out, characters=len(wanted))
    records = journal_records(out)
    counts = collections.Counter(r["id"] for _, r in records)
    journal = {r["id"]: r for _, r in records}
    report.duplicates = sorted(cid for cid, n in counts.items() if n > 1)
    failures = read_failures(out)
    for cid in wanted:
        if cid not in journal:
            if cid in failures:
                f = failures[cid]
                report.failed[cid] = f"[{f.get('stage')}] {f.get('error_type')}: {f.get('message')}"
            else:
                report.missing.append(cid)
            continue
        rec = journal[cid]
        indices: list[int] = []
        for rel in rec.get("shards", []):
            entry, got, problem = _check_shard(out, rel, cid)
            if problem:
                report.problems.append(problem)
                continue
            assert entry is not None
            report.shards.append(entry)
            indices += got
        if sorted(indices) != list(range(int(rec.get("samples", 0)))):
            report.problems.append(
                f"{cid}: shards hold {len(indices)} samples, not 0..{int(rec.get('samples', 0)) - 1} once"
            )
        report.done.append(cid)
    extra = sorted(set(journal) - set(wanted))
    report.problems += [f"{cid}: journalled but not in the manifest ({RUN_JSON})" for cid in extra]
    report.problems += [
        f"{cid}: a re-render (--redo) was interrupted before its commit finished ({path}); "
        "the next `thagen render` of its part finishes it"
        for cid, path in sorted(pending_ids(out).items())
    ]
    report.shards.sort(key=lambda s: s.path)
    return report


def merge_output(
    out: Path, *, settings: RunSettings | None = None, manifest_dict: dict[str, Any] | None = None
) -> MergeReport:
    """check_output, and when everything is complete write dataset.yaml and index.json.

    One merge at a time per OUT (a lock): the last parts to finish may both try to merge.
    """
    out = Path(out)
    with merge_lock(out):
        return _merge(out, settings, manifest_dict)


@contextlib.contextmanager
def merge_lock(out: Path) -> Iterator[None]:
    fd = os.open(out / MERGE_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _merge(out: Path, settings: RunSettings | None, manifest_dict: dict[str, Any] | None) -> MergeReport:
    report = check_output(out)
    if not report.ok:
        return report
    run = load_run(out)
    journal = {r["id"]: r for _, r in journal_records(out)}
    blender = next((str(r["blender_version"]) for r in journal.values() if r.get("blender_version")), "")
    write_dataset_yaml(
        out,
        report.done,
        manifest_dict if manifest_dict is not None else run.get("manifest") or {},
        settings if settings is not None else run.get("settings") or {},
        blender_version=blender,
        identity=run.get("identity"),
    )
    index = {
        "format": 1,
        "characters": len(report.done),
        "samples": sum(s.samples for s in report.shards if not s.excluded),
        "shards": [asdict(s) for s in report.shards],
    }
    atomic_write_bytes(out / INDEX_JSON, (json.dumps(index, indent=1, sort_keys=True) + "\n").encode())
    write_dataset_card(out)  # OUT/README.md and OUT/CREDITS.md, from dataset.yaml and index.json
    return report
