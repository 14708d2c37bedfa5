"""The trainer's data: streaming the renderer's shards into batches, and everything under it.

`stream` (the resumable batch order: `EpochBatches`, `ShardStream`, `character_coverage`),
`shard_index` (which shards a split holds, what its samples carry, which folder a split is),
`samples` (raw sample -> batch), `images` (PNG <-> tensors), `synthetic` and `synthetic_tha3`
(shards in the real format for tests and benchmarks). The loader's public names are here, so
`from thagen.train.data import EpochBatches, list_shards` reads as the docs show it.
"""

from thagen.train.data.samples import SampleFormat, parse_pose
from thagen.train.data.shard_index import DatasetError, ShardInfo, list_shards, require_images
from thagen.train.data.stream import (
    LOADER_ORDER_VERSION,
    EpochBatches,
    ShardStream,
    character_coverage,
    epoch_plans,
)

__all__ = [
    "LOADER_ORDER_VERSION",
    "DatasetError",
    "EpochBatches",
    "SampleFormat",
    "ShardInfo",
    "ShardStream",
    "character_coverage",
    "epoch_plans",
    "list_shards",
    "parse_pose",
    "require_images",
]
