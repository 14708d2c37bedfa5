"""The renderer interface the per-character code drives, and the one place a Blender one is made.

`Renderer` is what render/character/render.py needs of a renderer; `BlenderRenderer`
(render/scene/blender_scene.py, imports bpy) is the implementation. Keeping the protocol here lets
pure code (the runner, backends, tests) type against it without importing Blender.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from thagen.render.settings import RunSettings


class Renderer(Protocol):
    """One scene holding one character at a time (see BlenderRenderer for the real one)."""

    image_size: int
    blender_version: str
    log: Callable[[str], None] | None

    def load_character(
        self, model: Any, rig: Any, model_path: Path | None = None, shading: str | None = None
    ) -> Any:
        """Import a model + its normalized rig; returns the imported character (has `.report`)."""

    def unload_character(self) -> None: ...

    def frame(
        self, head_top_mmd: np.ndarray, chin_mmd: np.ndarray, center_x_mmd: float | None = None
    ) -> None: ...

    def project(self, points_mmd: np.ndarray) -> np.ndarray:
        """(N, 2) pixel coordinates of MMD-space points."""

    def set_lighting(self, preset: str = "phong", ambient: float = 0.5, diffuse: float = 0.5) -> None: ...

    def set_pose(self, pose: Mapping[str, float]) -> None: ...

    def render_png(self) -> bytes: ...

    def close(self) -> None: ...


def make_renderer(settings: RunSettings) -> Renderer:
    """The one Blender renderer of a process (imports bpy)."""
    from thagen.render.scene.blender_scene import BlenderRenderer

    renderer = BlenderRenderer(
        image_size=settings.image_size,
        engine=settings.engine.upper(),
        device=settings.device.upper(),
        samples=settings.samples,
        threads=settings.threads,
    )
    renderer.blender_version = blender_version()
    return renderer  # type: ignore[return-value]


def blender_version() -> str:
    import bpy

    return str(bpy.app.version_string)
