"""The Blender side of the annotation tool's front renders (runs in the worker process only).

The character is imported and posed exactly as `thagen render` does it (its lighting preset,
its rest pose: eyes and mouth open for THA1), but the orthographic camera shows the head and
shoulders instead of the THA1 crop, so the reset image is an exact crop of this picture.
"""

from __future__ import annotations

import os
import queue
import time
import traceback
from typing import TYPE_CHECKING

import bpy  # noqa: F401 - this module is the worker's Blender process
import numpy as np

from thagen.annotate.front.cache import (
    FrontRequest,
    FrontResult,
    FrontSettings,
    Mapping,
    make_front_renderer,
    read_character,
    write_front,
)
from thagen.render.output.shards import POSE_NAMES

if TYPE_CHECKING:
    from multiprocessing.queues import Queue

    from thagen.render.scene.blender_scene import BlenderRenderer


def render_front(renderer: BlenderRenderer, req: FrontRequest) -> tuple[bytes, Mapping]:
    job = req.job
    model, model_path, rig = read_character(job, req.cache_dir)
    size, samples = renderer.image_size, renderer.scene.cycles.samples
    try:
        if req.size:  # a queue thumbnail: smaller and fewer samples, then back to the settings
            renderer.set_image_size(req.size)
            renderer.scene.cycles.samples = req.samples or samples
        shown = int(renderer.image_size)
        renderer.load_character(model, rig, model_path, job.lighting.preset)
        try:
            renderer.frame(np.array(req.view_top), np.array(req.view_chin), req.center_x)
            renderer.set_lighting(
                job.lighting.preset, ambient=job.lighting.ambient, diffuse=job.lighting.diffuse
            )
            renderer.set_pose({n: float(job.rest_pose.get(n, 0.0)) for n in POSE_NAMES})
            png = renderer.render_png()
            corners = renderer.project(np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]))
        finally:
            renderer.unload_character()
    finally:
        renderer.set_image_size(size)
        renderer.scene.cycles.samples = samples
    origin = corners[0]
    mapping = Mapping(
        size=shown,
        col0=float(origin[0]),
        col_per_x=float(corners[1][0] - origin[0]),
        row0=float(origin[1]),
        row_per_y=float(corners[2][1] - origin[1]),
    )
    return png, mapping


def worker_main(
    requests: Queue[FrontRequest | None], results: Queue[FrontResult], settings: FrontSettings
) -> None:
    """Render requests until a None arrives; every failure is a result, never a dead worker."""
    parent = os.getppid()
    renderer = make_front_renderer(settings)
    try:
        while True:
            try:
                req = requests.get(timeout=1.0)
            except queue.Empty:
                if os.getppid() != parent:  # the server was killed: do not linger
                    return
                continue
            if req is None:
                return
            t0 = time.perf_counter()
            try:
                png, mapping = render_front(renderer, req)
                mapping.seconds = round(time.perf_counter() - t0, 3)
                write_front(req.out_dir, png, mapping)
                results.put(FrontResult(req.key, True, seconds=mapping.seconds))
            except Exception as exc:  # noqa: BLE001 - one bad model must not stop the worker
                traceback.print_exc()
                results.put(
                    FrontResult(req.key, False, f"{type(exc).__name__}: {exc}", time.perf_counter() - t0)
                )
    finally:
        renderer.close()
