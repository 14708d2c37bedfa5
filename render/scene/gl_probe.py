"""Can Blender draw with OpenGL here? Asked once per process, in a child process.

EEVEE and Workbench rasterize through OpenGL 4.3; the `bpy` module has no window, so Blender
opens a headless context through EGL: a GPU driver's (NVIDIA's libEGL_nvidia, Mesa's for AMD /
Intel) or, on a machine without a GPU, Mesa's software rasterizer llvmpipe (Debian:
libegl1 libegl-mesa0 libgl1-mesa-dri libgbm1). Where none works, Blender does not raise: it
aborts the whole process at the first such render. So the question is asked in a child process
that renders 8x8 pixels with Workbench, and a run that names `eevee` or `workbench` on a
machine without OpenGL stops at once with one line naming the field, instead of losing every
worker. No environment variable is needed for either path (Blender picks EGL's device itself).
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from dataclasses import dataclass

from thagen.errors import ConfigError

GL_PACKAGES = "libegl1 libegl-mesa0 libgl1-mesa-dri libgbm1"
_MARK = "THAGEN_GL"
_PROBE = f"""
import os, tempfile
import bpy, gpu
scene = bpy.context.scene
scene.render.engine = "BLENDER_WORKBENCH"
scene.render.resolution_x = scene.render.resolution_y = 8
scene.render.filepath = os.path.join(tempfile.mkdtemp(prefix="thagen-gl-probe-"), "probe.png")
bpy.ops.render.render(write_still=True)
os.unlink(scene.render.filepath)
os.rmdir(os.path.dirname(scene.render.filepath))
print("{_MARK}", gpu.platform.device_type_get(), "|", gpu.platform.renderer_get(), flush=True)
"""


@dataclass(frozen=True)
class GlProbe:
    """What the probe found: whether OpenGL works, and on what (e.g. llvmpipe: the CPU)."""

    ok: bool
    device_type: str = ""  # Blender's gpu.platform.device_type_get(): NVIDIA, AMD, SOFTWARE, ...
    renderer: str = ""  # the OpenGL renderer string
    detail: str = ""  # why not, when not ok

    @property
    def software(self) -> bool:
        return self.device_type == "SOFTWARE" or "llvmpipe" in self.renderer


@functools.lru_cache(maxsize=1)
def probe_gl(timeout: float = 180.0) -> GlProbe:
    """Render 8x8 pixels with Workbench in a child Python; cached for the process."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", _PROBE],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "PYTHONNOUSERSITE": "1"},
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return GlProbe(False, detail=f"{type(exc).__name__}: {exc}")
    for line in done.stdout.splitlines():
        if line.startswith(_MARK + " "):
            device, _, renderer = line[len(_MARK) + 1 :].partition(" | ")
            return GlProbe(True, device.strip(), renderer.strip())
    lines = [x.strip() for x in (done.stderr + done.stdout).splitlines() if x.strip()]
    useful = [x for x in lines if "EGL" in x or "OpenGL" in x or "GPU" in x or "context" in x]
    detail = (useful or lines or [f"exit status {done.returncode}"])[-1]
    return GlProbe(False, detail=detail[:300])


def engine_problem(engine: str) -> str | None:
    """Why `engine` cannot render on this machine, or None when it can (Cycles always can)."""
    if engine.lower() == "cycles":
        return None
    probe = probe_gl()
    if probe.ok:
        return None
    return (
        f"{engine} needs OpenGL through EGL, which Blender could not open here ({probe.detail}); "
        f"install a GPU driver with EGL or, for the CPU, Debian's {GL_PACKAGES}, or use cycles"
    )


def require_engine(engine: str, source: object = None) -> None:
    """Raise a one-line ConfigError naming `render.engine` (of `source`, the manifest) when the
    engine cannot render here."""
    problem = engine_problem(engine)
    if problem is not None:
        where = f"{source}: " if source else ""
        raise ConfigError(f"{where}render.engine: {problem}")
