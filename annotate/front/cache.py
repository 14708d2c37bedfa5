"""What a front render of the annotation page is, and where it is cached: plain data and helpers.

Shared by the server side (annotate/front/renders.py: the worker process manager and the disk
cache) and the Blender worker (annotate/front/blender_worker.py), so neither imports the other at run
time. The calls into thagen.render.character are all here (`adhoc_job`, `read_character`,
`make_front_renderer`), so they are easy to re-point.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from thagen import __version__

if TYPE_CHECKING:
    from thagen.render.manifest import CharacterJob
    from thagen.render.scene.blender_scene import BlenderRenderer
    from thagen.rigs.model import Model
    from thagen.rigs.normalize import RigReport

# The picture spans 3.2 head heights, the head top 0.55 head heights under its top edge: the
# head and shoulders, with room above for hair the estimate left out.
VIEW_SPAN = 3.2
VIEW_ABOVE = 0.55
THUMB_SIZE = 128
RENDER_TIMEOUT = 900.0  # seconds for one picture, Blender start included; then the worker is killed


@dataclass(frozen=True)
class FrontSettings:
    size: int = 768
    samples: int = 4
    threads: int = 0


def thumb_settings(settings: FrontSettings) -> FrontSettings:
    """The queue thumbnails' own render settings (small and 1 sample: cheap before the real one)."""
    return FrontSettings(size=THUMB_SIZE, samples=1, threads=settings.threads)


@dataclass(frozen=True)
class FrontRequest:
    """One picture to render: plain data, so it crosses the process boundary."""

    key: str
    job: CharacterJob
    view_top: tuple[float, float, float]
    view_chin: tuple[float, float, float]
    center_x: float
    out_dir: str
    cache_dir: str
    size: int = 0  # 0: the worker's FrontSettings; else this size (a queue thumbnail)
    samples: int = 0


@dataclass
class FrontResult:
    key: str
    ok: bool
    error: str = ""
    seconds: float = 0.0


@dataclass
class Mapping:
    """Pixel <-> MMD model space of one front render (orthographic, front view)."""

    size: int
    col0: float
    col_per_x: float
    row0: float
    row_per_y: float
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def row_of(self, y: float) -> float:
        return self.row0 + self.row_per_y * y

    def y_of(self, row: float) -> float:
        return (row - self.row0) / self.row_per_y

    def col_of(self, x: float) -> float:
        return self.col0 + self.col_per_x * x

    def x_of(self, col: float) -> float:
        return (col - self.col0) / self.col_per_x


# --------------------------------------------------------------------------- calls into render/


def adhoc_job(model: str, *, member: str | None = None, poses: int = 0) -> CharacterJob:
    """The CharacterJob `thagen render-one` makes for a model given on the command line."""
    from thagen.render.character import adhoc_job as render_adhoc_job

    return render_adhoc_job(model, member=member, poses=poses)


def read_character(job: CharacterJob, cache_dir: Path | str | None) -> tuple[Model, Path, RigReport]:
    """(model, the path its textures resolve from, rig report) the way `thagen render` reads it."""
    from thagen.render.character import RunSettings, load_model, rig_for

    settings = RunSettings(cache_dir=None if cache_dir is None else str(cache_dir))
    model, model_path = load_model(job, settings)
    return model, model_path, rig_for(model, job, model_path)


def make_front_renderer(settings: FrontSettings) -> BlenderRenderer:
    """The worker's one Blender renderer (imports bpy)."""
    from thagen.render.character import RunSettings, make_renderer

    return make_renderer(
        RunSettings(image_size=settings.size, samples=settings.samples, threads=settings.threads)
    )


# --------------------------------------------------------------------------- cache layout


def view_for(head_top: list[float], chin: list[float]) -> tuple[tuple, tuple]:
    """(top, chin) points to hand `BlenderRenderer.frame` so the picture shows head and shoulders.

    frame() puts its top on row size/4 and its chin on 3 size/4, so the picture spans twice
    their distance."""
    h = float(head_top[1] - chin[1])
    image_top = float(head_top[1]) + VIEW_ABOVE * h
    top_y = image_top - VIEW_SPAN * h / 4
    chin_y = top_y - VIEW_SPAN * h / 2
    return (float(head_top[0]), top_y, float(head_top[2])), (float(chin[0]), chin_y, float(chin[2]))


def render_key(job: CharacterJob, settings: FrontSettings) -> str:
    """Everything the picture depends on: the model, its rig override, the look and the size."""
    override = job.override_path
    parts = {
        "model": job.sha256,
        "override": hashlib.sha256(Path(override).read_bytes()).hexdigest() if override else "",
        "size": settings.size,
        "samples": settings.samples,
        "lighting": job.lighting.to_dict(),
        "rest_pose": {k: float(v) for k, v in sorted(job.rest_pose.items())},
        "view": [VIEW_SPAN, VIEW_ABOVE],
        "thagen": __version__,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:24]


def entry_dir(cache_dir: Path, key: str) -> Path:
    return Path(cache_dir) / "fronts" / key


def load_mapping(directory: Path) -> Mapping | None:
    """The mapping of a finished render (the PNG is written first, the mapping last)."""
    path = Path(directory) / "mapping.json"
    if not (path.is_file() and (Path(directory) / "front.png").is_file()):
        return None
    try:
        return Mapping(**json.loads(path.read_text()))
    except (ValueError, TypeError):
        return None


def write_front(directory: Path | str, png: bytes, mapping: Mapping) -> None:
    """front.png, thumb.png, then mapping.json, each atomically: mapping.json marks it done."""
    import io

    from PIL import Image

    from thagen.files import atomic_write_bytes

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(directory / "front.png", png)
    img = Image.open(io.BytesIO(png))
    img.thumbnail((THUMB_SIZE, THUMB_SIZE))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    atomic_write_bytes(directory / "thumb.png", buf.getvalue())
    atomic_write_bytes(directory / "mapping.json", json.dumps(mapping.to_dict(), indent=1).encode())
