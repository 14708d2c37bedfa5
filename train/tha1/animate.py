"""Demo: an animated GIF (and MP4 where ffmpeg exists) from one image and trained networks.

The run folder says which system it holds (`checkpoints.run_system`). THA1 animates a reset
image (blinks, talking, head turns and sway); THA3 animates a THA3-framed image through every
kind of motion its 45 values have (`thagen.train.tha3_training.motion`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import ImageColor

from thagen.errors import ConfigError
from thagen.train.core import checkpoints
from thagen.train.core.runtime import select_device
from thagen.train.core.video import write_gif, write_mp4
from thagen.train.data.images import load_front_image, over_background, tensor_to_rgba8
from thagen.train.tha1.evaluate import load_system

THA1_FRAMES = 48
THA3_FRAMES = 140  # 7 phases of 20 frames
THA3_NEED = (
    "must be framed as THA3 expects: 512x512 RGBA with a transparent background, the head in the "
    "128x128 box centred in the top half (a square image of another size is scaled to the network's {size})"
)


def animation_poses(frames: int) -> np.ndarray:
    """(frames, 6) poses over one loop: two blinks, talking mouth, head turn, nod and sway."""
    t = np.arange(frames, dtype=np.float64) / frames
    poses = np.zeros((frames, 6), dtype=np.float32)

    def blink(center: float, half_width: float = 0.04) -> np.ndarray:
        d = np.abs((t - center + 0.5) % 1.0 - 0.5)  # circular distance
        return np.clip(1.0 - d / half_width, 0.0, 1.0)

    eyes = np.maximum(blink(0.3), blink(0.8))
    poses[:, 0] = eyes
    poses[:, 1] = eyes
    poses[:, 2] = np.abs(np.sin(2 * math.pi * 4 * t)) * (0.5 + 0.5 * np.sin(2 * math.pi * t) ** 2)
    poses[:, 3] = 0.3 * np.sin(4 * math.pi * t)
    poses[:, 4] = np.sin(2 * math.pi * t)
    poses[:, 5] = 0.4 * np.cos(2 * math.pi * t)
    return poses


@dataclass(frozen=True)
class Animation:
    """What `animate` wrote: the GIF, the MP4 (None without ffmpeg) and the frame count."""

    gif: Path
    mp4: Path | None
    frames: int
    system: str


def _frames_of(
    poser: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    rest: torch.Tensor,
    poses: np.ndarray,
    background: np.ndarray,
    batch_size: int,
) -> list[np.ndarray]:
    device = rest.device
    out: list[np.ndarray] = []
    for i in range(0, len(poses), batch_size):
        p = torch.from_numpy(poses[i : i + batch_size]).to(device)
        for x in poser(rest.unsqueeze(0).expand(len(p), -1, -1, -1), p):
            out.append(over_background(tensor_to_rgba8(x), background))
    return out


def animate(
    image: Path,
    checkpoints_dir: Path,
    out: Path,
    *,
    frames: int | None = None,
    fps: float = 24.0,
    device: str = "auto",
    background: str = "white",
    batch_size: int = 8,
    mp4: bool = True,
) -> Animation:
    """Render the animation to `out` (GIF) and, with `mp4` and ffmpeg on PATH, `out` as .mp4."""
    if frames is not None and frames < 2:
        raise ConfigError(f"frames must be at least 2, got {frames}")
    if Path(out).suffix.lower() == ".mp4":
        raise ConfigError(f"{out}: --out names the GIF; the MP4 is written beside it (where ffmpeg exists)")
    try:
        bg_rgb = ImageColor.getrgb(background)[:3]
    except ValueError as exc:
        raise ConfigError(f"background: not a colour: {background!r}") from exc
    dev = select_device(device)
    system = checkpoints.run_system(Path(checkpoints_dir))
    poser: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    need: str | None
    if system == "tha3":
        from thagen.train.tha3_training.models import load_system as load_tha3
        from thagen.train.tha3_training.motion import tha3_animation_poses

        tha3 = load_tha3(Path(checkpoints_dir), dev)
        size, need = tha3.image_size, THA3_NEED.format(size=tha3.image_size)
        poses = tha3_animation_poses(frames or THA3_FRAMES)

        def poser(rest: torch.Tensor, pose: torch.Tensor) -> torch.Tensor:
            return tha3(rest, pose).image

    else:
        tha1 = load_system(Path(checkpoints_dir), dev)
        size, need = tha1.image_size, None
        poses = animation_poses(frames or THA1_FRAMES)

        def poser(rest: torch.Tensor, pose: torch.Tensor) -> torch.Tensor:
            return tha1(rest, pose)["final"]

    rest = load_front_image(Path(image), size, need=need).to(dev)
    bg = np.broadcast_to(np.array(bg_rgb, dtype=np.uint8), (size, size, 3))
    pictures = _frames_of(poser, rest, poses, bg, batch_size)
    gif = write_gif(pictures, Path(out), fps)
    video = write_mp4(pictures, Path(out).with_suffix(".mp4"), fps) if mp4 else None
    return Animation(gif, video, len(pictures), system)
