"""Render ONE character into shards: a plain function any worker process can call.

Order of work (the runner relies on it): read -> normalize -> framing -> import -> reset
image -> pose samples into shards -> QA renders -> QA -> per-character files. The caller
journals the character only after this returns, so a character is done iff journalled.
Whatever fails is raised as `CharacterError` carrying the stage it failed in.
"""

from __future__ import annotations

import contextlib
import json
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from thagen import __version__
from thagen.errors import ConfigError, RigError, ThagenError
from thagen.render import qa as qa_mod
from thagen.render.contact_sheet import make_contact_sheet
from thagen.render.framing_presets import preset_rows
from thagen.render.sample_images import extra_images
from thagen.render.shards import POSE_NAMES, Sample, ShardWriter, atomic_write_bytes, sample_key
from thagen.render.vector_hooks import (
    check_required,
    job_poses,
    job_record,
    job_rest_pose,
    qa_pose,
    shot_pose,
    vector_label,
)
from thagen.render.vector_posing import vector_expression_only

# QA renders per character: eyes closed, mouth closed (both at no rotation).
QA_RENDERS = 2
LOG_TAIL_LINES = 40
CONTACT_SAMPLES = 4


@dataclass
class RunSettings:
    """How the ONE renderer of a process is set up, and run-wide options.

    Per-character things (poses, lighting, rest pose, shard size, seed) travel in the
    CharacterJob; the image size and samples must be the same for the whole run because the
    renderer is built once per process.
    """

    image_size: int = 256
    samples: int = 4
    engine: str = "cycles"
    device: str = "cpu"
    threads: int = 0
    qa: bool = True
    exclude_flagged: bool = False
    seed: int = 0
    cache_dir: str | None = None

    @classmethod
    def from_manifest(cls, manifest: Any, **overrides: Any) -> RunSettings:
        kw = {
            "image_size": manifest.image_size,
            "samples": manifest.render.samples,
            "engine": manifest.render.engine,
            "device": manifest.render.device,
            "exclude_flagged": manifest.qa.exclude_flagged,
            "seed": manifest.seed,
        }
        kw.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**kw)


class CharacterError(ThagenError):
    """One character failed; `stage` says where (read, rig, framing, import, render, qa, write)."""

    def __init__(self, stage: str, cause: BaseException, character_id: str = "") -> None:
        self.stage = stage
        self.cause = cause
        self.character_id = character_id
        super().__init__(f"{character_id}: [{stage}] {type(cause).__name__}: {cause}")


@dataclass
class CharacterResult:
    """What the journal records for a finished character."""

    id: str
    split: str
    model: str
    samples: int
    images: int
    shards: list[str]
    qa: dict[str, Any]
    excluded: bool
    framing_source: str
    seconds: float
    timings: dict[str, float]
    blender_version: str = ""
    thagen_version: str = __version__

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------- job fields


def job_describe(job: Any) -> str:
    """The model a job renders, for messages and records."""
    if job.builtin:
        return "builtin"
    return f"{job.model_path}:{job.zip_member}" if job.zip_member else str(job.model_path)


# --------------------------------------------------------------------------- renderer


def make_renderer(settings: RunSettings) -> Any:
    """The one Blender renderer of a process (imports bpy)."""
    from thagen.render.blender_scene import BlenderRenderer

    renderer = BlenderRenderer(
        image_size=settings.image_size,
        engine=settings.engine.upper(),
        device=settings.device.upper(),
        samples=settings.samples,
        threads=settings.threads,
    )
    renderer.blender_version = blender_version()
    return renderer


def blender_version() -> str:
    import bpy

    return str(bpy.app.version_string)


# --------------------------------------------------------------------------- the pieces


def load_model(job: Any, settings: RunSettings) -> tuple[Any, Path]:
    """The job's Model and the path its textures resolve from."""
    from thagen.rigs.reader import read_model

    if job.builtin:
        from thagen.render.characters import builtin_model_file

        path = builtin_model_file()
        return read_model(path), path
    model = read_model(job.model_path, member=job.zip_member, cache_dir=settings.cache_dir)
    return model, Path(model.source_path or job.model_path)


def rig_for(model: Any, job: Any, model_path: Path | None) -> Any:
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


