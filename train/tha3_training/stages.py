"""THA3's five stages for the shared training loop: what each reads, predicts and is scored on.

Like THA1, each network trains on its own, fed the *rendered* image of the step before it
(teacher forcing), so the stages are independent of one another's quality and can run in any
order, except the editor, which needs the trained rotator's warp (as THA1's combiner needs its
rotator). At image size S (`geometry`: THA3's boxes scaled by S/512):

================== ================================== ========================= ====================
stage              input                              pose                      target (L1 terms)
================== ================================== ========================= ====================
eyebrow_decomposer rest, head box                     none                      eyebrow_layer.png,
                                                                                face_no_eyebrow.png
eyebrow_combiner   (background, eyebrow layer): the   eyebrow [0:12]            eyebrow.png (outputs
                   two layer images, the frozen                                 2 and 0)
                   decomposer's output, or the rest
                   crop as both (`inputs`)
face_morpher       eyebrow.png, face box              face [12:39]              `target_image`
                                                                                (expr.png; outputs 0
                                                                                and 3)
rotator            expr.png at S/2                    rotation [39:45]          rot.png at S/2
                                                                                (warp and direct)
editor             expr.png, the frozen rotator's     rotation [39:45]          rot.png (final and
                   warp and grid upsampled to S                                 warped)
================== ================================== ========================= ====================

Why two terms where a network has two outputs: the face morpher's eye blend reads its iris/mouth
image through `.detach()` (THA3's design), so the iris/mouth heads learn only from a loss on
their own output; the rotator's direct image is THA3's training signal that the poser never
uses; the combiner's outputs 0 and 2 differ only in the alpha used to lay the eyebrows over the
background (the poser uses 2); the editor's warped image keeps its grid honest where the colour
blend would otherwise paint over a bad warp. Every term has weight 1 (THA1's rotator recipe).
"""

from __future__ import annotations

import torch
from torch import nn

from thagen.errors import ConfigError
from thagen.train.core.loop import LossTerm, StepOutput
from thagen.train.data import ShardInfo, require_images
from thagen.train.data.samples import SampleFormat
from thagen.train.tha3 import EYEBROW_POSE, FACE_POSE, ROTATION_POSE
from thagen.train.tha3_training.config import STAGES, Tha3Config
from thagen.train.tha3_training.geometry import identity_decomposition
from thagen.train.tha3_training.models import (
    build_network,
    frozen_network,
    start_with_an_empty_eyebrow_layer,
    width_spec,
)

LAYER_IMAGES = ("eyebrow_layer", "face_no_eyebrow")  # the eyebrows alone; the rest without them
HINT = "render with `images: tha3_stages`, which writes the eyebrow layers"


