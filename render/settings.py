"""The run-wide settings and the per-character result records every backend exchanges.

These are plain dataclasses (picklable, JSON-able) because they cross process and machine
boundaries: the local pool's pipes and Ray's object store carry them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from thagen import __version__
from thagen.errors import ThagenError

if TYPE_CHECKING:
    from thagen.render.manifest import CharacterJob, Manifest

# QA renders per character: eyes closed, mouth closed (both at no rotation).
QA_RENDERS = 2


@dataclass
class RunSettings:
    """How the ONE renderer of a process is set up, and run-wide options.

    Per-character things (poses, lighting, rest pose, shard size, seed) travel in the
    CharacterJob; the image size, engine and samples must be the same for the whole run because
    the renderer is built once per process.
    """

    image_size: int = 256
    samples: int = 4
    engine: str = "cycles"  # cycles | eevee | workbench (render/scene/engines.py)
    device: str = "cpu"
    adaptive: bool = False  # Cycles' adaptive sampling (render.adaptive)
    threads: int = 0
    qa: bool = True
    exclude_flagged: bool = True  # hard QA flags hold a character back (render/character/flags.py)
    seed: int = 0
    cache_dir: str | None = None

    @classmethod
    def from_manifest(cls, manifest: Manifest, **overrides: int | str | bool | None) -> RunSettings:
        """The manifest's settings; `overrides` (RunSettings fields) replace them unless None."""
        kw: dict[str, Any] = {
            "image_size": manifest.image_size,
            "samples": manifest.render.samples,
            "engine": manifest.render.engine,
            "device": manifest.render.device,
            "adaptive": manifest.render.adaptive,
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


def expected_images(job: CharacterJob, settings: RunSettings) -> int:
    """Images one character costs: the reset, 2 per pose plus the manifest's extra `images`, and
    the QA renders."""
    qa = QA_RENDERS if settings.qa else 0
    return 1 + (2 + len(job.images)) * job.pose_count + qa


def default_character_timeout(job: CharacterJob, settings: RunSettings) -> float:
    """A generous per-character limit: start-up and import, plus 20 s an image at 256 px / 4 spp
    (about 40x what a 2-core machine needs), scaled by pixels and samples. Only a hang hits it."""
    scale = (settings.image_size / 256) ** 2 * max(1, settings.samples) / 4
    return 600.0 + 20.0 * expected_images(job, settings) * max(scale, 0.25)
