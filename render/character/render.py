"""Render ONE character into shards: a plain function any worker process can call.

Order of work (the runner relies on it): read -> normalize -> framing -> import -> reset
image -> QA renders -> pose samples into shards (the QA checks and per-character files on a
helper thread once the samples they look at exist) -> hold back or keep. The caller
journals the character only after this returns, so a character is done iff journalled.
Whatever fails is raised as `CharacterError` carrying the stage it failed in.

Preparation (read, rig, framing, import) is in render/character/prepare.py, the QA glue in
render/character/qa_renders.py, the settings and records in render/settings.py and
render/character/records.py; `thagen.render.character` is the public facade.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from thagen.files import atomic_write_bytes
from thagen.render.character import qa_checks as qa_mod
from thagen.render.character.flags import hard_flags, held_back
from thagen.render.character.qa_region import composite, encode_png, qa_change_box
from thagen.render.character.qa_renders import (
    CONTACT_SAMPLES,
    contact_sheet_for,
    expected_regions,
    framing_rows,
    keep_for_qa,
    qa_poses,
    run_checks,
)
from thagen.render.character.records import (
    capture_log,
    job_describe,
    json_bytes,
    log_tail,
    suppress_all,
)
from thagen.render.character.vector_hooks import job_record, qa_pose
from thagen.render.output.shards import Sample, ShardWriter, sample_key
from thagen.render.poses.sample_images import extra_images
from thagen.render.scene.renderer import Renderer
from thagen.render.settings import CharacterError, CharacterResult, RunSettings

if TYPE_CHECKING:
    from thagen.render.character.prefetch import Prefetcher
    from thagen.render.manifest import CharacterJob

from thagen.render.character.prepare import (
    ImagesCallback,
    Prepared,
    Shot,
    Timer,
    expression_only,
    pose_record,
    prepare_character,
)


def render_character(
    job: CharacterJob,
    out_dir: Path,
    renderer: Renderer,
    settings: RunSettings,
    *,
    on_images: ImagesCallback | None = None,
    prefetcher: Prefetcher | None = None,
) -> CharacterResult:
    """Render one character's samples into OUT/<split>/<id>-<k>.tar and its files into
    OUT/characters/<id>/. Raises CharacterError (with the stage) on any failure; shards of a
    failed character may remain and are removed by the runner before a retry.

    With a `prefetcher`, this character's plan is taken from it when it was made ahead, and the
    next character's plan is begun when this one's sample loop starts (render/character/prefetch.py)."""
    out_dir = Path(out_dir)
    cdir = out_dir / "characters" / job.id
    cdir.mkdir(parents=True, exist_ok=True)
    timer = Timer()
    t_start = time.perf_counter()
    stage = ["read"]
    log_path = cdir / "blender.log"
    try:
        with capture_log(renderer, log_path):
            planned = prefetcher.take(job) if prefetcher is not None else None
            prep = prepare_character(job, renderer, settings, timer, stage, planned)
            stage[0] = "render"
            start_next = prefetcher.start if prefetcher is not None else None
            result = _render_all(
                job, out_dir, cdir, renderer, prep, settings, timer, on_images, stage, start_next
            )
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
    start_next: Callable[[], None] | None = None,
) -> CharacterResult:
    shot = Shot(renderer, job, timer, on_images)
    poses, rest_pose = prep.plan.poses, prep.plan.rest_pose
    t0 = time.perf_counter()
    rest_png = shot(rest_pose)
    timer.add("reset", time.perf_counter() - t0)

    # PNG decoding, the QA checks and file writes run on helper threads while Blender renders
    # (Cycles lets go of the GIL), so they add little to the character's time. The QA renders
    # come first so that the checks can run while the rest of the sample loop renders, as soon
    # as the samples they look at exist; the pixels are the same bytes in any order.
    with ThreadPoolExecutor(max_workers=3, thread_name_prefix="thagen-qa") as helper:
        rest_future = helper.submit(qa_mod.decode_png, rest_png)
        stage[0] = "qa"
        t0 = time.perf_counter()
        qa = _render_qa(job, prep, renderer, settings, shot, helper, rest_png, rest_future, cdir)
        timer.add("qa_render", time.perf_counter() - t0)
        stage[0] = "render"
        if start_next is not None:
            start_next()  # the next character's plan, while the sample renders let go of Python's lock
        pair_futures: list[Future] = []
        checks: Future | None = None
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
                    if len(keep) == CONTACT_SAMPLES + 2:  # no more are kept: check now
                        checks = helper.submit(
                            _check_and_write, job, prep, qa, rest_future, list(pair_futures)
                        )
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
        t0 = time.perf_counter()
        if checks is None:
            checks = helper.submit(_check_and_write, job, prep, qa, rest_future, list(pair_futures))
        qa_res, helper_seconds = checks.result()  # raises what the checks or a write raised
        timer.add("qa_checks_helper", helper_seconds)  # on the helper thread, mostly during the loop
        # hard flags hold the character back (render/character/flags.py); soft ones are listed
        excluded = held_back(qa_res.flags, settings.exclude_flagged)
        if excluded:
            shards = [_move_to_excluded(out_dir, s) for s in shards]
        timer.add("qa", time.perf_counter() - t0)

    return CharacterResult(
        id=job.id,
        split=str(job.split),
        model=job_describe(job),
        samples=len(poses),
        images=1 + (2 + len(job.images)) * len(poses),
        shards=shards,
        qa={**qa_res.to_dict(), "hard": hard_flags(qa_res.flags)},
        excluded=excluded,
        framing_source=prep.framing.source,
        seconds=0.0,
        timings={},
        blender_version=renderer.blender_version,
    )


@dataclass
class _QARenders:
    """What the QA renders left for the checks: the images (futures of their pixels, completed
    and written by the helper) and the regions they are checked in."""

    images: dict[str, Future]
    box: tuple[int, int, int, int] | None  # the region rendered (None: whole images)
    regions: dict[str, Any]
    rows: dict[str, float]
    cdir: Path
    rest_png: bytes


def _render_qa(
    job: CharacterJob,
    prep: Prepared,
    renderer: Renderer,
    settings: RunSettings,
    shot: Shot,
    helper: ThreadPoolExecutor,
    rest_png: bytes,
    rest_future: Future,
    cdir: Path,
) -> _QARenders:
    """Render the QA images (only the box the eye and mouth morphs can change, the rest from
    the reset image: render/character/qa_region.py) and measure the regions to check."""
    size = settings.image_size
    rest_pose = prep.plan.rest_pose
    images: dict[str, Future] = {}
    box = None
    regions: dict[str, Any] = {}
    if settings.qa:
        box = qa_change_box(prep.model, prep.rig, renderer, rest_pose)
        renderer.set_region(box)
        try:
            for name, pose in qa_poses(rest_pose).items():
                path = cdir / f"qa_{name}.png"
                images[name] = helper.submit(_finish_qa, shot(pose), path, rest_future, box)
        finally:
            renderer.set_region(None)
        regions = expected_regions(prep.model, prep.rig, renderer, prep.framing, size)
    rows = framing_rows(size, job.framing_preset)
    return _QARenders(images, box, regions, rows, cdir, rest_png)


def _check_and_write(
    job: CharacterJob, prep: Prepared, qa: _QARenders, rest_future: Future, pair_futures: list[Future]
) -> tuple[qa_mod.QAResult, float]:
    """The QA checks, qa.json, rest.png and the contact sheet (on a helper thread); the result
    and the seconds it took."""
    t0 = time.perf_counter()
    rest = rest_future.result()
    qa_imgs = {name: future.result() for name, future in qa.images.items()}
    pairs = [f.result() for f in pair_futures]
    atomic_write_bytes(qa.cdir / "rest.png", qa.rest_png)
    rest_pose = prep.plan.rest_pose
    qa_res = run_checks(rest, qa_imgs, pairs, qa.regions, qa.rows, rest_pose)
    if prep.plan.confidence is not None:
        qa_res.merge(prep.plan.confidence)  # made with the plan (render/character/plan.py)
    qa_dict = {**qa_res.to_dict(), "regions": qa.regions, "rows": qa.rows, "rest_pose": rest_pose}
    qa_dict["qa_render_box"] = list(qa.box) if qa.box is not None else None  # None: rendered whole
    atomic_write_bytes(qa.cdir / "qa.json", json_bytes(qa_dict))
    sheet = contact_sheet_for(job.id, rest, qa_imgs, pairs[:CONTACT_SAMPLES], qa_dict, name=prep.model.name)
    atomic_write_bytes(qa.cdir / "contact_sheet.png", sheet)
    return qa_res, time.perf_counter() - t0


def _decode_pair(expr_png: bytes, rot_png: bytes, pose: dict) -> tuple[Any, Any, dict]:
    return qa_mod.decode_png(expr_png), qa_mod.decode_png(rot_png), pose


def _finish_qa(png: bytes, path: Path, rest: Future, box: tuple[int, int, int, int] | None) -> Any:
    """A QA render's pixels, completed from the reset image outside `box`
    (render/character/qa_region.py), written to `path`."""
    pixels = qa_mod.decode_png(png)
    if box is not None:
        pixels = composite(rest.result(), pixels, box)
        png = encode_png(pixels)
    atomic_write_bytes(path, png)
    return pixels


def _move_to_excluded(out_dir: Path, rel: str) -> str:
    src = out_dir / rel
    dst = out_dir / "excluded" / rel
    dst.parent.mkdir(parents=True, exist_ok=True)
    src.replace(dst)
    return _rel(dst, out_dir)


def _rel(path: Path, out_dir: Path) -> str:
    return Path(path).relative_to(out_dir).as_posix()
