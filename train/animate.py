"""Demo: a blinking, talking, head-turning GIF from one front image and trained networks."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageColor

from thagen.errors import ConfigError
from thagen.train.evaluate import load_system
from thagen.train.images import load_front_image, over_background, tensor_to_rgba8
from thagen.train.trainer import select_device


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


def animate(
    image: Path,
    checkpoints_dir: Path,
    out: Path,
    *,
    frames: int = 48,
    fps: float = 24.0,
    device: str = "auto",
    background: str = "white",
    batch_size: int = 8,
) -> Path:
    """Render the animation to `out` (GIF); the image must be framed like a reset image."""
    if frames < 2:
        raise ConfigError(f"frames must be at least 2, got {frames}")
    try:
        bg_rgb = ImageColor.getrgb(background)[:3]
    except ValueError as exc:
        raise ConfigError(f"background: not a colour: {background!r}") from exc
    dev = select_device(device)
    system = load_system(Path(checkpoints_dir), dev)
    rest = load_front_image(Path(image), system.image_size).to(dev)
    poses = torch.from_numpy(animation_poses(frames)).to(dev)
    size = system.image_size
    bg = np.broadcast_to(np.array(bg_rgb, dtype=np.uint8), (size, size, 3))
    pictures: list[Image.Image] = []
    for i in range(0, frames, batch_size):
        p = poses[i : i + batch_size]
        outs = system(rest.unsqueeze(0).expand(len(p), -1, -1, -1), p)
        for x in outs["final"]:
            pictures.append(Image.fromarray(over_background(tensor_to_rgba8(x), bg)))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f"{out.name}.tmp")
    pictures[0].save(
        tmp,
        format="GIF",
        save_all=True,
        append_images=pictures[1:],
        duration=round(1000 / fps),
        loop=0,
        optimize=False,
    )
    tmp.replace(out)
    return out
