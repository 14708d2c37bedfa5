"""Render ONE character into shards: a plain function any worker process can call.

Order of work (the runner relies on it): read -> normalize -> framing -> import -> reset
image -> pose samples into shards -> QA renders -> QA -> per-character files. The caller
journals the character only after this returns, so a character is done iff journalled.
Whatever fails is raised as `CharacterError` carrying the stage it failed in.

The settings and records live in render/settings.py, the renderer interface in
render/renderer.py, the QA glue in render/character_qa.py and `thagen render-one` in
render/render_one.py; their names are re-exported here for existing callers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from thagen.errors import RigError
from thagen.render import qa as qa_mod
from thagen.render.character_qa import (
    CONTACT_SAMPLES,
    contact_sheet_for,
    expected_regions,
    framing_rows,
    keep_for_qa,
    qa_renders,
    run_checks,
)
from thagen.render.records import (
    capture_log,
    crash_record,
    failure_record,
    framing_dict,
    job_describe,
    json_bytes,
    log_tail,
    suppress_all,
    to_dict,
)
from thagen.render.renderer import Renderer, blender_version, make_renderer
from thagen.render.sample_images import extra_images
from thagen.render.settings import QA_RENDERS, CharacterError, CharacterResult, RunSettings
from thagen.render.shards import POSE_NAMES, Sample, ShardWriter, atomic_write_bytes, sample_key
from thagen.render.vector_hooks import (
    check_required,
    job_poses,
    job_record,
    job_rest_pose,
    qa_pose,
    shot_pose,
)
from thagen.render.vector_posing import vector_expression_only

if TYPE_CHECKING:
    from thagen.render.framing import Framing
    from thagen.render.manifest import CharacterJob
    from thagen.rigs.model import Model
    from thagen.rigs.normalize import RigReport

__all__ = [
    "QA_RENDERS",
    "CharacterError",
    "CharacterResult",
    "Prepared",
    "Renderer",
    "RunSettings",
    "adhoc_job",
    "blender_version",
    "contact_sheet_for",
    "crash_record",
    "expected_regions",
    "expression_only",
    "failure_record",
    "framing_for",
    "framing_rows",
    "job_describe",
    "load_model",
    "log_tail",
    "make_renderer",
    "pose_record",
    "prepare_character",
    "render_character",
    "render_one",
    "rig_for",
    "run_checks",
]

ImagesCallback = Callable[[int], None]


def load_model(job: CharacterJob, settings: RunSettings) -> tuple[Model, Path]:
    """The job's Model and the path its textures resolve from."""
    from thagen.rigs.reader import read_model

    if job.builtin:
        from thagen.render.characters import builtin_model_file

        path = builtin_model_file()
        return read_model(path), path
    model = read_model(job.model_path, member=job.zip_member, cache_dir=settings.cache_dir)
    return model, Path(model.source_path or job.model_path)