def framing_for(model: Any, rig: Any, job: Any) -> Any:
    """The job's annotation when it has one, else the estimate (Framing.source says which)."""
    from thagen.render.framing import load_framing

    return load_framing(job, model=model, rig=rig)


def pose_record(job: Any, index: int, pose: dict[str, float]) -> dict[str, Any]:
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


class _Timer:
    """Accumulates seconds per named phase, plus the time spent inside Blender's render call."""

    def __init__(self) -> None:
        self.t: dict[str, float] = {}

    def add(self, name: str, dt: float) -> None:
        self.t[name] = self.t.get(name, 0.0) + dt


class _Shot:
    """Pose + render through the renderer, counting images and Blender time."""

    def __init__(self, renderer: Any, job: Any, timer: _Timer, on_images: Callable | None):
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

    model: Any
    model_path: Path
    rig: Any
    framing: Any
    imported: Any
    report: dict[str, Any]


def prepare_character(
    job: Any, renderer: Any, settings: RunSettings, timer: _Timer, stage: list[str]
) -> Prepared:
    """read -> normalize -> framing -> import -> frame; `stage[0]` tracks where we are."""
    report: dict[str, Any] = {"id": job.id, "model": job_describe(job)}
    t0 = time.perf_counter()
    stage[0] = "read"
    model, model_path = load_model(job, settings)
    stage[0] = "rig"
    rig = rig_for(model, job, model_path)
    report["rig"] = rig.to_dict()
    timer.add("read_rig", time.perf_counter() - t0)
    stage[0] = "framing"
    t0 = time.perf_counter()
    framing = framing_for(model, rig, job)
    report["framing"] = _framing_dict(framing)
    timer.add("framing", time.perf_counter() - t0)
    stage[0] = "import"
    t0 = time.perf_counter()
    imported = renderer.load_character(model, rig, model_path, job.lighting.preset)
    report["import"] = _to_dict(getattr(imported, "report", imported))
    renderer.framing_preset = getattr(job, "framing_preset", "tha1")  # render/framing_presets.py
    renderer.frame(framing.head_top, framing.chin, framing.center_x)
    timer.add("import", time.perf_counter() - t0)
    return Prepared(model, model_path, rig, framing, imported, report)


def render_character(
    job: Any,
    out_dir: Path,
    renderer: Any,
    settings: RunSettings,
    *,
    on_images: Callable[[int], None] | None = None,
) -> CharacterResult:
    """Render one character's samples into OUT/<split>/<id>-<k>.tar and its files into
    OUT/characters/<id>/. Raises CharacterError (with the stage) on any failure; shards of a
    failed character may remain and are removed by the runner before a retry."""
    out_dir = Path(out_dir)
    cdir = out_dir / "characters" / job.id
    cdir.mkdir(parents=True, exist_ok=True)
    timer = _Timer()
    t_start = time.perf_counter()
    stage = ["read"]
    log_path = cdir / "blender.log"
    try:
        with _capture(renderer, log_path):
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
        atomic_write_bytes(cdir / "rig_report.json", _json_bytes(prep.report))
    except BaseException as exc:
        with _suppress_all():
            renderer.unload_character()
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise CharacterError(stage[0], exc, job.id) from exc
    result.seconds = round(time.perf_counter() - t_start, 3)
    result.timings = {k: round(v, 4) for k, v in timer.t.items()}
    return result


