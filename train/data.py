"""Streaming the renderer's tar shards into batches, with an exactly resumable order.

Why not `webdataset`: the shard format is plain tar (thagen.render.output.shards reads it in a few lines),
and exact resume needs control over which worker produces which batch, which is easier to get
from a small IterableDataset than from a pipeline library. No extra dependency either.

Each epoch:
1. The split's shards are permuted with a generator seeded by (seed, epoch).
2. The permuted list is dealt to the global workers (rank * workers + worker) round-robin, so no
   shard is read twice. With fewer shards than workers every worker reads every shard and keeps
   the samples whose running index modulo the worker count is its own: still no duplicates.
3. Each worker keeps `open_shards` shards open and draws the next sample from a random one (mixing
   characters: a shard holds one character), then passes samples through a shuffle buffer.
4. Each worker collates its own batches and tags them with its id. The main process consumes
   batches in a canonical order (round-robin over the workers that still have batches), which
   only depends on per-worker batch counts known in advance. A checkpoint stores (epoch, number
   of batches consumed); on resume each worker skips its already consumed batches *without
   decoding them*, so the rest of the epoch is exactly what an uninterrupted run would see.
"""

from __future__ import annotations

import json
import math
import tarfile
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from thagen.errors import ThagenError
from thagen.render.output.shards import POSE_NAMES, iter_shard
from thagen.train.images import decode_png_rgba8, scale_rgba8


class DatasetError(ThagenError):
    """A split directory or shard is missing, empty or malformed."""


@dataclass(frozen=True)
class ShardInfo:
    path: Path
    count: int


def count_samples(path: Path) -> int:
    """Number of samples in a shard, from tar headers only (no image data is read)."""
    keys = set()
    try:
        with tarfile.open(path, mode="r") as tar:
            for info in tar:
                if info.isfile():
                    name = info.name
                    head, _, tail = name.rpartition("/")
                    keys.add(head + "/" + tail.partition(".")[0])
    except (tarfile.TarError, OSError) as exc:
        raise DatasetError(f"{path}: unreadable shard ({exc})") from exc
    return len(keys)


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
    return [ShardInfo(p, count_samples(p)) for p in paths]


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


@dataclass(frozen=True)
class WorkerPlan:
    """What one global worker reads in one epoch."""

    shards: tuple[int, ...]  # indices into the split's shard list, in reading order
    stride: int  # 1: keep every sample; K>1: keep samples with running index % K == offset
    offset: int
    count: int  # samples this worker yields


def epoch_plans(
    shards: list[ShardInfo], *, seed: int, epoch: int, shuffle: bool, total_workers: int
) -> list[WorkerPlan]:
    """Deal one epoch's shards to `total_workers` workers without duplicates (see module doc)."""
    order = list(range(len(shards)))
    if shuffle:
        order = list(np.random.default_rng([seed, epoch, 0x5A]).permutation(len(shards)))
    if len(shards) >= total_workers:
        plans = []
        for g in range(total_workers):
            mine = tuple(int(i) for i in order[g::total_workers])
            plans.append(WorkerPlan(mine, 1, 0, sum(shards[i].count for i in mine)))
        return plans
    total = sum(s.count for s in shards)
    return [
        WorkerPlan(tuple(int(i) for i in order), total_workers, g, len(range(g, total, total_workers)))
        for g in range(total_workers)
    ]


