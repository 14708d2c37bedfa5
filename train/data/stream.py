"""Streaming the renderer's tar shards into batches, with an exactly resumable order.

Why not `webdataset`: the shard format is plain tar (thagen.render.output.shards reads it in a
few lines), and exact resume needs control over which worker produces which batch, which is
easier to get from a small IterableDataset than from a pipeline library. No extra dependency.

Each epoch:
1. The split's shards are permuted with a generator seeded by (seed, epoch).
2. The permuted list is dealt to the global workers (rank * workers + worker) round-robin, so no
   shard is read twice. With fewer shards than workers every worker reads every shard and keeps
   the samples whose running index modulo the worker count is its own: still no duplicates.
3. Mixing. A shard holds one character, so reading shards one after another gives batches in
   character blocks. Each worker keeps `open_shards` shards open (many: 32 by default) and
   draws each next sample from one of them with probability proportional to the samples it has
   left, so the open shards drain together and every stretch of the stream interleaves all of
   them; a shard that runs out is replaced by the next one. A shuffle buffer then shuffles
   across that window. `character_coverage` measures the result (characters per batch).
4. Each worker collates its own batches and tags them with its id. The main process consumes
   batches in a canonical order (round-robin over the workers that still have batches), which
   only depends on per-worker batch counts known in advance. A checkpoint stores (epoch, number
   of batches consumed); on resume each worker replays its random draws and skips its consumed
   batches *without decoding them*, so the rest of the epoch is exactly what an uninterrupted
   run would see.
"""

from __future__ import annotations

import math
import tarfile
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from thagen.render.output.shards import iter_shard
from thagen.train.data.samples import THA1_FORMAT, RawSample, SampleFormat, collate, parse_pose
from thagen.train.data.shard_index import (
    DatasetError,
    ShardInfo,
    count_samples,
    journalled_shards,
    list_shards,
    require_images,
)

# Bumped when the sample order for a given (seed, epoch, setup) changes, so that a checkpoint
# written by an older loader is refused on resume instead of silently continuing differently.
LOADER_ORDER_VERSION = 2

__all__ = [
    "LOADER_ORDER_VERSION",
    "DatasetError",
    "EpochBatches",
    "SampleFormat",
    "ShardInfo",
    "ShardStream",
    "WorkerPlan",
    "batch_counts",
    "canonical_order",
    "character_coverage",
    "count_samples",
    "epoch_plans",
    "journalled_shards",
    "list_shards",
    "parse_pose",
    "require_images",
]


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
        open_shards: int = 32,
        drop_last: bool = False,
        num_workers: int = 0,
        rank: int = 0,
        world_size: int = 1,
        skip_batches: list[int] | None = None,
        sample_format: SampleFormat = THA1_FORMAT,
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
        self.sample_format = sample_format

    def plans(self) -> list[WorkerPlan]:
        """This rank's local worker plans."""
        total = self.local_workers * self.world_size
        every = epoch_plans(
            self.shards, seed=self.seed, epoch=self.epoch, shuffle=self.shuffle, total_workers=total
        )
        return every[self.rank * self.local_workers : (self.rank + 1) * self.local_workers]

    def _raw_samples(self, plan: WorkerPlan, rng: np.random.Generator) -> Iterator[RawSample]:
        """Samples of the worker's shards, `open_shards` at a time, each next sample drawn from an
        open shard with probability proportional to the samples it has left.

        When workers share shards (stride > 1) they must all see the same interleaved sequence,
        so the interleaving then uses a generator common to all of them.
        """
        if plan.stride > 1:
            rng = np.random.default_rng([self.seed, self.epoch, 0x1E])
        pending = deque(plan.shards)
        live: list[Iterator[RawSample]] = []
        left: list[int] = []
        running = 0
        while pending or live:
            while pending and len(live) < self.open_shards:
                info = self.shards[pending.popleft()]
                live.append(iter_shard_checked(info.path))
                left.append(max(1, info.count))
            j = 0
            if len(live) > 1:
                j = int(np.searchsorted(np.cumsum(left), rng.integers(sum(left)), side="right"))
            sample = next(live[j], None)
            left[j] -= 1
            if sample is None or left[j] <= 0:  # drained (the header count says so)
                live.pop(j)
                left.pop(j)
                if sample is None:
                    continue
            if running % plan.stride == plan.offset:
                yield sample
            running += 1

    def _shuffled(self, samples: Iterator[RawSample], rng: np.random.Generator) -> Iterator[RawSample]:
        if self.shuffle_buffer <= 1:
            yield from samples
            return
        buf: list[RawSample] = []
        for s in samples:
            if len(buf) < self.shuffle_buffer:
                buf.append(s)
                continue
            j = int(rng.integers(len(buf)))
            buf[j], s = s, buf[j]
            yield s
        for j in rng.permutation(len(buf)):
            yield buf[int(j)]

    def raw_batches(self, w: int, skip: int = 0) -> Iterator[tuple[int, list[RawSample] | None]]:
        """(sequence number, raw samples) of local worker `w`'s batches; the first `skip` come as
        (seq, None): their random draws are replayed but nothing is kept."""
        plan = self.plans()[w]
        g = self.rank * self.local_workers + w
        rng = np.random.default_rng([self.seed, self.epoch, g, 0xB0])
        group: list[RawSample] = []
        seq = 0
        for i, raw in enumerate(self._shuffled(self._raw_samples(plan, rng), rng)):
            if i < skip * self.batch_size:  # consumed before a resume: keep the RNG stream only
                if (i + 1) % self.batch_size == 0:
                    yield seq, None
                    seq += 1
                continue
            group.append(raw)
            if len(group) == self.batch_size:
                yield seq, group
                group, seq = [], seq + 1
        if group and not self.drop_last:
            yield seq, group

    def __iter__(self) -> Iterator[dict]:
        info = get_worker_info()
        w = info.id if info is not None else 0
        if info is not None and info.num_workers != self.local_workers:
            raise RuntimeError(
                f"ShardStream built for {self.local_workers} workers, run with {info.num_workers}"
            )
        for seq, group in self.raw_batches(w, self.skip_batches[w]):
            if group is not None:
                yield {**collate(group, self.sample_format, self.image_size), "worker": w, "seq": seq}