def _render_all(
    job: Any,
    out_dir: Path,
    cdir: Path,
    renderer: Any,
    prep: Prepared,
    settings: RunSettings,
    timer: _Timer,
    on_images: Callable | None,
    stage: list[str],
) -> CharacterResult:
    shot = _Shot(renderer, job, timer, on_images)
    poses = job_poses(job, prep.rig)
    rest_pose = job_rest_pose(job, prep.rig)
    t0 = time.perf_counter()
    rest_png = shot(rest_pose)
    timer.add("reset", time.perf_counter() - t0)

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
            if _keep_for_qa(i, pose, keep):
                keep.append((expr_png, rot_png, qa_pose(rec)))
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
    t0 = time.perf_counter()
    if settings.qa:
        qa_pngs = qa_renders(shot, rest_pose)
    timer.add("qa_render", time.perf_counter() - t0)
    t0 = time.perf_counter()
    regions = expected_regions(prep.model, prep.rig, renderer, prep.framing, size) if settings.qa else {}
    rows = framing_rows(size, getattr(job, "framing_preset", "tha1"))
    rest = qa_mod.decode_png(rest_png)
    qa_imgs = {k: qa_mod.decode_png(v) for k, v in qa_pngs.items()}
    pairs = [(qa_mod.decode_png(e), qa_mod.decode_png(r), p) for e, r, p in keep]
    qa_res = run_checks(rest, qa_imgs, pairs, regions, rows, rest_pose)
    qa_dict = {**qa_res.to_dict(), "regions": regions, "rows": rows, "rest_pose": rest_pose}
    excluded = bool(settings.exclude_flagged and qa_res.flags)
    if excluded:
        shards = [_move_to_excluded(out_dir, s) for s in shards]
    atomic_write_bytes(cdir / "rest.png", rest_png)
    for name, png in qa_pngs.items():
        atomic_write_bytes(cdir / f"qa_{name}.png", png)
    atomic_write_bytes(cdir / "qa.json", _json_bytes(qa_dict))
    sheet = contact_sheet_for(job.id, rest, qa_imgs, pairs[:CONTACT_SAMPLES], qa_dict)
    atomic_write_bytes(cdir / "contact_sheet.png", sheet)
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


def qa_renders(shot: Callable[[dict], bytes], rest_pose: dict[str, float]) -> dict[str, bytes]:
    """The QA images: the reset pose with both eyes closed, and with the mouth closed."""
    return {
        "eyes_closed": shot({**rest_pose, "left_eye": 1.0, "right_eye": 1.0}),
        "mouth_closed": shot({**rest_pose, "mouth": 0.0}),
    }


def _keep_for_qa(i: int, pose: dict, keep: list) -> bool:
    """Keep a few early samples (contact sheet) and the most rotated ones (rotation check)."""
    return i < CONTACT_SAMPLES or len(keep) < CONTACT_SAMPLES + 2 and _rot_mag(pose) >= 0.5


def _rot_mag(pose: dict) -> float:
    return max(abs(float(pose.get(k, 0.0))) for k in ("head_x", "head_y", "neck_z"))


def _move_to_excluded(out_dir: Path, rel: str) -> str:
    src = out_dir / rel
    dst = out_dir / "excluded" / rel
    dst.parent.mkdir(parents=True, exist_ok=True)
    src.replace(dst)
    return _rel(dst, out_dir)


def _rel(path: Path, out_dir: Path) -> str:
    return Path(path).relative_to(out_dir).as_posix()


# --------------------------------------------------------------------------- QA glue


def framing_rows(size: int, preset: str = "tha1") -> dict[str, float]:
    """Where the framing put the head top, chin and centre, in pixels (THA1: rows size/4, 3size/4)."""
    if preset != "tha1":
        return preset_rows(preset, size)
    return {"head_top": size / 4.0, "chin": 3.0 * size / 4.0, "center_x": size / 2.0}


def _morph_points(model: Any, rig: Any, role: str) -> np.ndarray | None:
    """MMD-space positions of the vertices a role's morph moves (rest and moved)."""
    from thagen.rigs.flatten import flatten_group_morph

    if role in getattr(rig, "synthetic_morphs", {}):
        m = rig.synthetic_morphs[role]
        idx, off = np.asarray(m.indices), np.asarray(m.values, np.float64)
    else:
        match = rig.matches.get(role)
        if match is None or not match.found or match.index is None:
            return None
        idx, off = flatten_group_morph(model, match.index)
    if len(idx) == 0:
        return None
    off = np.asarray(off, np.float64).reshape(len(idx), -1)[:, :3]
    mag = np.linalg.norm(off, axis=1)
    keep = mag > 0.1 * mag.max() if mag.size and mag.max() > 0 else np.ones(len(idx), bool)
    pos = np.asarray(model.positions, np.float64)[np.asarray(idx)[keep]]
    return np.concatenate([pos, pos + off[keep]], axis=0)


