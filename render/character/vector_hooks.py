"""The glue the renderer calls for THA2 / THA3 jobs (each a no-op for THA1 jobs).

render/character/render.py calls these at the few places a pose is chosen, applied or recorded, so
THA1 output stays byte for byte what it was and the extended path lives here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from thagen.errors import RigError
from thagen.render.output.shards import POSE_NAMES
from thagen.render.poses.vector_posing import is_vector_pose, masked_pose, vector_record

if TYPE_CHECKING:
    from thagen.render.manifest import CharacterJob
    from thagen.rigs.normalize import RigReport
    from thagen.rigs.normalize.extended_rig import ExtendedRig


def _ext(rig: RigReport) -> ExtendedRig | None:
    """The rig's THA2 / THA3 parameters (None for a THA1 job)."""
    ext: ExtendedRig | None = rig.extended
    return ext


def shot_pose(pose: Mapping[str, float]) -> dict[str, float]:
    """What the renderer's set_pose gets: THA1's six, or the whole extended pose."""
    if is_vector_pose(pose):
        return {k: float(v) for k, v in pose.items() if k != "ambient"}
    return {n: float(pose.get(n, 0.0)) for n in POSE_NAMES}


def job_poses(job: CharacterJob, rig: RigReport) -> list[dict[str, float]]:
    """The job's poses, with the parameters the model cannot show at 0."""
    poses = job.poses()
    ext = _ext(rig)
    return poses if ext is None else [masked_pose(p, ext) for p in poses]


def job_rest_pose(job: CharacterJob, rig: RigReport) -> dict[str, float]:
    """The rest pose to render: THA1's six, or the whole (masked) extended rest pose."""
    ext = _ext(rig)
    if ext is None or not is_vector_pose(job.rest_pose):
        return {n: float(job.rest_pose[n]) for n in POSE_NAMES}
    return masked_pose({k: float(v) for k, v in job.rest_pose.items()}, ext)


def job_record(job: CharacterJob, pose: Mapping[str, float], rig: RigReport) -> dict[str, Any]:
    """pose.json's extended fields, or nothing for THA1."""
    ext = _ext(rig)
    if ext is None or job.pose_vector == "tha1":
        return {}
    return vector_record(job.pose_vector, pose, job.rest_pose, ext)


def check_required(rig: RigReport, job: CharacterJob) -> None:
    """RigError when the model cannot show a parameter the manifest requires; also hands the
    manifest's vector_motion (body and breathing angles) to the rig the renderer poses."""
    ext = _ext(rig)
    if ext is not None:
        ext.motion = dict(job.vector_motion)
    required = job.required_parameters
    if ext is None or not required:
        return
    missing = [n for n in required if ext.params[n].availability == "missing"]
    if missing:
        details = "; ".join(f"{n}: {ext.params[n].detail}" for n in missing)
        raise RigError(f"missing required parameter(s) {', '.join(missing)} ({details})")


def qa_pose(rec: Mapping[str, Any]) -> dict[str, float]:
    """The pose QA and the contact sheet see: THA1's six, plus the whole vector when there is one."""
    vec = rec.get("vector")
    if not vec:
        return rec["pose"]
    return {**rec["pose"], **dict(zip(vec["names"], vec["values"]))}


def _short(name: str) -> str:
    for long, short in (
        ("eyebrow_", "brow "),
        ("mouth_", ""),
        ("eye_", "eye "),
        ("_left", " L"),
        ("_right", " R"),
    ):
        name = name.replace(long, short)
    return name.replace("_", " ")


def vector_label(pose: Mapping[str, float], top: int = 2) -> str | None:
    """A contact-sheet label naming an extended pose's strongest morph parameters, e.g.
    "brow angry L .8, smirk .6"; None for a THA1 pose."""
    if not is_vector_pose(pose):
        return None
    from thagen.pose_vectors import pose_vector_def

    vec = pose_vector_def("tha3")
    weights = [(float(pose.get(p.name, 0.0)), p.name) for p in vec.params if p.is_morph]
    strongest = [(v, n) for v, n in sorted(weights, reverse=True)[:top] if v > 0.05]
    return ", ".join(f"{_short(n)} {v:.1f}" for v, n in strongest) or "no expression"
