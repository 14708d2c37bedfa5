"""`thagen train tha3`: one stage, or all five in THA3's order.

All stages in order: eyebrow_decomposer, eyebrow_combiner, face_morpher, rotator, editor (the
editor freezes the rotator just trained). When the shards lack the eyebrow-layer images the
decomposer cannot learn: asked for alone it fails with a one-line error naming the shard and the
image; in a run of all stages it prints that line as "skipped" and the others still train (the
combiner then learns from the rest crop itself, `inputs: rest`, and the poser runs without a
decomposer).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from thagen.train.core.loop import Echo, StageResult, Trainer
from thagen.train.data import DatasetError
from thagen.train.tha3_training.config import STAGES, Tha3Config
from thagen.train.tha3_training.stages import LAYER_IMAGES, Tha3Task


def train_tha3_stage(
    cfg: Tha3Config,
    stage: str,
    *,
    resume: bool = False,
    overwrite: bool = False,
    echo: Echo = print,
    on_step: Callable[[int], None] | None = None,
) -> StageResult:
    """Train one THA3 network from `cfg` with the shared loop."""
    return Trainer(cfg, Tha3Task(cfg, stage), echo=echo).run(
        resume=resume, overwrite=overwrite, on_step=on_step
    )


def train_tha3(
    cfg: Tha3Config,
    stages: Sequence[str] = STAGES,
    *,
    resume: bool = False,
    overwrite: bool = False,
    echo: Echo = print,
    on_step: Callable[[str, int], None] | None = None,
) -> list[StageResult]:
    """Train `stages` in THA3's order; see the module docstring for the decomposer's skip."""
    results: list[StageResult] = []
    for stage in [s for s in STAGES if s in stages]:
        hook = (lambda step, s=stage: on_step(s, step)) if on_step is not None else None
        try:
            results.append(
                train_tha3_stage(cfg, stage, resume=resume, overwrite=overwrite, echo=echo, on_step=hook)
            )
        except DatasetError as exc:
            alone = len(stages) == 1
            if alone or stage != "eyebrow_decomposer" or not any(n in str(exc) for n in LAYER_IMAGES):
                raise
            echo(f"[{stage}] skipped: {exc}")
    return results