def expected_regions(model: Any, rig: Any, renderer: Any, framing: Any, size: int) -> dict[str, Any]:
    """Pixel boxes where closing the eyes / the mouth should change the image."""
    regions: dict[str, Any] = {}
    rows = framing_rows(size)
    fallback = qa_mod.fallback_regions((size, size), rows["head_top"], rows["chin"], rows["center_x"])
    for name, roles in (
        ("eyes", ("eye_close_left", "eye_close_right", "eye_close_both")),
        ("mouth", ("mouth_open",)),
    ):
        pts = [p for r in roles if (p := _morph_points(model, rig, r)) is not None]
        box = None
        if pts and hasattr(renderer, "project"):
            with _suppress_all():
                px = np.asarray(renderer.project(np.concatenate(pts)), np.float64)[:, :2]
                box = qa_mod.points_box(px, 0.03, (size, size))
        regions[name] = list(box) if box else list(fallback[name]) if fallback[name] else None
        regions[f"{name}_source"] = "projected" if box else "framing"
    return regions


def run_checks(
    rest: np.ndarray,
    qa_images: dict[str, np.ndarray],
    pairs: list[tuple[np.ndarray, np.ndarray, dict]],
    regions: dict[str, Any],
    rows: dict[str, float],
    rest_pose: dict[str, float],
) -> qa_mod.QAResult:
    """All pixel checks of one character (the same function `thagen qa` runs from OUT)."""
    res = qa_mod.check_framing(rest, head_top_row=rows["head_top"], chin_row=rows["chin"])
    if "eyes_closed" in qa_images and rest_pose.get("left_eye", 0.0) < 0.5:
        res.merge(qa_mod.check_region_change(rest, qa_images["eyes_closed"], regions.get("eyes"), "eyes"))
    if "mouth_closed" in qa_images and rest_pose.get("mouth", 1.0) > 0.5:
        res.merge(qa_mod.check_region_change(rest, qa_images["mouth_closed"], regions.get("mouth"), "mouth"))
    res.merge(qa_mod.check_rotation(pairs))
    return res


def contact_sheet_for(
    character_id: str,
    rest: np.ndarray,
    qa_images: dict[str, np.ndarray],
    pairs: list[tuple[np.ndarray, np.ndarray, dict]],
    qa_dict: dict[str, Any],
) -> bytes:
    """The character's contact sheet: rest (with framing guides), QA images (with their
    expected regions), then expr/rot pairs labelled with their pose."""
    rows = qa_dict.get("rows") or framing_rows(rest.shape[0])
    tiles: list[tuple[str, np.ndarray]] = [("rest", rest)]
    boxes: dict[int, tuple[Any, tuple]] = {}
    regions = qa_dict.get("regions") or {}
    for name, img in qa_images.items():
        boxes[len(tiles)] = (regions.get(name.split("_")[0]), (255, 160, 0, 255))
        tiles.append((name.replace("_", " "), img))
    for expr, rot, pose in pairs:
        e = f"e{pose.get('left_eye', 0):.1f}/{pose.get('right_eye', 0):.1f} m{pose.get('mouth', 0):.1f}"
        e = vector_label(pose) or e  # THA2 / THA3: the strongest parameters by name
        r = f"x{pose.get('head_x', 0):+.1f} y{pose.get('head_y', 0):+.1f} z{pose.get('neck_z', 0):+.1f}"
        tiles.append((e, expr))
        tiles.append((r, rot))
    return make_contact_sheet(
        tiles, title=character_id, flags=qa_dict.get("flags", []), guides=rows, boxes=boxes, columns=3 + 2 * 2
    )


# --------------------------------------------------------------------------- records


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> list[str]:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return []
    return text.splitlines()[-lines:]


