"""Prepare ONE character for rendering: plan (read, rig, framing; plan.py) -> import -> frame.

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

from thagen.render.character.plan import CharacterPlan, plan_character
from thagen.render.character.prefetch import PlannedJob
from thagen.render.character.records import framing_dict, job_describe, to_dict
from thagen.render.character.vector_hooks import shot_pose
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
    """A character planned (render/character/plan.py) and imported: ready to be posed and rendered."""

    plan: CharacterPlan
    imported: ImportedCharacter
    report: dict[str, Any]

    @property
    def model(self) -> Model:
        return self.plan.model

    @property
    def model_path(self) -> Path:
        return self.plan.model_path

    @property
    def rig(self) -> RigReport:
        return self.plan.rig

    @property
    def framing(self) -> Framing:
        return self.plan.framing


def prepare_character(
    job: CharacterJob,
    renderer: Renderer,
    settings: RunSettings,
    timer: Timer,
    stage: list[str],
    planned: PlannedJob | None = None,
) -> Prepared:
    """plan (or take the plan made ahead) -> import -> frame; `stage[0]` tracks where we are."""
    report: dict[str, Any] = {"id": job.id, "model": job_describe(job), "name": ""}
    if planned is not None:
        t0 = time.perf_counter()
        plan = planned.result(stage)
        timer.add("plan_wait", time.perf_counter() - t0)  # what the helper thread had not finished
        for name, seconds in plan.seconds.items():
            timer.add(f"prefetched_{name}", seconds)  # spent while the previous character rendered
    else:
        plan = plan_character(job, settings, stage)
        for name, seconds in plan.seconds.items():
            timer.add(name, seconds)
    report["name"] = plan.model.name
    report["rig"] = plan.rig.to_dict()
    report["framing"] = framing_dict(plan.framing)
    stage[0] = "import"
    t0 = time.perf_counter()
    renderer.framing_preset = job.framing_preset  # render/framing/presets.py
    view = (plan.framing.head_top, plan.framing.chin, plan.framing.center_x)
    # framed before the import, which then leaves out the never-moving triangles out of view
    imported = renderer.load_character(plan.model, plan.rig, plan.model_path, job.lighting.preset, view=view)
    report["import"] = to_dict(imported.report)
    renderer.frame(*view)
    timer.add("import", time.perf_counter() - t0)
    return Prepared(plan, imported, report)
