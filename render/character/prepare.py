"""Prepare ONE character for rendering: read -> normalize -> framing -> import -> frame.

Split from render/character/render.py so `thagen render-one`, the annotation tool's front
renders and benchmarks reuse exactly the steps `render_character` takes, and so each stage
(`stage[0]`) is named when it fails. Also the pose record and the per-shot timing helpers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from thagen.errors import RigError
from thagen.render.character.records import (
    framing_dict,
    job_describe,
    to_dict,
)
from thagen.render.character.vector_hooks import (
    check_required,
    shot_pose,
)
from thagen.render.output.shards import POSE_NAMES
from thagen.render.poses.vector_posing import vector_expression_only
from thagen.render.scene.renderer import ImportedCharacter, Renderer
from thagen.render.settings import RunSettings

if TYPE_CHECKING:
    from thagen.render.framing.estimate import Framing
    from thagen.render.manifest import CharacterJob
    from thagen.rigs.model import Model
    from thagen.rigs.normalize import RigReport

ImagesCallback = Callable[[int], None]


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
    """Pose + render through the renderer, counting images and Blender time; `layer` renders
    THA3's eyebrow layer images (render/poses/sample_images.py), once per character."""

    def __init__(self, renderer: Renderer, job: CharacterJob, timer: Timer, on_images: ImagesCallback | None):
        self.r = renderer
        self.lighting = job.lighting
        self.timer = timer
        self.on_images = on_images
        self.images = 0
        self._ambient: float | None = None
        self._layers: dict[tuple[str, tuple[tuple[str, float], ...]], bytes] = {}

    def layer(self, which: str, pose: dict[str, float]) -> bytes:
        """`pose` rendered as eyebrow layer `which`; the same pose again (every sample's rest
        pose) reuses the render."""
        key = (which, tuple(sorted(pose.items())))
        if key not in self._layers:
            self._layers[key] = self(pose, which)
        else:
            self.images += 1
            if self.on_images is not None:
                self.on_images(1)
        return self._layers[key]

    def __call__(self, pose: dict[str, float], layer: str | None = None) -> bytes:
        t0 = time.perf_counter()
        ambient = float(pose.get("ambient", self.lighting.ambient))
        if ambient != self._ambient:
            self.r.set_lighting(self.lighting.preset, ambient=ambient, diffuse=self.lighting.diffuse)
            self._ambient = ambient
        self.r.set_pose(shot_pose(pose))
        t1 = time.perf_counter()
        png = self.r.render_png() if layer is None else self.r.render_layer(layer)
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
    imported: ImportedCharacter
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
    report["import"] = to_dict(imported.report)
    renderer.framing_preset = job.framing_preset  # render/framing/presets.py
    renderer.frame(framing.head_top, framing.chin, framing.center_x)
    timer.add("import", time.perf_counter() - t0)
    return Prepared(model, model_path, rig, framing, imported, report)
