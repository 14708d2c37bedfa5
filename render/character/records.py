"""Per-character records and files: failure records, the Blender log, JSON of rig reports.

A failure record is one failures*.jsonl line: which character, which stage, the error and the
tail of its Blender log, so a failed character can be understood without re-running it.
"""

from __future__ import annotations

import contextlib
import json
import time
import traceback
from collections.abc import Iterator
from dataclasses import asdict, is_dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np

if TYPE_CHECKING:
    from thagen.render.framing.estimate import Framing
    from thagen.render.manifest import CharacterJob
    from thagen.render.scene.renderer import Renderer

LOG_TAIL_LINES = 40

# a value as `jsonable` leaves it: what json.dumps writes
Json: TypeAlias = "dict[str, Json] | list[Json] | str | int | float | bool | None"


def job_describe(job: CharacterJob) -> str:
    """The model a job renders, for messages and records."""
    if job.builtin:
        return "builtin"
    return f"{job.model_path}:{job.zip_member}" if job.zip_member else str(job.model_path)


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> list[str]:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return []
    return text.splitlines()[-lines:]


def _record(job: CharacterJob, out_dir: Path, **fields: object) -> dict[str, Any]:
    return {
        "id": job.id,
        "model": job_describe(job),
        "split": str(job.split),
        **fields,
        "log_tail": log_tail(Path(out_dir) / "characters" / job.id / "blender.log"),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def failure_record(job: CharacterJob, exc: BaseException, out_dir: Path) -> dict[str, Any]:
    """One failures.jsonl line."""
    cause = getattr(exc, "cause", exc)
    return _record(
        job,
        out_dir,
        stage=getattr(exc, "stage", "unknown"),
        error_type=type(cause).__name__,
        message=str(cause),
        traceback="".join(traceback.format_exception(cause))[-4000:],
    )


def crash_record(
    job: CharacterJob, out_dir: Path, exitcode: int | None, *, attempts: int = 1
) -> dict[str, Any]:
    """The failure of a character whose worker process died (a Blender crash or a kill)."""
    tries = f" ({attempts} attempts)" if attempts > 1 else ""
    return _record(
        job,
        out_dir,
        stage="crash",
        error_type="WorkerCrash",
        message=f"the render worker died (exit status {exitcode}) while rendering this character{tries}",
        traceback="",
    )


def timeout_record(job: CharacterJob, out_dir: Path, seconds: float, *, attempts: int = 1) -> dict[str, Any]:
    """The failure of a character that ran past --character-timeout (its worker was killed)."""
    tries = f" ({attempts} attempts)" if attempts > 1 else ""
    return _record(
        job,
        out_dir,
        stage="timeout",
        error_type="CharacterTimeout",
        message=f"still rendering after the {seconds:.0f} s limit (--character-timeout); worker killed{tries}",
        traceback="",
    )


def framing_dict(framing: Framing) -> dict[str, Any]:
    d = to_dict(framing)
    return d if isinstance(d, dict) else {"repr": repr(framing)}


def to_dict(obj: object) -> Json:
    if obj is None:
        return None
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    if not is_dataclass(obj) or isinstance(obj, type):
        return repr(obj)  # what asdict's TypeError would have given
    try:
        return jsonable(asdict(obj))
    except TypeError:
        return repr(obj)


def jsonable(v: object) -> Json:
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    if isinstance(v, Path):
        return str(v)
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    return repr(v)


def json_bytes(obj: object) -> bytes:
    return json.dumps(jsonable(obj), indent=1, ensure_ascii=False, sort_keys=True).encode()


class suppress_all:
    """Swallow anything but KeyboardInterrupt (clean-up after a failure must not mask it)."""

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        return exc_type is not None and not issubclass(exc_type, KeyboardInterrupt)


def condense_log(text: str) -> str:
    """Blender's output minus its per-render progress chatter ("Fra:1 Mem:..." lines): only the
    last progress line of each render is kept, every other line (warnings, errors) verbatim."""
    lines = text.splitlines()
    kept: list[str] = []
    for i, line in enumerate(lines):
        if line.startswith("Fra:") and i + 1 < len(lines) and lines[i + 1].startswith("Fra:"):
            continue
        kept.append(line)
    return "".join(line + "\n" for line in kept)


@contextlib.contextmanager
def capture_log(renderer: Renderer, log_path: Path) -> Iterator[None]:
    """Send the renderer's captured Blender output (C-level stdout/stderr) to `log_path`."""
    previous = renderer.log
    with open(log_path, "a", encoding="utf-8", errors="replace") as f:

        def log(text: str) -> None:
            f.write(condense_log(text))
            f.flush()

        renderer.log = log
        try:
            yield
        finally:
            renderer.log = previous