def iter_shard_checked(path: Path) -> Iterator[RawSample]:
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
        open_shards: int = 32,
        drop_last: bool = False,
        num_workers: int = 0,
        rank: int = 0,
        world_size: int = 1,
        pin_memory: bool = False,
        sample_format: SampleFormat = THA1_FORMAT,
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
            sample_format=sample_format,
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

    def character_batches(self, limit: int | None = None) -> Iterator[list[str]]:
        """The characters of each batch, in training order, read from the keys alone (the tar
        members are read, no image is decoded): what `character_coverage` counts."""
        streams = [self.dataset.raw_batches(w) for w in range(self.workers)]
        for n, w in enumerate(self.order):
            if limit is not None and n >= limit:
                return
            _, group = next(streams[w])
            assert group is not None
            yield [str(r["__key__"]).split("/")[0] for r in group]


@dataclass(frozen=True)
class Coverage:
    """How well an epoch's first batches mix characters."""

    batches: int
    characters_total: int  # characters in the split
    characters_seen: int  # distinct characters in the first `batches` batches
    mean_per_batch: float  # distinct characters in one batch, averaged over those batches
    first_seen: tuple[int, ...]  # characters seen after 1, 2, ... batches


def character_coverage(
    shards: list[ShardInfo],
    *,
    batches: int,
    batch_size: int,
    seed: int = 0,
    epoch: int = 0,
    open_shards: int = 32,
    shuffle_buffer: int = 256,
    num_workers: int = 0,
) -> Coverage:
    """Characters covered by the first `batches` batches of an epoch, as the trainer would see
    them with these loader settings (a character is a key's prefix, `<character_id>/<index>`)."""
    epoch_batches = EpochBatches(
        shards, batch_size=batch_size, image_size=8, seed=seed, epoch=epoch, open_shards=open_shards,
        shuffle_buffer=shuffle_buffer, num_workers=num_workers,
    )  # fmt: skip
    seen: set[str] = set()
    growth: list[int] = []
    per_batch: list[int] = []
    for chars in epoch_batches.character_batches(batches):
        seen.update(chars)
        growth.append(len(seen))
        per_batch.append(len(set(chars)))
    every = {s.path.name.removesuffix(".tar").rsplit("-", 1)[0] for s in shards}
    return Coverage(
        batches=len(growth),
        characters_total=len(every),
        characters_seen=len(seen),
        mean_per_batch=sum(per_batch) / max(1, len(per_batch)),
        first_seen=tuple(growth),
    )
