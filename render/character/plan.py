"""Everything about ONE character that needs no Blender: read -> rig -> framing -> poses -> confidence.

Split from the Blender steps (render/character/prepare.py) so a worker can plan the NEXT
character on a helper thread while Blender renders the current one (render/character/prefetch.py):
on a render node this work is pure Python and numpy, and done in line it made up most of a
character's fixed cost (bench/render.py --overhead). A plan is a pure function of the job and the
settings, so a plan made early is the plan made in line: the pixels and records are the same.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from thagen.errors import RigError
from thagen.render.character.records import job_describe
from thagen.render.character.vector_hooks import check_required, job_poses, job_rest_pose
from thagen.render.settings import RunSettings

if TYPE_CHECKING:
    from thagen.render.character.qa_checks import QAResult
    from thagen.render.framing.estimate import Framing
    from thagen.render.manifest import CharacterJob
    from thagen.rigs.model import Model
    from thagen.rigs.normalize import RigReport


def load_model(job: CharacterJob, settings: RunSettings) -> tuple[Model, Path]:
    """The job's Model and the path its textures resolve from."""
    from thagen.rigs.reader import read_model

    if job.builtin:
        from thagen.render.discovery.characters import builtin_model_file

        path = builtin_model_file()
        return read_model(path), path
    model_path = job.model_file()
    cache_dir = None if settings.cache_dir is None else Path(settings.cache_dir)
    model = read_model(model_path, member=job.zip_member, cache_dir=cache_dir)
    return model, Path(model.source_path or model_path)


def rig_for(model: Model, job: CharacterJob, model_path: Path | None) -> RigReport:
    from thagen.rigs.normalize import normalize

    rig = normalize(
        model,
        overrides=job.override_path,
        model_path=model_path,
        pose_vector=job.pose_vector,
    )
    if not rig.ok:
        details = "; ".join(
            f"{r}: {rig.matches[r].detail}"
            for r in rig.missing_required
            if r in rig.matches and rig.matches[r].detail
        )
        raise RigError(
            f"{job_describe(job)}: missing required role(s) {', '.join(rig.missing_required)}"
            + (f" ({details})" if details else "")
        )
    check_required(rig, job)
    return rig


def framing_for(model: Model, rig: RigReport, job: CharacterJob) -> Framing:
    """The job's annotation when it has one, else the estimate (Framing.source says which)."""
    from thagen.render.framing.estimate import load_framing

    return load_framing(job, model=model, rig=rig)


def snap_poses(poses: list[dict[str, float]], model: Model, rig: RigReport) -> list[dict[str, float]]:
    """Poses with parameters a binary VRM expression drives snapped to 0 / 1 (rigs/formats/vrm/binary_expressions.py)."""
    from thagen.rigs.formats.vrm.binary_expressions import binary_parameters, snap_pose

    params = binary_parameters(model, rig)
    return [snap_pose(p, params) for p in poses] if params else poses


@dataclass
class CharacterPlan:
    """A character read, rigged and framed, its poses chosen and its framing scored."""

    job: CharacterJob
    model: Model
    model_path: Path
    rig: RigReport
    framing: Framing
    poses: list[dict[str, float]]
    rest_pose: dict[str, float]
    confidence: QAResult | None  # the framing-confidence check (None when QA is off)
    seconds: dict[str, float] = field(default_factory=dict)  # read_rig, framing, plan_qa


def plan_character(job: CharacterJob, settings: RunSettings, stage: list[str]) -> CharacterPlan:
    """read -> normalize -> framing -> poses -> framing confidence; `stage[0]` says where we are."""
    from thagen.render.character.qa_renders import framing_confidence_check

    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    stage[0] = "read"
    model, model_path = load_model(job, settings)
    stage[0] = "rig"
    rig = rig_for(model, job, model_path)
    t1 = time.perf_counter()
    seconds["read_rig"] = t1 - t0
    stage[0] = "framing"
    framing = framing_for(model, rig, job)
    poses = snap_poses(job_poses(job, rig), model, rig)
    rest_pose = job_rest_pose(job, rig)
    t2 = time.perf_counter()
    seconds["framing"] = t2 - t1
    confidence = None
    if settings.qa:
        mouth = float(job.rest_pose["mouth"])  # the weight the estimate was made with
        confidence = framing_confidence_check(model, rig, framing, job.annotation_path, mouth)
    seconds["plan_qa"] = time.perf_counter() - t2
    return CharacterPlan(job, model, model_path, rig, framing, poses, rest_pose, confidence, seconds)
