"""Structured synthetic samples in the real shard format, for tests and benchmarks.

Not a substitute for rendered data: a flat cartoon face whose eyes and mouth open and close with
the pose and which shifts/tilts with the rotation, so a network has something real to learn.
`write_split` takes any list of (rest, expr, rot, pose) images, so rendered samples drop in as is.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from thagen.render.output.shards import POSE_NAMES, Sample, ShardWriter, sample_key

REST_POSE = {"left_eye": 0.0, "right_eye": 0.0, "mouth": 1.0, "head_x": 0.0, "head_y": 0.0, "neck_z": 0.0}
_HAIR = [(60, 40, 30), (220, 180, 90), (40, 60, 160), (170, 40, 60), (30, 30, 30), (200, 200, 220)]
_EYES = [(40, 110, 200), (150, 60, 30), (40, 160, 80), (120, 40, 160)]


def face(
    pose: dict[str, float],
    size: int = 64,
    character: int = 0,
    supersample: int = 4,
    *,
    brows: tuple[float, float] | None = None,
    layer: str = "all",
) -> np.ndarray:
    """(size, size, 4) uint8 RGBA face for a pose (rotations applied as shift + tilt).

    `brows` (left, right) draws eyebrows raised (+) or lowered (-) by up to 1; `layer` "all" draws
    everything, "brows" the eyebrows alone, "no_brows" everything but the eyebrows (THA3's
    eyebrow decomposition). THA1 data has no eyebrows (`brows=None`).
    """
    s = size * supersample
    im = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    d = ImageDraw.Draw(im)
    if layer == "brows":
        d = ImageDraw.Draw(Image.new("RGBA", (s, s)))  # draw the face nowhere, the brows on `im`
    hair, iris = _HAIR[character % len(_HAIR)], _EYES[character % len(_EYES)]
    cx = s / 2 + pose.get("head_y", 0.0) * s * 0.08
    cy = s / 2 - pose.get("head_x", 0.0) * s * 0.05
    r = s * 0.25
    d.ellipse([cx - r * 1.1, cy - r * 1.15, cx + r * 1.1, cy + r * 0.5], fill=(*hair, 255))  # hair behind
    d.ellipse([cx - r, cy - r * 0.9, cx + r, cy + r], fill=(250, 220, 200, 255))  # face
    d.chord([cx - r * 1.05, cy - r * 1.1, cx + r * 1.05, cy + r * 0.2], 180, 360, fill=(*hair, 255))  # fringe
    for side, name in ((-1, "right_eye"), (1, "left_eye")):  # character's left is image right
        ex, ey = cx + side * r * 0.42, cy + r * 0.12
        open_h = (1.0 - pose.get(name, 0.0)) * r * 0.28
        d.ellipse([ex - r * 0.2, ey - open_h - 1, ex + r * 0.2, ey + open_h + 1], fill=(255, 255, 255, 255))
        if open_h > 2:
            d.ellipse([ex - r * 0.11, ey - open_h, ex + r * 0.11, ey + open_h], fill=(*iris, 255))
        d.line(
            [ex - r * 0.22, ey - open_h - 2, ex + r * 0.22, ey - open_h - 2],
            fill=(40, 20, 20, 255),
            width=supersample * 2,
        )
        if brows is not None and layer != "no_brows":
            lift = brows[0 if name == "left_eye" else 1]
            by = ey - r * 0.34 - lift * r * 0.1
            ImageDraw.Draw(im).line(
                [ex - r * 0.24, by + side * lift * r * 0.04, ex + r * 0.24, by - side * lift * r * 0.04],
                fill=(*[c // 2 for c in hair], 255),
                width=supersample * 3,
            )
    mh = pose.get("mouth", 0.0) * r * 0.22
    my = cy + r * 0.62
    d.ellipse([cx - r * 0.2, my - mh - 1, cx + r * 0.2, my + mh + 1], fill=(150, 40, 50, 255))
    tilt = pose.get("neck_z", 0.0) * 15.0
    if tilt:
        im = im.rotate(tilt, resample=Image.Resampling.BICUBIC, center=(s / 2, s * 0.9))
    return np.asarray(im.resize((size, size), Image.Resampling.LANCZOS))


def png_bytes(rgba: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgba), "RGBA").save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def random_pose(rng: np.random.Generator) -> dict[str, float]:
    """THA1 sampling: eyes/mouth uniform, rotations with density ~ |v| on [-1, 1]."""
    v = {n: float(rng.uniform()) for n in POSE_NAMES[:3]}
    for n in POSE_NAMES[3:]:
        v[n] = float(math.sqrt(rng.uniform()) * rng.choice([-1.0, 1.0]))
    return v


def synthetic_samples(
    character: int, count: int, size: int = 64, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, float]]]:
    """(rest, expr, rot, pose) tuples for one synthetic character."""
    rng = np.random.default_rng([seed, character])
    rest = face(REST_POSE, size, character)
    out = []
    for _ in range(count):
        pose = random_pose(rng)
        expr_pose = {**pose, "head_x": 0.0, "head_y": 0.0, "neck_z": 0.0}
        out.append((rest, face(expr_pose, size, character), face(pose, size, character), pose))
    return out


def write_split(
    split_dir: Path,
    samples: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, float]]],
    character_id: str,
    *,
    split: str = "train",
    per_shard: int = 8,
) -> list[Path]:
    """Write one character's samples as `<character_id>-<k:04d>.tar` shards (dataset format v1)."""
    paths = []
    rest_png = None
    for k in range(0, len(samples), per_shard):
        path = Path(split_dir) / f"{character_id}-{k // per_shard:04d}.tar"
        with ShardWriter(path) as w:
            for i, (rest, expr, rot, pose) in enumerate(samples[k : k + per_shard], start=k):
                rest_png = rest_png or png_bytes(rest)
                record = {
                    "format": 1,
                    "character": character_id,
                    "index": i,
                    "split": split,
                    "pose": {n: float(pose[n]) for n in POSE_NAMES},
                    "rest_pose": REST_POSE,
                    "ambient": 0.5,
                }
                w.add(Sample(sample_key(character_id, i), rest_png, png_bytes(expr), png_bytes(rot), record))
        paths.append(path)
    return paths


def make_dataset(
    out: Path,
    *,
    size: int = 64,
    characters: dict[str, int] | None = None,
    per_character: int = 8,
    per_shard: int = 4,
    seed: int = 0,
) -> Path:
    """A small OUT/{train,val,test} tree of synthetic characters (split -> character count)."""
    characters = characters or {"train": 2, "val": 1, "test": 1}
    n = 0
    for split, count in characters.items():
        for _ in range(count):
            samples = synthetic_samples(n, per_character, size, seed)
            write_split(Path(out) / split, samples, f"synth{n:03d}", split=split, per_shard=per_shard)
            n += 1
    return Path(out)
