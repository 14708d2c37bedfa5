"""Writing the demo's frames: a looping GIF always, an MP4 too where ffmpeg is installed.

The GIF needs nothing beyond PIL. MP4 is encoded by the `ffmpeg` program found on PATH
(`shutil.which`), fed raw RGB frames on stdin; thagen does not depend on it, so without it the
MP4 is simply not written. Both files appear under a temporary name and are renamed when done.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from thagen.errors import ThagenError


class VideoError(ThagenError):
    """ffmpeg failed to encode the MP4."""


def write_gif(frames: Sequence[np.ndarray], out: Path, fps: float) -> Path:
    """(H, W, 3) uint8 frames -> a looping GIF at `out`."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    pictures = [Image.fromarray(f) for f in frames]
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


def write_mp4(frames: Sequence[np.ndarray], out: Path, fps: float) -> Path | None:
    """The same frames as H.264 (or ffmpeg's default MP4 codec) in yuv420p; None without ffmpeg."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        return None
    out = Path(out)
    h, w = frames[0].shape[:2]
    tmp = out.with_name(f"{out.stem}.tmp{out.suffix}")
    cmd = [
        ffmpeg, "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}",
        "-r", f"{fps:g}", "-i", "-", "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-pix_fmt", "yuv420p", str(tmp),
    ]  # fmt: skip
    data = b"".join(np.ascontiguousarray(f[..., :3]).tobytes() for f in frames)
    try:
        done = subprocess.run(cmd, input=data, capture_output=True, check=False)
    except OSError as exc:
        raise VideoError(f"{out}: cannot run {ffmpeg} ({exc})") from exc
    if done.returncode != 0 or not tmp.is_file():
        tmp.unlink(missing_ok=True)
        last = (done.stderr.decode(errors="replace").strip().splitlines() or ["no output"])[-1]
        raise VideoError(f"{out}: ffmpeg failed ({last})")
    tmp.replace(out)
    return out
