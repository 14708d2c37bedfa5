"""`thagen render-one`: one model from the command line into PNG files, QA and a contact sheet.

No shards, no journal: a quick look at how a model renders (or at chosen poses, e.g. to
show signs), through the same prepare/QA code as a manifest run.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from thagen.errors import ConfigError
from thagen.files import atomic_write_bytes
from thagen.render.character import qa_checks as qa_mod
from thagen.render.character.plan import snap_poses
from thagen.render.character.prepare import Shot, Timer, expression_only, pose_record, prepare_character
from thagen.render.character.qa_renders import (
    contact_sheet_for,
    expected_regions,
    framing_rows,
    qa_renders,
    run_checks,
)
from thagen.render.character.records import capture_log, job_describe, json_bytes, suppress_all
from thagen.render.output.shards import POSE_NAMES
from thagen.render.scene.renderer import Renderer, make_renderer
from thagen.render.settings import CharacterError, RunSettings

if TYPE_CHECKING:
    from thagen.render.manifest import CharacterJob


def adhoc_job(
    model: str,
    *,
    member: str | None = None,
    poses: int = 8,
    seed: int = 0,
    size: int = 256,
    samples: int = 4,
    lighting: str = "phong",
    override: Path | None = None,
    annotation: Path | None = None,
    rest_pose: str = "tha1",
    engine: str = "cycles",
) -> CharacterJob:
    """A CharacterJob for one model given on the command line (`builtin`, a file or a zip)."""
    from thagen.render.discovery import characters as chars
    from thagen.render.manifest import CharacterJob, Lighting, RenderSettings, default_annotation_path
    from thagen.render.poses.sampling import PoseSpec, resolve_rest_pose

    if model == "builtin":
        ref = chars.builtin_ref()
    else:
        path = Path(model).expanduser().resolve()
        if not path.is_file():
            raise ConfigError(f"{path}: no such model file")
        refs = chars.refs_for_path(path, member=member)
        if len(refs) != 1:
            names = ", ".join(r.member or "?" for r in refs)
            raise ConfigError(f"{path}: holds {len(refs)} models ({names}); pick one with --member")
        ref = refs[0]
    if override is None and ref.path is not None:
        from thagen.rigs.normalize.overrides import find_override_file

        override = find_override_file(ref.path, ref.member)
    return CharacterJob(
        id=ref.id,
        sha256=ref.sha256,
        model_path=ref.path,
        zip_member=ref.member,
        builtin=ref.builtin,
        override_path=override,
        annotation_path=annotation or default_annotation_path(ref),
        split="train",
        pose_count=poses,
        lighting=Lighting(preset=lighting),
        seed=seed,
        pose_spec=PoseSpec(),
        rest_pose=resolve_rest_pose(rest_pose),
        image_size=size,
        render=RenderSettings(engine=engine, samples=samples),
        shard_size=max(1, poses),
        output_dir=Path("."),
        source="command line",
    )


def render_one(
    job: CharacterJob,
    out_dir: Path,
    settings: RunSettings,
    *,
    poses: list[dict[str, float]] | None = None,
    stem: str | None = None,
    renderer: Renderer | None = None,
) -> dict[str, Any]:
    """Quick look at one character: PNG files instead of shards, plus QA and a contact sheet.

    Writes <stem>_rest.png, <stem>_<i:03d>_expr.png / _rot.png, poses.json, contact_sheet.png
    and blender.log into `out_dir`; `poses` replaces the sampled poses (e.g. to show signs).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = stem or ("builtin" if job.builtin else Path(job.zip_member or job.model_file()).stem)
    own = renderer is None
    renderer = renderer or make_renderer(settings)
    try:
        return _render_one(job, out_dir, settings, renderer, poses, stem)
    finally:
        if own:
            with suppress_all():
                renderer.close()


def _render_one(
    job: CharacterJob,
    out_dir: Path,
    settings: RunSettings,
    renderer: Renderer,
    poses: list[dict] | None,
    stem: str,
) -> dict[str, Any]:
    timer = Timer()
    stage = ["read"]
    poses = job.poses() if poses is None else [{**dict.fromkeys(POSE_NAMES, 0.0), **p} for p in poses]
    rest_pose = {n: float(job.rest_pose[n]) for n in POSE_NAMES}
    files: list[str] = []

    def write(name: str, data: bytes) -> None:
        atomic_write_bytes(out_dir / name, data)
        files.append(name)

    try:
        with capture_log(renderer, out_dir / "blender.log"):
            prep = prepare_character(job, renderer, settings, timer, stage)
            poses = snap_poses(poses, prep.model, prep.rig)
            stage[0] = "render"
            shot = Shot(renderer, job, timer, None)
            rest_png = shot(rest_pose)
            write(f"{stem}_rest.png", rest_png)
            records, pairs = [], []
            for i, pose in enumerate(poses):
                expr_png, rot_png = shot(expression_only(pose)), shot(pose)
                write(f"{stem}_{i:03d}_expr.png", expr_png)
                write(f"{stem}_{i:03d}_rot.png", rot_png)
                rec = pose_record(job, i, pose)
                records.append(rec)
                pairs.append((qa_mod.decode_png(expr_png), qa_mod.decode_png(rot_png), rec["pose"]))
            stage[0] = "qa"
            qa_pngs = qa_renders(shot, rest_pose) if settings.qa else {}
            regions = expected_regions(prep.model, prep.rig, renderer, prep.framing, settings.image_size)
            renderer.unload_character()
    except BaseException as exc:
        with suppress_all():
            renderer.unload_character()
        if isinstance(exc, (KeyboardInterrupt, CharacterError)):
            raise
        raise CharacterError(stage[0], exc, job.id) from exc
    rows = framing_rows(settings.image_size)
    rest = qa_mod.decode_png(rest_png)
    qa_imgs = {k: qa_mod.decode_png(v) for k, v in qa_pngs.items()}
    for name, png in qa_pngs.items():
        write(f"{stem}_qa_{name}.png", png)
    qa_res = run_checks(rest, qa_imgs, pairs, regions, rows, rest_pose)
    qa_dict = {**qa_res.to_dict(), "regions": regions, "rows": rows, "rest_pose": rest_pose}
    sheet = contact_sheet_for(job.id, rest, qa_imgs, pairs[:8], qa_dict, name=prep.model.name)
    write("contact_sheet.png", sheet)
    summary = {
        "id": job.id,
        "model": job_describe(job),
        "poses": records,
        "qa": qa_dict,
        "rig": prep.report.get("rig"),
        "framing": prep.report.get("framing"),
        "import": prep.report.get("import"),
        "timings": {k: round(v, 4) for k, v in timer.t.items()},
        "files": files,
    }
    atomic_write_bytes(out_dir / "poses.json", json_bytes(summary))
    return summary