def failure_record(job: Any, exc: BaseException, out_dir: Path) -> dict[str, Any]:
    """One failures.jsonl line."""
    stage = getattr(exc, "stage", "unknown")
    cause = getattr(exc, "cause", exc)
    return {
        "id": job.id,
        "model": job_describe(job),
        "split": str(getattr(job, "split", "")),
        "stage": stage,
        "error_type": type(cause).__name__,
        "message": str(cause),
        "traceback": "".join(traceback.format_exception(cause))[-4000:],
        "log_tail": log_tail(Path(out_dir) / "characters" / job.id / "blender.log"),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def crash_record(job: Any, out_dir: Path, exitcode: int | None) -> dict[str, Any]:
    """The failure of a character whose worker process died (a Blender crash or a kill)."""
    return {
        "id": job.id,
        "model": job_describe(job),
        "split": str(getattr(job, "split", "")),
        "stage": "crash",
        "error_type": "WorkerCrash",
        "message": f"the render worker died (exit status {exitcode}) while rendering this character",
        "traceback": "",
        "log_tail": log_tail(Path(out_dir) / "characters" / job.id / "blender.log"),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _framing_dict(framing: Any) -> dict[str, Any]:
    d = _to_dict(framing)
    return d if isinstance(d, dict) else {"repr": repr(framing)}


def _to_dict(obj: Any) -> Any:
    if obj is None:
        return None
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    try:
        return _jsonable(asdict(obj))
    except TypeError:
        return repr(obj)


def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    if isinstance(v, Path):
        return str(v)
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    return repr(v)


def _json_bytes(obj: Any) -> bytes:
    return json.dumps(_jsonable(obj), indent=1, ensure_ascii=False, sort_keys=True).encode()


class _suppress_all:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> bool:
        return exc[0] is not None and not issubclass(exc[0], KeyboardInterrupt)


def condense_log(text: str) -> str:
    """Blender's output minus its per-render progress chatter ("Fra:1 Mem:..." lines): only the
    last progress line of each render is kept, every other line (warnings, errors) verbatim."""
    lines = text.splitlines()
    kept: list[str] = []
    for i, line in enumerate(lines):
        if line.startswith("Fra:") and i + 1 < len(lines) and lines[i + 1].startswith("Fra:"):
            continue
        kept.append(line)
    return "".join(line + "\n" for line in kept)


@contextlib.contextmanager
def _capture(renderer: Any, log_path: Path) -> Iterator[None]:
    """Send the renderer's captured Blender output (C-level stdout/stderr) to `log_path`."""
    previous = getattr(renderer, "log", None)
    with open(log_path, "a", encoding="utf-8", errors="replace") as f:

        def log(text: str) -> None:
            f.write(condense_log(text))
            f.flush()

        renderer.log = log
        try:
            yield
        finally:
            renderer.log = previous


# --------------------------------------------------------------------------- render-one


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
) -> Any:
    """A CharacterJob for one model given on the command line (`builtin`, a file or a zip)."""
    from thagen.render import characters as chars
    from thagen.render.manifest import CharacterJob, Lighting, RenderSettings, default_annotation_path
    from thagen.render.sampling import PoseSpec, resolve_rest_pose

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
        from thagen.rigs.overrides import find_override_file

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
        render=RenderSettings(samples=samples),
        shard_size=max(1, poses),
        output_dir=Path("."),
        source="command line",
    )


def render_one(
    job: Any,
    out_dir: Path,
    settings: RunSettings,
    *,
    poses: list[dict[str, float]] | None = None,
    stem: str | None = None,
    renderer: Any = None,
) -> dict[str, Any]:
    """Quick look at one character: PNG files instead of shards, plus QA and a contact sheet.

    Writes <stem>_rest.png, <stem>_<i:03d>_expr.png / _rot.png, poses.json, contact_sheet.png
    and blender.log into `out_dir`; `poses` replaces the sampled poses (e.g. to show signs).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = stem or ("builtin" if job.builtin else Path(job.zip_member or job.model_path).stem)
    own = renderer is None
    renderer = renderer or make_renderer(settings)
    try:
        return _render_one(job, out_dir, settings, renderer, poses, stem)
    finally:
        if own:
            with _suppress_all():
                renderer.close()


def _render_one(
    job: Any, out_dir: Path, settings: RunSettings, renderer: Any, poses: list[dict] | None, stem: str
) -> dict[str, Any]:
    timer = _Timer()
    stage = ["read"]
    poses = job.poses() if poses is None else [{**dict.fromkeys(POSE_NAMES, 0.0), **p} for p in poses]
    rest_pose = {n: float(job.rest_pose[n]) for n in POSE_NAMES}
    files: list[str] = []

    def write(name: str, data: bytes) -> None:
        atomic_write_bytes(out_dir / name, data)
        files.append(name)

    try:
        with _capture(renderer, out_dir / "blender.log"):
            prep = prepare_character(job, renderer, settings, timer, stage)
            stage[0] = "render"
            shot = _Shot(renderer, job, timer, None)
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
        with _suppress_all():
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
    sheet = contact_sheet_for(f"{stem} ({job.id})", rest, qa_imgs, pairs[:8], qa_dict)
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
    atomic_write_bytes(out_dir / "poses.json", _json_bytes(summary))
    return summary
