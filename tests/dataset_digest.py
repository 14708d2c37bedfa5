"""Compare render outputs sample by sample: a farm run must equal a serial run.

`sample_digests(out)` maps every sample key found in any shard under `out` (splits and
excluded/) to {member name: sha256}, e.g. {"gene-1a2b/000003": {"rest.png": "...",
"expr.png": "...", "rot.png": "...", "pose.json": "..."}}. Two outputs with equal digests have
the same keys, the same pose records and the same pixels. A key seen twice raises, so an
output holding a sample more than once can never compare equal to one that holds it once.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from thagen.render.output.shards import iter_shard


def sample_digests(out: Path) -> dict[str, dict[str, str]]:
    digests: dict[str, dict[str, str]] = {}
    for shard in sorted(Path(out).rglob("*.tar")):
        for sample in iter_shard(shard):
            key = str(sample["__key__"])
            if key in digests:
                raise AssertionError(f"{shard}: sample {key} appears more than once under {out}")
            digests[key] = {
                name: hashlib.sha256(data).hexdigest()  # type: ignore[arg-type]
                for name, data in sorted(sample.items())
                if name != "__key__"
            }
    return digests
