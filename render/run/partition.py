"""`--part K/N`: which characters part K of N renders.

Deterministic from the character ids and their expected image counts alone: characters are
taken longest first (ties by id), each to the part with the fewest expected images so far
(ties to the lowest part). So every machine computes the same split whatever the manifest's
order or how many machines there are, and parts finish at about the same time.
"""

from __future__ import annotations

import heapq
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from thagen.errors import ConfigError

if TYPE_CHECKING:
    from thagen.render.manifest import CharacterJob

Part = tuple[int, int]  # (K, N), 0 <= K < N


def parse_part(text: str, env: Mapping[str, str] | None = None) -> Part:
    """'K/N', or 'slurm' (SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN of SLURM_ARRAY_TASK_COUNT)."""
    if text == "slurm":
        env = os.environ if env is None else env
        if "SLURM_ARRAY_TASK_ID" not in env or "SLURM_ARRAY_TASK_COUNT" not in env:
            raise ConfigError(
                "--part slurm: SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT are not set "
                "(run it inside an sbatch --array job, or give --part K/N)"
            )
        try:
            k = int(env["SLURM_ARRAY_TASK_ID"]) - int(env.get("SLURM_ARRAY_TASK_MIN", "0") or 0)
            n = int(env["SLURM_ARRAY_TASK_COUNT"])
        except ValueError as exc:
            raise ConfigError(f"--part slurm: Slurm array variables are not integers: {exc}") from exc
    else:
        k_text, sep, n_text = text.partition("/")
        try:
            k, n = int(k_text), int(n_text)
        except ValueError:
            sep = ""
        if not sep:
            raise ConfigError(f"--part: expected K/N (e.g. 0/4) or 'slurm', got {text!r}")
    if not 0 <= k < n:
        raise ConfigError(f"--part {k}/{n}: K must be 0 <= K < N")
    return k, n


def assign_parts(costs: Mapping[str, int], count: int) -> list[list[str]]:
    """The ids of each of `count` parts (each list sorted), longest-processing-time first."""
    order = sorted(costs, key=lambda cid: (-costs[cid], cid))
    heap = [(0, k) for k in range(count)]
    parts: list[list[str]] = [[] for _ in range(count)]
    for cid in order:
        load, k = heapq.heappop(heap)
        parts[k].append(cid)
        heapq.heappush(heap, (load + costs[cid], k))
    return [sorted(p) for p in parts]


def part_cost(job: CharacterJob) -> int:
    """Expected images of a character (the reset and 2 per pose; QA renders are the same for all),
    from the manifest alone, so that flags like --no-qa never change the split."""
    return 1 + 2 * int(job.pose_count)


def jobs_of_part(jobs: Sequence[CharacterJob], part: Part) -> list[CharacterJob]:
    """The jobs of part K of N, in the manifest's order."""
    k, n = part
    mine = set(assign_parts({j.id: part_cost(j) for j in jobs}, n)[k])
    return [j for j in jobs if j.id in mine]
