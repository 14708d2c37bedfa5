"""Synthetic THA3 samples in the real shard format (`pose_vector: tha3`, `images: tha3_stages`
plus the eyebrow layers), for tests and CPU smoke runs without Blender.

Framed as THA3 expects: the head fills the box of size/4 centred in the top half, a body below
it. Of the 45 values, the flat cartoon shows the eyebrows (raised minus lowered, per side), the
eye winks, `mouth_aaa`, the head rotations (shift and tilt) and the body's turn, lean and
breathing (body shift, tilt, shoulders lifted); the others are drawn as 0 and sampled as 0.
Not a substitute for rendered data, but every stage has something real to learn.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image

from thagen.pose_vectors import pose_vector_def
from thagen.render.output.shards import POSE_NAMES, Sample, ShardWriter, sample_key
from thagen.train.data.synthetic import face, png_bytes

NAMES = tuple(p.name for p in pose_vector_def("tha3").params)
_BODY = [(200, 60, 60), (60, 90, 200), (50, 150, 90), (230, 230, 240), (40, 40, 40)]
SHOWN = (
    "eyebrow_raised_left", "eyebrow_raised_right", "eyebrow_lowered_left", "eyebrow_lowered_right",
    "eye_wink_left", "eye_wink_right", "mouth_aaa", "head_x", "head_y", "neck_z", "body_y", "body_z", "breathing",
)  # fmt: skip
REST = dict.fromkeys(NAMES, 0.0) | {"mouth_aaa": 1.0}


def tha3_image(values: dict[str, float], size: int, character: int, layer: str = "all") -> np.ndarray:
    """(size, size, 4) uint8 RGBA: the character at `values` (names of the tha3 vector)."""
    v = {**dict.fromkeys(NAMES, 0.0), **values}
    canvas = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    if layer == "all" or layer == "no_brows":
        body = Image.new("RGBA", (size, size), (0, 0, 0, 0))
        colour = (*_BODY[character % len(_BODY)], 255)
        lift = round(v["breathing"] * size * 0.012)
        top = 3 * size // 8 - lift
        body.paste(colour, (size // 4, top, 3 * size // 4, size))
        body.paste(colour, (size // 8, top + lift, 7 * size // 8, top + size // 8))
        body = body.rotate(
            v["body_z"] * 10.0, resample=Image.Resampling.BICUBIC, center=(size / 2, size * 0.9)
        )
        canvas.alpha_composite(body, (round(v["body_y"] * size * 0.04), 0))
    thai = {
        "left_eye": v["eye_wink_left"],
        "right_eye": v["eye_wink_right"],
        "mouth": v["mouth_aaa"],
        "head_x": v["head_x"],
        "head_y": v["head_y"] + 0.5 * v["body_y"],
        "neck_z": v["neck_z"] + 0.5 * v["body_z"],
    }
    brows = (
        v["eyebrow_raised_left"] - v["eyebrow_lowered_left"],
        v["eyebrow_raised_right"] - v["eyebrow_lowered_right"],
    )
    head = face(thai, size // 2, character, brows=brows, layer=layer)
    canvas.alpha_composite(Image.fromarray(head, "RGBA"), (size // 4 + round(v["body_y"] * size * 0.04), 0))
    return np.asarray(canvas)


def random_values(rng: np.random.Generator) -> dict[str, float]:
    """One sample's values for the `SHOWN` parameters (per-side brow weights sum to <= 1)."""
    v: dict[str, float] = {}
    for side in ("left", "right"):
        up = float(rng.uniform())
        v[f"eyebrow_raised_{side}"], v[f"eyebrow_lowered_{side}"] = (
            (up, 0.0) if rng.uniform() < 0.5 else (0.0, up)
        )
        v[f"eye_wink_{side}"] = float(rng.uniform())
    v["mouth_aaa"] = float(rng.uniform())
    for n in ("head_x", "head_y", "neck_z", "body_y", "body_z"):
        v[n] = float(math.sqrt(rng.uniform()) * rng.choice([-1.0, 1.0]))
    v["breathing"] = float(rng.uniform())
    return v


def _record(character_id: str, index: int, split: str, v: dict[str, float]) -> dict:
    full = {**dict.fromkeys(NAMES, 0.0), **v}
    tha1 = {
        "left_eye": full["eye_wink_left"],
        "right_eye": full["eye_wink_right"],
        "mouth": full["mouth_aaa"],
        **{n: full[n] for n in POSE_NAMES[3:]},
    }
    return {
        "format": 1,
        "character": character_id,
        "index": index,
        "split": split,
        "pose": tha1,
        "rest_pose": dict(zip(POSE_NAMES, (0.0, 0.0, 1.0, 0.0, 0.0, 0.0), strict=True)),
        "vector": {
            "name": "tha3",
            "names": list(NAMES),
            "values": [full[n] for n in NAMES],
            "rest_values": [REST[n] for n in NAMES],
            "available": [1 if n in SHOWN else 0 for n in NAMES],
            "availability": ["exact" if n in SHOWN else "missing" for n in NAMES],
        },
        "ambient": 0.5,
    }


def write_tha3_character(
    split_dir: Path,
    character: int,
    count: int,
    *,
    size: int = 128,
    split: str = "train",
    seed: int = 0,
    layers: bool = True,
    per_shard: int = 1000,
) -> list[Path]:
    """One synthetic character's shards: rest, expr, rot, eyebrow, face, pose.json and (with
    `layers`) eyebrow_layer and face_no_eyebrow."""
    rng = np.random.default_rng([seed, character, 3])
    cid = f"synth3-{character:03d}"
    rest = png_bytes(tha3_image(REST, size, character))
    fixed: dict[str, bytes] = {}
    if layers:
        fixed["eyebrow_layer"] = png_bytes(tha3_image(REST, size, character, "brows"))
        fixed["face_no_eyebrow"] = png_bytes(tha3_image(REST, size, character, "no_brows"))
    paths = []
    for k in range(0, count, per_shard):
        path = Path(split_dir) / f"{cid}-{k // per_shard:04d}.tar"
        with ShardWriter(path) as w:
            for i in range(k, min(count, k + per_shard)):
                v = random_values(rng)
                morphs = {n: x for n, x in v.items() if n.startswith(("eyebrow", "eye_", "mouth"))}
                brows = {n: x for n, x in v.items() if n.startswith("eyebrow")}
                face_v = {**morphs, **{n: v[n] for n in ("head_x", "head_y", "neck_z")}}
                extra = {
                    "eyebrow": png_bytes(tha3_image({**REST, **brows}, size, character)),
                    "face": png_bytes(tha3_image({**REST, **face_v}, size, character)),
                    **fixed,
                }
                expr = png_bytes(tha3_image({**REST, **morphs}, size, character))
                rot = png_bytes(tha3_image({**REST, **v}, size, character))
                w.add(Sample(sample_key(cid, i), rest, expr, rot, _record(cid, i, split, v), extra))
        paths.append(path)
    return paths


def make_tha3_dataset(
    out: Path,
    *,
    size: int = 128,
    characters: dict[str, int] | None = None,
    per_character: int = 8,
    seed: int = 0,
    layers: bool = True,
) -> Path:
    """A small OUT/{train,val,test} tree of synthetic THA3 characters (split -> character count)."""
    n = 0
    for split, count in (characters or {"train": 2, "test": 1}).items():
        for _ in range(count):
            write_tha3_character(
                Path(out) / split, n, per_character, size=size, split=split, seed=seed, layers=layers
            )
            n += 1
    return Path(out)
