"""The training-shard format's public names, at the path users and docs have always imported.

The code is in render/output/shards.py (beside the journals and the output layout); read
shards with `iter_shard`, write them with `ShardWriter` (docs/dataset-format.md).
"""

from __future__ import annotations

from thagen.render.output.shards import (
    FORMAT_VERSION,
    POSE_NAMES,
    SAMPLE_PARTS,
    Sample,
    ShardWriter,
    iter_shard,
    sample_key,
)

__all__ = [
    "FORMAT_VERSION",
    "POSE_NAMES",
    "SAMPLE_PARTS",
    "Sample",
    "ShardWriter",
    "iter_shard",
    "sample_key",
]