def rig_for(model: Model, job: CharacterJob, model_path: Path | None) -> RigReport:
    from thagen.rigs.normalize import normalize

    rig = normalize(
        model,
        overrides=job.override_path,
        model_path=model_path,
        pose_vector=getattr(job, "pose_vector", None),
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
    from thagen.render.framing import load_framing

    return load_framing(job, model=model, rig=rig)


def pose_record(job: CharacterJob, index: int, pose: dict[str, float]) -> dict[str, Any]:
    """pose.json of one sample (docs/dataset-format.md)."""
    ambient = float(pose.get("ambient", job.lighting.ambient))
    return {
        "format": 1,
        "character": job.id,
        "index": index,
        "split": str(job.split),
        "pose": {n: float(pose[n]) for n in POSE_NAMES},
        "rest_pose": {n: float(job.rest_pose[n]) for n in POSE_NAMES},
        "ambient": ambient,
    }


def expression_only(pose: dict[str, float]) -> dict[str, float]:
    return vector_expression_only(pose)  # THA1: head_x, head_y, neck_z at 0; THA3: body too


class Timer:
    """Accumulates seconds per named phase, plus the time spent inside Blender's render call."""

    def __init__(self) -> None:
        self.t: dict[str, float] = {}

    def add(self, name: str, dt: float) -> None:
        self.t[name] = self.t.get(name, 0.0) + dt


class Shot:
    """Pose + render through the renderer, counting images and Blender time."""

    def __init__(self, renderer: Renderer, job: CharacterJob, timer: Timer, on_images: ImagesCallback | None):
        self.r = renderer
        self.lighting = job.lighting
        self.timer = timer
        self.on_images = on_images
        self.images = 0
        self._ambient: float | None = None

    def __call__(self, pose: dict[str, float]) -> bytes:
        t0 = time.perf_counter()
        ambient = float(pose.get("ambient", self.lighting.ambient))
        if ambient != self._ambient:
            self.r.set_lighting(self.lighting.preset, ambient=ambient, diffuse=self.lighting.diffuse)
            self._ambient = ambient
        self.r.set_pose(shot_pose(pose))
        t1 = time.perf_counter()
        png = self.r.render_png()
        t2 = time.perf_counter()
        self.timer.add("pose", t1 - t0)
        self.timer.add("blender_render", t2 - t1)
        self.images += 1
        if self.on_images is not None:
            self.on_images(1)
        return png


# --------------------------------------------------------------------------- one character in Blender


@dataclass
class Prepared:
    """A character read, rigged, framed and imported: ready to be posed and rendered."""

    model: Model
    model_path: Path
    rig: RigReport
    framing: Framing
    imported: Any
    report: dict[str, Any]


def prepare_character(
    job: CharacterJob, renderer: Renderer, settings: RunSettings, timer: Timer, stage: list[str]
) -> Prepared:
    """read -> normalize -> framing -> import -> frame; `stage[0]` tracks where we are."""
    report: dict[str, Any] = {"id": job.id, "model": job_describe(job), "name": ""}
    t0 = time.perf_counter()
    stage[0] = "read"
    model, model_path = load_model(job, settings)
    report["name"] = model.name
    stage[0] = "rig"
    rig = rig_for(model, job, model_path)
    report["rig"] = rig.to_dict()
    timer.add("read_rig", time.perf_counter() - t0)
    stage[0] = "framing"
    t0 = time.perf_counter()
    framing = framing_for(model, rig, job)
    report["framing"] = framing_dict(framing)
    timer.add("framing", time.perf_counter() - t0)
    stage[0] = "import"
    t0 = time.perf_counter()
    imported = renderer.load_character(model, rig, model_path, job.lighting.preset)
    report["import"] = to_dict(getattr(imported, "report", imported))
    renderer.framing_preset = getattr(job, "framing_preset", "tha1")  # render/framing_presets.py
    renderer.frame(framing.head_top, framing.chin, framing.center_x)
    timer.add("import", time.perf_counter() - t0)
    return Prepared(model, model_path, rig, framing, imported, report)


def render_character(
    job: CharacterJob,
    out_dir: Path,
    renderer: Renderer,
    settings: RunSettings,
    *,
    on_images: ImagesCallback | None = None,
) -> CharacterResult:
    """Render one character's samples into OUT/<split>/<id>-<k>.tar and its files into
    OUT/characters/<id>/. Raises CharacterError (with the stage) on any failure; shards of a
    failed character may remain and are removed by the runner before a retry."""
    out_dir = Path(out_dir)
    cdir = out_dir / "characters" / job.id
    cdir.mkdir(parents=True, exist_ok=True)
    timer = Timer()
    t_start = time.perf_counter()
    stage = ["read"]
    log_path = cdir / "blender.log"
    try:
        with capture_log(renderer, log_path):
            prep = prepare_character(job, renderer, settings, timer, stage)
            stage[0] = "render"
            result = _render_all(job, out_dir, cdir, renderer, prep, settings, timer, on_images, stage)
            stage[0] = "write"
            prep.report["qa"] = result.qa
            t0 = time.perf_counter()
            renderer.unload_character()
            timer.add("unload", time.perf_counter() - t0)
            prep.report["timings"] = {k: round(v, 4) for k, v in timer.t.items()}
        prep.report["blender_log_tail"] = log_tail(log_path)
        atomic_write_bytes(cdir / "rig_report.json", json_bytes(prep.report))
    except BaseException as exc:
        with suppress_all():
            renderer.unload_character()
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise CharacterError(stage[0], exc, job.id) from exc
    result.seconds = round(time.perf_counter() - t_start, 3)
    result.timings = {k: round(v, 4) for k, v in timer.t.items()}
    return result


def snapped(poses: list[dict[str, float]], prep: Prepared) -> list[dict[str, float]]:
    """Poses with parameters a binary VRM expression drives snapped to 0 / 1 (rigs/vrm_binary.py)."""
    from thagen.rigs.vrm_binary import binary_parameters, snap_pose

    params = binary_parameters(prep.model, prep.rig)
    return [snap_pose(p, params) for p in poses] if params else poses


def _render_all(
    job: CharacterJob,
    out_dir: Path,
    cdir: Path,
    renderer: Renderer,
    prep: Prepared,
    settings: RunSettings,
    timer: Timer,
    on_images: ImagesCallback | None,
    stage: list[str],
) -> CharacterResult:
    shot = Shot(renderer, job, timer, on_images)
    poses = snapped(job_poses(job, prep.rig), prep)
    rest_pose = job_rest_pose(job, prep.rig)
    t0 = time.perf_counter()
    rest_png = shot(rest_pose)
    timer.add("reset", time.perf_counter() - t0)

    # PNG decoding and file writes run on a helper thread while Blender renders (Cycles lets go
    # of the GIL), so they add little to the character's time; the pixels are the same bytes.
    with ThreadPoolExecutor(max_workers=3, thread_name_prefix="thagen-qa") as helper:
        rest_future = helper.submit(qa_mod.decode_png, rest_png)
        pair_futures: list[Future] = []
        split_dir = out_dir / str(job.split)
        shards: list[str] = []
        writer: ShardWriter | None = None
        keep: list[tuple[bytes, bytes, dict]] = []
        loop_start, render_before = time.perf_counter(), timer.t.get("blender_render", 0.0)
        try:
            for i, pose in enumerate(poses):
                expr_png = shot(expression_only(pose))
                rot_png = shot(pose)
                extra = extra_images(shot, job, pose, rest_pose)  # the manifest's `images`, if any
                t0 = time.perf_counter()
                if writer is None:
                    writer = ShardWriter(split_dir / f"{job.id}-{len(shards):04d}.tar")
                rec = {**pose_record(job, i, pose), **job_record(job, pose, prep.rig)}
                writer.add(Sample(sample_key(job.id, i), rest_png, expr_png, rot_png, rec, extra))
                if writer.count >= job.shard_size:
                    shards.append(_rel(writer.close(), out_dir))
                    writer = None
                if keep_for_qa(i, pose, keep):
                    keep.append((expr_png, rot_png, qa_pose(rec)))
                    pair_futures.append(helper.submit(_decode_pair, expr_png, rot_png, qa_pose(rec)))
                timer.add("write", time.perf_counter() - t0)
            if writer is not None:
                t0 = time.perf_counter()
                shards.append(_rel(writer.close(), out_dir))
                writer = None
                timer.add("write", time.perf_counter() - t0)
        finally:
            if writer is not None:
                writer.abort()
        # the pose-sample loop alone (what a THA1-sized character is made of), for the benchmark
        timer.add("samples", time.perf_counter() - loop_start)
        timer.add("samples_blender_render", timer.t.get("blender_render", 0.0) - render_before)

        stage[0] = "qa"
        size = settings.image_size
        qa_pngs: dict[str, bytes] = {}
        qa_futures: dict[str, Future] = {}
        t0 = time.perf_counter()
        if settings.qa:
            qa_pngs = qa_renders(_DecodingShot(shot, helper, qa_futures), rest_pose)
        timer.add("qa_render", time.perf_counter() - t0)
        t0 = time.perf_counter()
        writes = [helper.submit(atomic_write_bytes, cdir / "rest.png", rest_png)]
        writes += [helper.submit(atomic_write_bytes, cdir / f"qa_{n}.png", png) for n, png in qa_pngs.items()]
        regions = expected_regions(prep.model, prep.rig, renderer, prep.framing, size) if settings.qa else {}
        rows = framing_rows(size, getattr(job, "framing_preset", "tha1"))
        rest = rest_future.result()
        qa_imgs = {k: f.result() for k, f in zip(qa_pngs, qa_futures.values(), strict=True)}
        pairs = [f.result() for f in pair_futures]
        qa_res = run_checks(rest, qa_imgs, pairs, regions, rows, rest_pose)
        qa_dict = {**qa_res.to_dict(), "regions": regions, "rows": rows, "rest_pose": rest_pose}
        writes.append(helper.submit(atomic_write_bytes, cdir / "qa.json", json_bytes(qa_dict)))
        excluded = bool(settings.exclude_flagged and qa_res.flags)
        if excluded:
            shards = [_move_to_excluded(out_dir, s) for s in shards]
        sheet = contact_sheet_for(
            job.id, rest, qa_imgs, pairs[:CONTACT_SAMPLES], qa_dict, name=prep.model.name
        )
        atomic_write_bytes(cdir / "contact_sheet.png", sheet)
        for w in writes:
            w.result()  # raises what a write raised
        timer.add("qa", time.perf_counter() - t0)

    return CharacterResult(
        id=job.id,
        split=str(job.split),
        model=job_describe(job),
        samples=len(poses),
        images=1 + (2 + len(getattr(job, "images", ()))) * len(poses),
        shards=shards,
        qa=qa_res.to_dict(),
        excluded=excluded,
        framing_source=str(getattr(prep.framing, "source", "")),
        seconds=0.0,
        timings={},
        blender_version=getattr(renderer, "blender_version", "") or "",
    )


def _decode_pair(expr_png: bytes, rot_png: bytes, pose: dict) -> tuple[Any, Any, dict]:
    return qa_mod.decode_png(expr_png), qa_mod.decode_png(rot_png), pose


class _DecodingShot:
    """A Shot that also starts decoding each PNG on the helper thread (during the next render)."""

    def __init__(self, shot: Shot, helper: ThreadPoolExecutor, futures: dict[str, Future]) -> None:
        self.shot, self.helper, self.futures = shot, helper, futures

    def __call__(self, pose: dict[str, float]) -> bytes:
        png = self.shot(pose)
        self.futures[f"{len(self.futures)}"] = self.helper.submit(qa_mod.decode_png, png)
        return png


def _move_to_excluded(out_dir: Path, rel: str) -> str:
    src = out_dir / rel
    dst = out_dir / "excluded" / rel
    dst.parent.mkdir(parents=True, exist_ok=True)
    src.replace(dst)
    return _rel(dst, out_dir)


def _rel(path: Path, out_dir: Path) -> str:
    return Path(path).relative_to(out_dir).as_posix()


from thagen.render.render_one import adhoc_job, render_one  # noqa: E402 - re-export, imports this module
