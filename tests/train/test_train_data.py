"""Shard streaming: coverage without duplicates, shuffling, exact mid-epoch restart, bad data."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from thagen.render.output.shards import Sample, ShardWriter
from thagen.train.data import DatasetError, EpochBatches, ShardStream, epoch_plans, list_shards
from thagen.train.data.images import ImageInputError, to_network
from thagen.train.data.synthetic import synthetic_samples, write_split

SIZE = 16


@pytest.fixture(scope="module")
def split(tmp_path_factory) -> Path:
    """3 characters x 10 samples in shards of 4 (sizes 4, 4, 2): 9 shards, 30 samples."""
    d = tmp_path_factory.mktemp("data") / "train"
    for c in range(3):
        write_split(d, synthetic_samples(c, 10, SIZE), f"char{c}", per_shard=4)
    return d


def keys(batches) -> list[str]:
    return [k for b in batches for k in b["key"]]


def epoch(split: Path, **kw) -> EpochBatches:
    args = {"batch_size": 3, "image_size": SIZE, "seed": 7, "epoch": 0, "num_workers": 0, "shuffle_buffer": 5}
    return EpochBatches(list_shards(split), **{**args, **kw})


def test_list_shards_counts_samples(split: Path) -> None:
    shards = list_shards(split)
    assert len(shards) == 9
    assert sum(s.count for s in shards) == 30
    assert sorted(s.count for s in shards) == [2, 2, 2, 4, 4, 4, 4, 4, 4]


def test_only_journalled_characters_are_read(tmp_path: Path) -> None:
    """A killed, not yet resumed render can leave complete shards of an unfinished character."""
    import json

    root = tmp_path / "out"
    done = write_split(root / "train", synthetic_samples(0, 4, SIZE), "done", per_shard=4)
    write_split(root / "train", synthetic_samples(1, 4, SIZE), "unfinished", per_shard=4)
    assert len(list_shards(root / "train")) == 2  # no journal yet: every complete shard
    record = {"id": "done", "shards": [p.relative_to(root).as_posix() for p in done]}
    (root / "journal.jsonl").write_text(json.dumps(record) + "\n" + '{"id": "half-writ')
    assert [s.path.name for s in list_shards(root / "train")] == ["done-0000.tar"]


@pytest.mark.parametrize("workers", [0, 2])
def test_every_sample_once_per_epoch(split: Path, workers: int) -> None:
    got = keys(epoch(split, num_workers=workers))
    assert len(got) == 30 and len(set(got)) == 30


def test_batches_decode_to_tensors(split: Path) -> None:
    b = next(iter(epoch(split)))
    assert b["rest"].shape == b["expr"].shape == b["rot"].shape == (3, 4, SIZE, SIZE)
    assert b["pose"].shape == (3, 6)
    assert b["rot"].dtype == torch.uint8  # converted on the training device (to_network)
    x = to_network(b["rot"])
    assert float(x.min()) == -1.0 and float(x.max()) <= 1
    assert all(c.startswith("char") for c in b["character"])


def test_shuffle_is_seeded_and_changes_per_epoch(split: Path) -> None:
    e0 = keys(epoch(split))
    assert e0 == keys(epoch(split))
    assert e0 != keys(epoch(split, epoch=1))
    assert e0 != keys(epoch(split, seed=8))
    assert keys(epoch(split, shuffle=False))[:4] == [f"char0/{i:06d}" for i in range(4)]
    # characters are mixed: the first 9 samples are not all one character
    assert len({k.split("/")[0] for k in e0[:9]}) > 1


@pytest.mark.parametrize("total", [2, 4, 12])
def test_workers_and_ranks_split_without_duplicates(split: Path, total: int) -> None:
    """Shard-level dealing (9 shards >= 2, 4 workers) or sample-level (12 workers > 9 shards)."""
    shards = list_shards(split)
    plans = epoch_plans(shards, seed=1, epoch=3, shuffle=True, total_workers=total)
    assert sum(p.count for p in plans) == 30
    if total <= len(shards):
        dealt = [i for p in plans for i in p.shards]
        assert sorted(dealt) == list(range(9))
    else:
        assert all(p.stride == total for p in plans)


def test_more_workers_than_shards_still_covers_each_sample_once(split: Path) -> None:
    """12 ranks x 1 worker over 9 shards: every stream reads all shards, keeps its own 1/12."""
    got = []
    for rank in range(12):
        stream = ShardStream(
            list_shards(split),
            batch_size=2,
            image_size=SIZE,
            seed=3,
            epoch=1,
            shuffle_buffer=3,
            rank=rank,
            world_size=12,
        )
        got += [k for b in stream for k in b["key"]]
    assert len(got) == 30 and len(set(got)) == 30


def test_ranks_see_disjoint_samples(split: Path) -> None:
    seen = []
    for rank in range(2):
        b = EpochBatches(
            list_shards(split),
            batch_size=4,
            image_size=SIZE,
            seed=3,
            epoch=0,
            num_workers=2,
            rank=rank,
            world_size=2,
        )
        seen.append(set(keys(b)))
    assert not seen[0] & seen[1]
    assert len(seen[0] | seen[1]) == 30


@pytest.mark.parametrize("workers", [0, 2])
def test_restart_mid_epoch_continues_exactly(split: Path, workers: int) -> None:
    full = list(epoch(split, num_workers=workers))
    start = 4
    tail = list(epoch(split, num_workers=workers, start=start))
    assert len(tail) == len(full) - start
    assert keys(tail) == keys(full[start:])
    assert np.array_equal(tail[0]["rot"].numpy(), full[start]["rot"].numpy())


def _png(size: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGBA", (size, size), (10, 20, 30, 255)).save(buf, format="PNG")
    return buf.getvalue()


def test_wrong_image_size_names_shard_and_key(tmp_path: Path) -> None:
    pose = {"pose": dict.fromkeys(("left_eye", "right_eye", "mouth", "head_x", "head_y", "neck_z"), 0.0)}
    with ShardWriter(tmp_path / "train" / "c-0000.tar") as w:
        w.add(Sample("c/000000", _png(SIZE), _png(SIZE), _png(SIZE + 8), pose))
    with pytest.raises(ImageInputError, match=r"c-0000\.tar: c/000000\.rot\.png.*24x24, expected 16x16"):
        list(epoch(tmp_path / "train"))


def test_bad_pose_json_and_missing_split(tmp_path: Path) -> None:
    with ShardWriter(tmp_path / "train" / "c-0000.tar") as w:
        w.add(Sample("c/000000", _png(SIZE), _png(SIZE), _png(SIZE), {"pose": {"left_eye": 0.1}}))
    with pytest.raises(DatasetError, match=r"c/000000: bad pose.json"):
        list(epoch(tmp_path / "train"))
    with pytest.raises(DatasetError, match="split directory not found"):
        list_shards(tmp_path / "val")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no \\*.tar shards"):
        list_shards(tmp_path / "empty")
