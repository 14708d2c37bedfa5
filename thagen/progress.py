"""One aggregated progress line on stderr: images/s, ETA, workers busy, characters done/failed.

On a terminal it is one line rewritten in place; otherwise (logs, CI, Slurm) a line every
`interval` seconds, so a log file does not fill up with carriage returns.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(
        self,
        total_images: int,
        *,
        stream: TextIO | None = None,
        interval: float = 10.0,
        characters: int = 0,
    ) -> None:
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.total = max(0, total_images)
        self.done = 0
        self.t0 = time.monotonic()
        self.interval = interval if not self.tty else 0.25
        self._last = 0.0
        self.current = ""
        self.characters = characters
        self.characters_done = 0
        self.characters_failed = 0
        self.busy = 0
        self.workers = 0

    def rate(self) -> float:
        dt = time.monotonic() - self.t0
        return self.done / dt if dt > 0 else 0.0

    def line(self) -> str:
        rate = self.rate()
        left = max(0, self.total - self.done)
        eta = fmt_duration(left / rate) if rate > 0 else "?"
        text = f"[thagen] {self.done}/{self.total} images  {rate:.2f} img/s  ETA {eta}"
        if self.characters:
            text += f"  characters {self.characters_done}/{self.characters} done"
            text += f", {self.characters_failed} failed" if self.characters_failed else ""
        if self.workers > 1:
            text += f"  workers {self.busy}/{self.workers} busy"
        return f"{text}  {self.current}".rstrip()

    def update(self, images: int = 0, current: str | None = None, *, force: bool = False) -> None:
        self.done += images
        if current is not None:
            self.current = current
        now = time.monotonic()
        if not force and now - self._last < self.interval:
            return
        self._last = now
        if self.tty:
            self.stream.write("\r\x1b[2K" + self.line())
        else:
            self.stream.write(self.line() + "\n")
        self.stream.flush()

    def message(self, text: str) -> None:
        """A line that must not be overwritten (a failure, a skip)."""
        if self.tty:
            self.stream.write("\r\x1b[2K")
        self.stream.write(text + "\n")
        self.stream.flush()

    def finish(self) -> None:
        if self.tty:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()


def fmt_duration(seconds: float) -> str:
    seconds = int(seconds)
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"
