"""Sample mixing: an epoch's first batches cover many characters, and resume stays exact."""

from __future__ import annotations

from pathlib import Path

import pytest

from thagen.train.data import EpochBatches, character_coverage, list_shards
from thagen.train.data.synthetic import synthetic_samples, write_split

SIZE = 8


@pytest.fixture(scope="module")
def split(tmp_path_factory) -> Path:
    """16 characters x 30 samples, one shard each (thagen writes one character per shard)."""
    d = tmp_path_factory.mktemp("mix") / "train"
    for c in range(16):
        write_split(d, synthetic_samples(c, 30, SIZE), f"char{c:02d}", per_shard=30)
    return d


def test_many_open_shards_mix_characters_into_every_batch(split: Path) -> None:
    shards = list_shards(split)
    args = {"batches": 6, "batch_size": 15, "seed": 0}
    two = character_coverage(shards, open_shards=2, shuffle_buffer=16, **args)  # the old tiny setting
    many = character_coverage(shards, open_shards=32, shuffle_buffer=16, **args)  # the new default
    assert two.characters_total == many.characters_total == 16
    assert two.batches == many.batches == 6 and len(many.first_seen) == 6
    assert two.mean_per_batch < 4 and two.characters_seen <= 5
    assert many.mean_per_batch > 8 and many.characters_seen == 16
    assert list(many.first_seen) == sorted(many.first_seen)


@pytest.mark.parametrize("workers", [0, 2])
def test_coverage_counts_what_training_sees_and_resume_is_exact(split: Path, workers: int) -> None:
    kw = {
        "batch_size": 15,
        "image_size": SIZE,
        "seed": 4,
        "epoch": 1,
        "open_shards": 32,
        "num_workers": workers,
    }
    full = EpochBatches(list_shards(split), **kw)
    chars = list(full.character_batches(5))
    trained = [b["character"] for _, b in zip(range(5), full, strict=False)]
    assert chars == trained
    keys = [k for b in full for k in b["key"]]
    assert len(keys) == len(set(keys)) == 16 * 30
    tail = [k for b in EpochBatches(list_shards(split), start=17, **kw) for k in b["key"]]
    assert tail == keys[17 * 15 :]
