"""The renderer interface the per-character code drives, and the one place a Blender one is made.

`Renderer` is what render/character/render.py needs of a renderer; `BlenderRenderer`
(render/scene/blender_scene.py, imports bpy) is the implementation. Keeping the protocol here lets
pure code (the runner, backends, tests) type against it without importing Blender.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from thagen.render.scene.gl_probe import probe_gl, require_engine
from thagen.render.settings import RunSettings

if TYPE_CHECKING:
    from thagen.render.scene.blender_scene import BlenderRenderer
    from thagen.rigs.model import Model
    from thagen.rigs.normalize import RigReport


class SupportsToDict(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


class ImportedCharacter(Protocol):
    """What `Renderer.load_character` returns (rigs/blender/imported.py's ImportedModel for
    Blender): the character in the scene, with the import's report (warnings, timings, ...)."""

    @property
    def report(self) -> SupportsToDict: ...


class Renderer(Protocol):
    """One scene holding one character at a time (see BlenderRenderer for the real one)."""

    image_size: int
    engine: str  # cycles, eevee or workbench (render/scene/engines.py)
    blender_version: str
    framing_preset: str  # render/framing/presets.py: where `frame` puts the head
    log: Callable[[str], None] | None

    def load_character(
        self,
        model: Model,
        rig: RigReport,
        model_path: Path | None = None,
        shading: str | None = None,
        *,
        view: tuple[np.ndarray, np.ndarray, float | None] | None = None,
    ) -> ImportedCharacter:
        """Import a model + its normalized rig; returns the imported character. `view`: the
        framing (`frame`'s arguments) it will be rendered with, which lets the import leave out
        what that view never sees."""

    def unload_character(self) -> None: ...

    def frame(
        self, head_top_mmd: np.ndarray, chin_mmd: np.ndarray, center_x_mmd: float | None = None
    ) -> None: ...

    def project(self, points_mmd: np.ndarray) -> np.ndarray:
        """(N, 2) pixel coordinates of MMD-space points."""

    def set_lighting(self, preset: str = "phong", ambient: float = 0.5, diffuse: float = 0.5) -> None: ...

    def set_pose(self, pose: Mapping[str, float]) -> None: ...

    def render_png(self) -> bytes: ...

    def set_region(self, box: tuple[int, int, int, int] | None) -> None:
        """Render only this pixel box (x0, y0, x1, y1) from now on, or the whole image (None)."""

    def render_layer(self, which: str) -> bytes:
        """The current pose as THA3's eyebrow layer image `which` (render/scene/eyebrow_layer.py)."""

    def close(self) -> None: ...


def make_renderer(settings: RunSettings) -> BlenderRenderer:
    """The one Blender renderer of a process (imports bpy); a `Renderer`.

    EEVEE and Workbench need OpenGL: asked first in a child process (render/scene/gl_probe.py),
    since Blender aborts the process where it has none."""
    from thagen.render.scene.blender_scene import BlenderRenderer

    require_engine(settings.engine)
    renderer = BlenderRenderer(
        image_size=settings.image_size,
        engine=settings.engine,
        device=settings.device.upper(),
        samples=settings.samples,
        threads=settings.threads,
        adaptive=settings.adaptive,
    )
    if settings.engine != "cycles" and settings.device.lower() == "gpu":
        probe = probe_gl()
        if probe.software:
            renderer.warn(f"no GPU for OpenGL ({probe.renderer}); {settings.engine} renders on the CPU")
    renderer.blender_version = blender_version()
    return renderer


def blender_version() -> str:
    import bpy

    return str(bpy.app.version_string)
