"""Turning raw shard samples (PNG bytes + pose.json) into one batch of uint8 images and poses.

A stage names the images it reads (THA1's `rest`, `expr`, `rot`; THA3's stages add `eyebrow`,
`eyebrow_layer`, `face_no_eyebrow`, ...) and the pose it reads: THA1's six named values
(`pose`) or a named vector's values (`vector.values`, e.g. THA3's 45). Decoding only what a
stage needs keeps the loader's cost down (a PNG decode is most of it).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from thagen.pose_vectors import pose_vector_def
from thagen.render.output.shards import POSE_NAMES
from thagen.train.data.images import decode_png_rgba8, scale_rgba8
from thagen.train.data.shard_index import DatasetError

THA1_IMAGES = ("rest", "expr", "rot")
RawSample = dict[str, bytes | str]


@dataclass(frozen=True)
class SampleFormat:
    """What a stage reads from each sample: image names (without `.png`) and the pose format.

    `pose` is "tha1" (the six THA1 values of `pose.json`'s `pose`) or a vector name such as
    "tha3" (`pose.json`'s `vector.values`, which must be that vector).
    """

    images: tuple[str, ...] = THA1_IMAGES
    pose: str = "tha1"


THA1_FORMAT = SampleFormat()


def parse_pose(raw: bytes, where: str) -> tuple[np.ndarray, str]:
    """pose.json -> (6-vector in POSE_NAMES order, character id)."""
    try:
        rec = json.loads(raw)
        pose = rec["pose"]
        vec = np.array([float(pose[n]) for n in POSE_NAMES], dtype=np.float32)
        character = str(rec.get("character", where.split("/")[0]))
    except (ValueError, KeyError, TypeError) as exc:
        raise DatasetError(
            f"{where}: bad pose.json ({exc!r}); needs pose.{{{', '.join(POSE_NAMES)}}}"
        ) from exc
    return vec, character


def parse_vector(raw: bytes, where: str, vector: str) -> tuple[np.ndarray, str]:
    """pose.json -> (the named vector's values, character id); the vector must be `vector`."""
    names = [p.name for p in pose_vector_def(vector).params]
    try:
        rec = json.loads(raw)
        vec = rec.get("vector") if isinstance(rec, dict) else None
        character = str(rec.get("character", where.split("/")[0])) if isinstance(rec, dict) else ""
    except ValueError as exc:
        raise DatasetError(f"{where}: bad pose.json ({exc!r})") from exc
    if not isinstance(vec, dict) or vec.get("name") != vector:
        got = vec.get("name") if isinstance(vec, dict) else None
        raise DatasetError(
            f"{where}: pose.json has no {vector} vector (found {got!r}); render with `pose_vector: {vector}`"
        )
    try:
        if list(vec["names"]) != names:
            raise ValueError(f"vector.names differ from thagen's {vector} order")
        values = np.array([float(v) for v in vec["values"]], dtype=np.float32)
        if values.shape != (len(names),):
            raise ValueError(f"{values.shape[0]} values, expected {len(names)}")
    except (KeyError, TypeError, ValueError) as exc:
        raise DatasetError(f"{where}: bad pose.json vector ({exc})") from exc
    return values, character


def collate(raws: Sequence[RawSample], fmt: SampleFormat, image_size: int) -> dict:
    """Decode samples into {image name: (B, 4, S, S) uint8, "pose": (B, k) float32, "key",
    "character"}; images stay uint8 here (`thagen.train.data.images.to_network` converts them on the
    training device). All images of one sample must share its size; each is scaled to `image_size`."""
    images: dict[str, list[np.ndarray]] = {name: [] for name in fmt.images}
    poses: list[np.ndarray] = []
    keys: list[str] = []
    characters: list[str] = []
    for r in raws:
        where = f"{r['__shard__']!s}: {r['__key__']!s}"
        native = None  # the sample's own size
        for name in fmt.images:
            at = f"{where}.{name}.png"
            data = r.get(f"{name}.png")
            if not isinstance(data, bytes):
                raise DatasetError(f"{at}: missing from the shard (this stage reads {', '.join(fmt.images)})")
            rgba = decode_png_rgba8(data, where=at, size=native)
            native = native or rgba.shape[0]
            images[name].append(scale_rgba8(rgba, image_size, where=at).transpose(2, 0, 1))
        raw_pose = r["pose.json"]
        assert isinstance(raw_pose, bytes)
        if fmt.pose == "tha1":
            vec, character = parse_pose(raw_pose, where)
        else:
            vec, character = parse_vector(raw_pose, where, fmt.pose)
        poses.append(vec)
        keys.append(str(r["__key__"]))
        characters.append(character)
    batch: dict = {name: torch.from_numpy(np.stack(images[name])) for name in fmt.images}
    batch["pose"] = torch.from_numpy(np.stack(poses))
    batch["key"] = keys
    batch["character"] = characters
    return batch