class Tha3Task:
    """One THA3 stage (see the module docstring)."""

    system = "tha3"

    def __init__(self, cfg: Tha3Config, stage: str) -> None:
        if stage not in STAGES:
            raise ValueError(f"unknown THA3 stage {stage!r} (one of {', '.join(STAGES)})")
        self.cfg, self.stage, self.stage_index = cfg, stage, STAGES.index(stage)
        self.geometry = cfg.geometry
        self.width = cfg.width(stage)
        self.inputs = cfg.eyebrow_combiner.inputs if stage == "eyebrow_combiner" else ""
        self.decomposer: nn.Module | None = None
        self.rotator: nn.Module | None = None

    @property
    def sample_format(self) -> SampleFormat:
        images = {
            "eyebrow_decomposer": ("rest", *LAYER_IMAGES),
            "eyebrow_combiner": ("eyebrow", *(LAYER_IMAGES if self.inputs == "layers" else ("rest",))),
            "face_morpher": ("eyebrow", self.cfg.face_morpher.target_image),
            "rotator": ("expr", "rot"),
            "editor": ("expr", "rot"),
        }[self.stage]
        return SampleFormat(tuple(dict.fromkeys(images)), pose="tha3")

    def build(self) -> nn.Module:
        network = build_network(self.stage, self.width)
        if self.stage == "eyebrow_decomposer":
            start_with_an_empty_eyebrow_layer(network)
        return network

    def record_info(self) -> dict[str, object]:
        if self.stage == "eyebrow_combiner":
            return {"inputs": self.inputs}
        if self.stage == "face_morpher":
            return {"target_image": self.cfg.face_morpher.target_image}
        return {}

    def spec(self) -> dict[str, object]:
        return {**width_spec(self.width), **self.record_info()}

    def prepare(self, shards: list[ShardInfo], device: torch.device, channels_last: bool) -> None:
        """Resolve the combiner's inputs, check every shard has this stage's images, load the
        frozen networks it feeds on."""
        run, size = self.cfg.out_dir, self.cfg.image_size
        if self.stage == "eyebrow_combiner" and self.inputs == "auto":
            self.inputs = self._auto_inputs(shards)
        needed_by = f"THA3's {self.stage}"
        require_images(
            shards, [n for n in self.sample_format.images if n != "rest"], needed_by=needed_by, hint=HINT
        )
        if self.inputs == "decomposer":
            self.decomposer = frozen_network(
                self.cfg.eyebrow_combiner.decomposer_checkpoint, run, "eyebrow_decomposer", size, device,
                key="eyebrow_combiner.decomposer_checkpoint",
            )  # fmt: skip
        if self.stage == "editor":
            self.rotator = frozen_network(
                self.cfg.editor.rotator_checkpoint,
                run,
                "rotator",
                size,
                device,
                key="editor.rotator_checkpoint",
            )

    def _auto_inputs(self, shards: list[ShardInfo]) -> str:
        """The layer images when every shard has them, else a trained decomposer, else the rest crop."""
        if all(f"{n}.png" in s.members for s in shards for n in LAYER_IMAGES):
            return "layers"
        path = self.cfg.eyebrow_combiner.decomposer_checkpoint
        if path is not None or (self.cfg.out_dir / "eyebrow_decomposer" / "model.pt").is_file():
            return "decomposer"
        return "rest"

    # -- forward passes --------------------------------------------------------------------
    def forward(self, model: nn.Module, batch: dict) -> StepOutput:
        g, pose = self.geometry, batch["pose"]
        if self.stage == "eyebrow_decomposer":
            crop = g.eyebrow_box.crop(batch["rest"])
            layer, background = (g.eyebrow_box.crop(batch[n]) for n in LAYER_IMAGES)
            out = model(crop)
            cols = [("rest", crop), ("layer", out.eyebrow_layer), ("layer.png", layer),
                    ("no brows", out.background), ("no_brow.png", background)]  # fmt: skip
            return StepOutput(
                [LossTerm(out.eyebrow_layer, layer), LossTerm(out.background, background)], cols
            )
        if self.stage == "eyebrow_combiner":
            target = g.eyebrow_box.crop(batch["eyebrow"])
            background, layer = self._combiner_inputs(batch)
            out = model(background, layer, pose[:, EYEBROW_POSE])
            cols = [("layer", layer), ("output", out.image_no_combine_alpha), ("eyebrow.png", target)]
            return StepOutput(
                [LossTerm(out.image_no_combine_alpha, target), LossTerm(out.image, target)], cols
            )
        if self.stage == "face_morpher":
            name = self.cfg.face_morpher.target_image
            crop, target = g.face_box.crop(batch["eyebrow"]), g.face_box.crop(batch[name])
            out = model(crop, pose[:, FACE_POSE])
            cols = [("eyebrow.png", crop), ("iris/mouth", out.iris_mouth_image), ("output", out.image),
                    (f"{name}.png", target)]  # fmt: skip
            return StepOutput([LossTerm(out.image, target), LossTerm(out.iris_mouth_image, target)], cols)
        if self.stage == "rotator":
            source, target = g.to_half(batch["expr"]), g.to_half(batch["rot"])
            out = model(source, pose[:, ROTATION_POSE])
            cols = [
                ("expr.png", source),
                ("warped", out.warped),
                ("direct", out.direct_image),
                ("rot.png", target),
            ]
            return StepOutput([LossTerm(out.warped, target), LossTerm(out.direct_image, target)], cols)
        if self.stage == "editor":
            assert self.rotator is not None
            rotation = pose[:, ROTATION_POSE]
            with torch.no_grad():
                rotated = self.rotator(g.to_half(batch["expr"]), rotation)
            warped = g.to_full(rotated.warped)
            out = model(batch["expr"], warped, g.to_full(rotated.grid), rotation)
            cols = [
                ("expr.png", batch["expr"]),
                ("rotator", warped),
                ("output", out.image),
                ("rot.png", batch["rot"]),
            ]
            return StepOutput([LossTerm(out.image, batch["rot"]), LossTerm(out.warped, batch["rot"])], cols)
        raise ValueError(f"unknown THA3 stage {self.stage!r}")

    def _combiner_inputs(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """(background, eyebrow layer) as `inputs` says."""
        box = self.geometry.eyebrow_box
        if self.inputs == "layers":
            return box.crop(batch["face_no_eyebrow"]), box.crop(batch["eyebrow_layer"])
        crop = box.crop(batch["rest"])
        if self.inputs == "decomposer":
            assert self.decomposer is not None
            with torch.no_grad():
                decomposed = self.decomposer(crop)
        elif self.inputs == "rest":
            decomposed = identity_decomposition(crop)
        else:
            raise ConfigError(f"key 'eyebrow_combiner.inputs': unresolved {self.inputs!r}")
        return decomposed.background, decomposed.eyebrow_layer
