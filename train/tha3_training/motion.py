"""The THA3 demo's motion: one loop through what the 45 values can do.

Seven equal phases, with breathing (two breaths per loop) underneath all of them: a blink while
the irises look left and right; a left wink then a right wink; the five vowels a, i, u, e, o;
the six eyebrow shapes (troubled, angry, lowered, raised, happy, serious) on both sides; the
irises circling; the head turning, nodding and tilting; the body turning and leaning. Each
movement eases in and out (a raised cosine), so every phase starts and ends at the rest pose.
"""

from __future__ import annotations

import numpy as np

from thagen.train.tha3 import POSE_PARAMETER_NAMES, POSE_SIZE

INDEX = {name: i for i, name in enumerate(POSE_PARAMETER_NAMES)}
PHASES = ("blink", "winks", "vowels", "eyebrows", "irises", "head", "body")
EYEBROW_SHAPES = ("troubled", "angry", "lowered", "raised", "happy", "serious")
VOWELS = ("aaa", "iii", "uuu", "eee", "ooo")


def _bump(u: np.ndarray, start: float, end: float) -> np.ndarray:
    """0 outside [start, end], rising to 1 in the middle as a raised cosine."""
    inside = (u >= start) & (u <= end)
    x = np.clip((u - start) / max(end - start, 1e-9), 0.0, 1.0)
    return np.where(inside, 0.5 - 0.5 * np.cos(2 * np.pi * x), 0.0)


def _pulses(u: np.ndarray, count: int) -> list[np.ndarray]:
    """`count` bumps one after another over u in [0, 1]."""
    return [_bump(u, k / count, (k + 1) / count) for k in range(count)]


def tha3_animation_poses(frames: int) -> np.ndarray:
    """(frames, 45) float32 poses over one loop (see the module docstring)."""
    t = np.arange(frames, dtype=np.float64) / frames
    poses = np.zeros((frames, POSE_SIZE), dtype=np.float64)

    def put(name: str, values: np.ndarray) -> None:
        poses[:, INDEX[name]] += values

    phase = np.minimum((t * len(PHASES)).astype(int), len(PHASES) - 1)
    u = t * len(PHASES) - phase  # position inside the phase, 0..1

    def during(name: str) -> np.ndarray:
        return (phase == PHASES.index(name)).astype(np.float64)

    put("breathing", 0.5 - 0.5 * np.cos(2 * np.pi * 2 * t))
    blink = during("blink") * _bump(u, 0.35, 0.65)
    put("eye_wink_left", blink)
    put("eye_wink_right", blink)
    put("iris_rotation_y", during("blink") * np.sin(2 * np.pi * u))
    left, right = _pulses(u, 2)
    put("eye_wink_left", during("winks") * left)
    put("eye_wink_right", during("winks") * right)
    for vowel, bump in zip(VOWELS, _pulses(u, len(VOWELS)), strict=True):
        put(f"mouth_{vowel}", during("vowels") * bump)
    for shape, bump in zip(EYEBROW_SHAPES, _pulses(u, len(EYEBROW_SHAPES)), strict=True):
        put(f"eyebrow_{shape}_left", during("eyebrows") * bump)
        put(f"eyebrow_{shape}_right", during("eyebrows") * bump)
    ease = _bump(u, 0.0, 1.0)
    put("iris_rotation_x", during("irises") * ease * np.sin(2 * np.pi * u))
    put("iris_rotation_y", during("irises") * ease * np.cos(2 * np.pi * u))
    head = during("head")
    put("head_y", head * np.sin(2 * np.pi * u))
    put("head_x", head * 0.6 * np.sin(4 * np.pi * u))
    put("neck_z", head * 0.6 * ease * np.sin(6 * np.pi * u))
    body = during("body")
    put("body_y", body * np.sin(2 * np.pi * u))
    put("body_z", body * 0.7 * np.sin(4 * np.pi * u))
    signed = np.zeros(POSE_SIZE, dtype=bool)
    signed[INDEX["iris_rotation_x"] : INDEX["body_z"] + 1] = True
    return np.clip(poses, np.where(signed, -1.0, 0.0), 1.0).astype(np.float32)
