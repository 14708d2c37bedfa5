"""`thagen train tha3` configs: the shared run keys plus THA3's five stage sections.

Run-wide keys are THA1's (`thagen.train.config.RunConfig`), with `system: tha3` required so a
THA3 file given to the THA1 trainer (or the reverse) fails in one line. THA3's own keys:

- `width_divisor` (1 = THA3's published widths; 16 = tiny), `bottleneck_blocks` (null = THA3's
  6; fewer for CPU smoke runs), `separable` (THA3's separable variant);
- per stage (`eyebrow_decomposer`, `eyebrow_combiner`, `face_morpher`, `rotator`, `editor`) THA1's
  stage keys, plus `target_image` (face_morpher: the image it learns, default `expr`),
  `inputs` (eyebrow_combiner: `auto`, `layers`, `decomposer` or `rest`),
  `decomposer_checkpoint` (eyebrow_combiner) and `rotator_checkpoint` (editor).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

from thagen.errors import ConfigError
from thagen.train.config import RunConfig, parse_config, read_config
from thagen.train.tha3 import NETWORK_NAMES, NetWidth, Tha3Widths
from thagen.train.tha3_training.geometry import Tha3Geometry

STAGES = NETWORK_NAMES  # eyebrow_decomposer, eyebrow_combiner, face_morpher, rotator, editor
_IMAGE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass
class Tha3StageConfig:
    """Per-network settings; defaults follow THA1's recipe (THA3 publishes none)."""

    batch_size: int = 25
    epochs: int | None = 6
    max_steps: int | None = None
    lr: float = 1e-4
    betas: tuple[float, float] = (0.5, 0.999)
    perceptual_weight: float = 0.0
    target_image: str = "expr"  # face_morpher: all morphs and iris rotation, no head/body rotation
    inputs: str = "auto"  # eyebrow_combiner: where its (background, eyebrow layer) come from
    decomposer_checkpoint: Path | None = None  # eyebrow_combiner with inputs decomposer
    rotator_checkpoint: Path | None = None  # editor: default OUT/rotator/model.pt


@dataclass
class Tha3Config(RunConfig):
    """THA3's five networks (`thagen train tha3 CONFIG [--stage NAME]`)."""

    SYSTEM: ClassVar[str] = "tha3"
    STAGE_NAMES: ClassVar[tuple[str, ...]] = STAGES
    STAGE_CLASS: ClassVar[type] = Tha3StageConfig
    STAGE_ONLY: ClassVar[dict[str, tuple[str, ...]]] = {
        "target_image": ("face_morpher",),
        "inputs": ("eyebrow_combiner",),
        "decomposer_checkpoint": ("eyebrow_combiner",),
        "rotator_checkpoint": ("editor",),
    }

    out_dir: Path = Path("runs/tha3")
    image_size: int = 512
    width_divisor: int = 1
    bottleneck_blocks: int | None = None
    separable: bool = False
    eyebrow_decomposer: Tha3StageConfig = field(default_factory=Tha3StageConfig)
    eyebrow_combiner: Tha3StageConfig = field(default_factory=Tha3StageConfig)
    face_morpher: Tha3StageConfig = field(default_factory=Tha3StageConfig)
    rotator: Tha3StageConfig = field(default_factory=Tha3StageConfig)
    editor: Tha3StageConfig = field(default_factory=lambda: Tha3StageConfig(batch_size=16, epochs=3))

    def stage(self, name: str) -> Tha3StageConfig:
        return getattr(self, name)

    def widths(self) -> Tha3Widths:
        """Every network's NetWidth from `width_divisor`, `bottleneck_blocks` and `separable`."""
        widths = Tha3Widths.published(self.separable).scaled(self.width_divisor)
        if self.bottleneck_blocks is None:
            return widths
        return Tha3Widths(
            **{
                f.name: replace(getattr(widths, f.name), bottleneck_blocks=self.bottleneck_blocks)
                for f in dataclasses.fields(widths)
            }
        )

    def width(self, stage: str) -> NetWidth:
        return getattr(self.widths(), stage)

    @property
    def geometry(self) -> Tha3Geometry:
        return Tha3Geometry(self.image_size)


def check_tha3(cfg: Tha3Config) -> Tha3Config:
    """What the generic parser cannot check: sizes THA3's crops and widths allow."""
    where = cfg.path or "<config>"
    try:
        cfg.geometry  # noqa: B018 - validates image_size
        cfg.widths()
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from exc
    except ValueError:
        raise ConfigError(
            f"{where}: key 'width_divisor': THA3's widths (64, 32 for the editor; 512 and 256 at the "
            f"bottleneck) are not divisible by {cfg.width_divisor}"
        ) from None
    target = cfg.face_morpher.target_image
    if not _IMAGE_NAME.match(target) or target in ("pose", "rest"):
        raise ConfigError(f"{where}: key 'face_morpher.target_image': not an image name: {target!r}")
    return cfg


def tha3_config_from_dict(raw: object, where: str = "<config>", path: Path | None = None) -> Tha3Config:
    """Validate a parsed THA3 YAML mapping (it must say `system: tha3`)."""
    return check_tha3(parse_config(Tha3Config, raw, where, path))


def load_tha3_config(name: str | Path, overrides: dict[str, Any] | None = None) -> Tha3Config:
    """Read a THA3 config file or shipped name (`tha3`, `tha3_tiny`); `overrides` as for THA1."""
    return check_tha3(read_config(Tha3Config, name, overrides))
