"""Which shards a split holds, how many samples each has and which images its samples carry.

Everything here comes from tar *headers* only (no image is read), so a trainer can check before
its first step that every shard has the images its stage needs: a THA3 stage that needs
`<key>.eyebrow_layer.png` says which shard lacks it in one line instead of failing mid-epoch.
"""

from __future__ import annotations

import json
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from thagen.errors import ConfigError, ThagenError


class DatasetError(ThagenError):
    """A split directory or shard is missing, empty or malformed."""


@dataclass(frozen=True)
class ShardInfo:
    """One shard: its path, sample count and the member names its samples have (`rest.png`, ...)."""

    path: Path
    count: int
    members: frozenset[str] = field(default=frozenset(), compare=False)


def scan_shard(path: Path) -> tuple[int, frozenset[str]]:
    """(number of samples, member names such as `rot.png`) from the tar headers alone."""
    keys: set[str] = set()
    members: set[str] = set()
    try:
        with tarfile.open(path, mode="r") as tar:
            for info in tar:
                if info.isfile():
                    head, _, tail = info.name.rpartition("/")
                    stem, _, ext = tail.partition(".")
                    keys.add(head + "/" + stem)
                    members.add(ext)
    except (tarfile.TarError, OSError) as exc:
        raise DatasetError(f"{path}: unreadable shard ({exc})") from exc
    return len(keys), frozenset(members)


def count_samples(path: Path) -> int:
    """Number of samples in a shard, from tar headers only (no image data is read)."""
    return scan_shard(path)[0]


def journalled_shards(root: Path) -> set[Path] | None:
    """Resolved paths of the shards named in `root/journal.jsonl`, or None without a journal."""
    journal = Path(root) / "journal.jsonl"
    if not journal.is_file():
        return None
    found: set[Path] = set()
    for line in journal.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a half-written last line from a killed run
        for rel in record.get("shards", []) if isinstance(record, dict) else []:
            found.add((Path(root) / rel).resolve())
    return found


def list_shards(split_dir: Path) -> list[ShardInfo]:
    """The complete shards of one split, sorted by name.

    When the dataset root has thagen's `journal.jsonl`, only shards of journalled (finished)
    characters count: a run that was killed and not yet resumed can hold complete shards of a
    character that is not done, and those would be rendered again on resume.
    """
    split_dir = Path(split_dir)
    if not split_dir.is_dir():
        raise DatasetError(f"{split_dir}: split directory not found")
    paths = sorted(split_dir.glob("*.tar"))
    finished = journalled_shards(split_dir.parent)
    if finished is not None:
        paths = [p for p in paths if p.resolve() in finished]
    if not paths:
        raise DatasetError(f"{split_dir}: no *.tar shards of finished characters in this split")
    return [ShardInfo(p, *scan_shard(p)) for p in paths]


def require_images(shards: Iterable[ShardInfo], images: Iterable[str], *, needed_by: str, hint: str) -> None:
    """Raise a one-line DatasetError naming the first shard that lacks one of `images` (PNG names
    without `.png`); `needed_by` says who needs them and `hint` how to get them."""
    shards = list(shards)
    for name in images:
        lacking = [s for s in shards if f"{name}.png" not in s.members]
        if lacking:
            others = f" (and {len(lacking) - 1} more shards)" if len(lacking) > 1 else ""
            raise DatasetError(
                f"{lacking[0].path}: has no {name}.png images{others}; {needed_by} needs <key>.{name}.png ({hint})"
            )


def eval_split_dir(
    checkpoints_dir: Path, config: dict, data_dir: Path | None, split: str
) -> tuple[Path, Path]:
    """(data folder, the split's folder in it): --data, else the data_dir the checkpoints were
    trained on; the split under the name the training config gave it. Both evaluators use it."""
    if data_dir is None:
        recorded = config.get("data_dir")
        if not recorded:
            raise ConfigError(f"{checkpoints_dir}: the checkpoints do not record a data_dir; pass --data DIR")
        data_dir = Path(recorded)
    split_name = (config.get("splits") or {}).get(split, split)
    return Path(data_dir), Path(data_dir) / split_name
