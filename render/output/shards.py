"""Training shards: WebDataset-layout tar files, written so that a crash never leaves a bad one.

A shard is written under `<name>.tmp-<pid>` and renamed into place only after the tar is
closed and fsynced, so any `*.tar` in an output directory is complete. The format is
documented in docs/dataset-format.md; the trainer (`thagen.train.data`) reads it.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from thagen.files import fsync_dir

SAMPLE_PARTS = ("rest.png", "expr.png", "rot.png", "pose.json")
POSE_NAMES = ("left_eye", "right_eye", "mouth", "head_x", "head_y", "neck_z")
FORMAT_VERSION = 1


def sample_key(character_id: str, index: int) -> str:
    """`<character>/<index>`: the WebDataset key of one sample (no dots, so the key is unambiguous)."""
    if "." in character_id or "/" in character_id:
        raise ValueError(f"character id {character_id!r} must not contain '.' or '/'")
    return f"{character_id}/{index:06d}"


@dataclass
class Sample:
    """One training sample: the three PNGs (encoded bytes), any extra images and the pose record."""

    key: str
    rest_png: bytes
    expr_png: bytes
    rot_png: bytes
    pose: dict = field(default_factory=dict)
    extra: dict[str, bytes] = field(default_factory=dict)  # the manifest's extra images, by name

    def members(self) -> list[tuple[str, bytes]]:
        pose_json = json.dumps(self.pose, sort_keys=True, separators=(",", ":")).encode()
        return [
            (f"{self.key}.rest.png", self.rest_png),
            (f"{self.key}.expr.png", self.expr_png),
            (f"{self.key}.rot.png", self.rot_png),
            *((f"{self.key}.{name}.png", png) for name, png in self.extra.items()),
            (f"{self.key}.pose.json", pose_json),
        ]


class ShardWriter:
    """Writes one tar shard atomically: nothing appears at `path` until `close()` succeeds.

    Member mtimes, owners and order are fixed, so the same samples give byte-identical shards.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp_path = self.path.with_name(f"{self.path.name}.tmp-{os.getpid()}")
        self._file = open(self.tmp_path, "wb")
        self._tar = tarfile.open(fileobj=self._file, mode="w", format=tarfile.USTAR_FORMAT)
        self.count = 0
        self._closed = False

    def add(self, sample: Sample) -> None:
        for name, data in sample.members():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0
            info.mode = 0o644
            self._tar.addfile(info, io.BytesIO(data))
        self.count += 1

    def close(self) -> Path:
        """Finish the tar, fsync it and rename it into place; returns the final path."""
        if self._closed:
            return self.path
        self._tar.close()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self.tmp_path, self.path)
        fsync_dir(self.path.parent)
        self._closed = True
        return self.path

    def abort(self) -> None:
        """Drop an unfinished shard (its temporary file) without touching any finished one."""
        if self._closed:
            return
        try:
            self._tar.close()
            self._file.close()
        finally:
            self.tmp_path.unlink(missing_ok=True)
            self._closed = True

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def iter_shard(path: Path) -> Iterator[dict[str, bytes | str]]:
    """Yield the samples of one shard as {"__key__": key, "rest.png": bytes, ...} dicts.

    Members are grouped by key in file order (the WebDataset convention); an incomplete sample
    (a part missing) raises ValueError naming the shard and key.
    """
    current: dict[str, bytes | str] | None = None
    with tarfile.open(path, mode="r") as tar:
        for info in tar:
            if not info.isfile():
                continue
            base = info.name.rsplit("/", 1)
            stem, _, ext = base[-1].partition(".")
            key = (base[0] + "/" + stem) if len(base) == 2 else stem
            f = tar.extractfile(info)
            data = f.read() if f is not None else b""
            if current is None or current["__key__"] != key:
                if current is not None:
                    yield _checked(current, path)
                current = {"__key__": key}
            current[ext] = data
        if current is not None:
            yield _checked(current, path)


def _checked(sample: dict[str, bytes | str], path: Path) -> dict[str, bytes | str]:
    missing = [p for p in SAMPLE_PARTS if p not in sample]
    if missing:
        raise ValueError(f"{path}: sample {sample['__key__']!s} lacks {', '.join(missing)}")
    return sample