def batch_counts(plans: list[WorkerPlan], batch_size: int, drop_last: bool) -> list[int]:
    if drop_last:
        return [p.count // batch_size for p in plans]
    return [math.ceil(p.count / batch_size) for p in plans]


def canonical_order(counts: list[int]) -> list[int]:
    """Worker id of each batch in consumption order: round-robin over workers with batches left."""
    left = list(counts)
    order: list[int] = []
    while any(left):
        for w, n in enumerate(left):
            if n:
                order.append(w)
                left[w] -= 1
    return order


def consumed_per_worker(order: list[int], consumed: int, workers: int) -> list[int]:
    done = [0] * workers
    for w in order[:consumed]:
        done[w] += 1
    return done


def parse_pose(raw: bytes, where: str) -> tuple[np.ndarray, str]:
    """pose.json -> (6-vector in POSE_NAMES order, character id)."""
    try:
        rec = json.loads(raw)
        pose = rec["pose"]
        vec = np.array([float(pose[n]) for n in POSE_NAMES], dtype=np.float32)
        character = str(rec.get("character", where.split("/")[0]))
    except (ValueError, KeyError, TypeError) as exc:
        raise DatasetError(
            f"{where}: bad pose.json ({exc!r}); needs pose.{{{', '.join(POSE_NAMES)}}}"
        ) from exc
    return vec, character


class ShardStream(IterableDataset):
    """Yields collated, worker-tagged batches from a split's shards (see module doc)."""

    def __init__(
        self,
        shards: list[ShardInfo],
        *,
        batch_size: int,
        image_size: int,
        seed: int,
        epoch: int,
        shuffle: bool = True,
        shuffle_buffer: int = 256,
        open_shards: int = 4,
        drop_last: bool = False,
        num_workers: int = 0,
        rank: int = 0,
        world_size: int = 1,
        skip_batches: list[int] | None = None,
    ) -> None:
        super().__init__()
        self.shards = shards
        self.batch_size = batch_size
        self.image_size = image_size
        self.seed = seed
        self.epoch = epoch
        self.shuffle = shuffle
        self.shuffle_buffer = max(1, shuffle_buffer) if shuffle else 1
        self.open_shards = max(1, open_shards) if shuffle else 1
        self.drop_last = drop_last
        self.local_workers = max(1, num_workers)
        self.rank = rank
        self.world_size = world_size
        self.skip_batches = skip_batches or [0] * self.local_workers

    def plans(self) -> list[WorkerPlan]:
        """This rank's local worker plans."""
        total = self.local_workers * self.world_size
        every = epoch_plans(
            self.shards, seed=self.seed, epoch=self.epoch, shuffle=self.shuffle, total_workers=total
        )
        return every[self.rank * self.local_workers : (self.rank + 1) * self.local_workers]

    def _raw_samples(self, plan: WorkerPlan, rng: np.random.Generator) -> Iterator[dict]:
        """Samples of the worker's shards, interleaving up to `open_shards` shards at random.

        When workers share shards (stride > 1) they must all see the same interleaved sequence,
        so the interleaving then uses a generator common to all of them.
        """
        if plan.stride > 1:
            rng = np.random.default_rng([self.seed, self.epoch, 0x1E])
        pending = deque(plan.shards)
        live: list[Iterator[dict]] = []
        running = 0
        while pending or live:
            while pending and len(live) < self.open_shards:
                path = self.shards[pending.popleft()].path
                live.append(iter_shard_checked(path))
            j = int(rng.integers(len(live))) if len(live) > 1 else 0
            try:
                sample = next(live[j])
            except StopIteration:
                live.pop(j)
                continue
            if running % plan.stride == plan.offset:
                yield sample
            running += 1

    def _shuffled(self, samples: Iterator[dict], rng: np.random.Generator) -> Iterator[dict]:
        if self.shuffle_buffer <= 1:
            yield from samples
            return
        buf: list[dict] = []
        for s in samples:
            if len(buf) < self.shuffle_buffer:
                buf.append(s)
                continue
            j = int(rng.integers(len(buf)))
            buf[j], s = s, buf[j]
            yield s
        for j in rng.permutation(len(buf)):
            yield buf[int(j)]

    def _collate(self, raws: list[dict]) -> dict:
        """Images stay uint8 (B, 4, H, W) here; `thagen.train.images.to_network` converts them."""
        size = self.image_size
        out: dict = {k: [] for k in ("rest", "expr", "rot", "pose", "key", "character")}
        for r in raws:
            where = f"{r['__shard__']}: {r['__key__']}"
            native = None  # the sample's own size: all three images must share it
            for part in ("rest", "expr", "rot"):
                at = f"{where}.{part}.png"
                rgba = decode_png_rgba8(r[f"{part}.png"], where=at, size=native)
                native = native or rgba.shape[0]
                rgba = scale_rgba8(rgba, size, where=at)
                out[part].append(rgba.transpose(2, 0, 1))
            vec, character = parse_pose(r["pose.json"], where)
            out["pose"].append(vec)
            out["key"].append(str(r["__key__"]))
            out["character"].append(character)
        batch = {k: torch.from_numpy(np.stack(out[k])) for k in ("rest", "expr", "rot", "pose")}
        batch["key"] = out["key"]
        batch["character"] = out["character"]
        return batch

    def __iter__(self) -> Iterator[dict]:
        info = get_worker_info()
        w = info.id if info is not None else 0
        if info is not None and info.num_workers != self.local_workers:
            raise RuntimeError(
                f"ShardStream built for {self.local_workers} workers, run with {info.num_workers}"
            )
        plan = self.plans()[w]
        g = self.rank * self.local_workers + w
        rng = np.random.default_rng([self.seed, self.epoch, g, 0xB0])
        skip = self.skip_batches[w] * self.batch_size
        group: list[dict] = []
        seq = 0
        for i, raw in enumerate(self._shuffled(self._raw_samples(plan, rng), rng)):
            if i < skip:  # already consumed before a resume: keep the RNG stream, skip decoding
                if (i + 1) % self.batch_size == 0:
                    seq += 1
                continue
            group.append(raw)
            if len(group) == self.batch_size:
                yield {**self._collate(group), "worker": w, "seq": seq}
                group, seq = [], seq + 1
        if group and not self.drop_last:
            yield {**self._collate(group), "worker": w, "seq": seq}


def iter_shard_checked(path: Path) -> Iterator[dict]:
    """`iter_shard` with the shard's name attached and errors as DatasetError."""
    try:
        for s in iter_shard(path):
            s["__shard__"] = path.name
            yield s
    except (ValueError, tarfile.TarError, OSError) as exc:
        raise DatasetError(f"{path}: {exc}") from exc


class EpochBatches:
    """One epoch of batches in canonical order, starting after `start` consumed batches."""

    def __init__(
        self,
        shards: list[ShardInfo],
        *,
        batch_size: int,
        image_size: int,
        seed: int,
        epoch: int,
        start: int = 0,
        shuffle: bool = True,
        shuffle_buffer: int = 256,
        open_shards: int = 4,
        drop_last: bool = False,
        num_workers: int = 0,
        rank: int = 0,
        world_size: int = 1,
        pin_memory: bool = False,
    ) -> None:
        self.workers = max(1, num_workers)
        probe = ShardStream(
            shards, batch_size=batch_size, image_size=image_size, seed=seed, epoch=epoch, shuffle=shuffle,
            num_workers=num_workers, rank=rank, world_size=world_size,
        )  # fmt: skip
        self.counts = batch_counts(probe.plans(), batch_size, drop_last)
        self.order = canonical_order(self.counts)
        self.start = min(start, len(self.order))
        self.dataset = ShardStream(
            shards, batch_size=batch_size, image_size=image_size, seed=seed, epoch=epoch, shuffle=shuffle,
            shuffle_buffer=shuffle_buffer, open_shards=open_shards, drop_last=drop_last,
            num_workers=num_workers, rank=rank, world_size=world_size,
            skip_batches=consumed_per_worker(self.order, self.start, self.workers),
        )  # fmt: skip
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.seed = seed
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.order) - self.start

    @property
    def total(self) -> int:
        return len(self.order)

    def __iter__(self) -> Iterator[dict]:
        if len(self) == 0:
            return
        loader = DataLoader(
            self.dataset,
            batch_size=None,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            # its own generator, so iterating never touches the global torch RNG
            generator=torch.Generator().manual_seed(self.seed * 1009 + self.epoch),
            prefetch_factor=2 if self.num_workers else None,
        )
        stash: dict[int, deque] = {w: deque() for w in range(self.workers)}
        it = iter(loader)
        for w in self.order[self.start :]:
            while not stash[w]:
                try:
                    b = next(it)
                except StopIteration:
                    raise DatasetError(
                        f"epoch {self.epoch}: the shards ran out early (changed on disk?)"
                    ) from None
                stash[b["worker"]].append(b)
            yield stash[w].popleft()
