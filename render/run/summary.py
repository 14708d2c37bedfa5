"""What one `thagen render` run did, and the text it ends with.

The text is what an operator of an unattended farm reads: counts, failures, where the contact
sheets are, and the review loop (held-back characters, why, and the two commands that fix
them: render/run/review.py), so nothing QA held back goes unnoticed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thagen.progress import fmt_duration
from thagen.render.output.layout import CHARACTERS, DATASET_YAML, FAILURES
from thagen.render.run.partition import Part
from thagen.render.run.review import LISTED, Flagged, review_lines


@dataclass
class RunSummary:
    out: Path
    done: int = 0
    failed: int = 0
    skipped: int = 0
    excluded: int = 0
    images: int = 0
    seconds: float = 0.0
    failures: list[dict[str, Any]] = field(default_factory=list)
    part: Part | None = None
    merged: bool = False
    failures_file: Path | None = None
    redone: list[str] = field(default_factory=list)  # re-rendered and committed (--redo)
    redo_failed: list[str] = field(default_factory=list)  # re-render failed: the old one is kept
    refiled: list[str] = field(default_factory=list)  # moved in or out of excluded/ (QA settings)
    flagged: list[Flagged] = field(default_factory=list)  # OUT's characters with hard flags
    run: dict[str, Any] = field(default_factory=dict)  # OUT/run.json, for the fix commands

    @property
    def images_per_second(self) -> float:
        return self.images / self.seconds if self.seconds > 0 else 0.0

    @property
    def held_back(self) -> list[str]:
        return [f.id for f in self.flagged if f.excluded]

    def text(self) -> str:
        what = "thagen render" + (f" part {self.part[0]}/{self.part[1]}" if self.part else "")
        lines = [
            f"{what}: {self.done} characters done, {self.failed} failed, {self.skipped} skipped"
            + (f" (already done), {self.excluded} held back by QA" if self.excluded else " (already done)"),
            f"  {self.images} images in {fmt_duration(self.seconds)} ({self.images_per_second:.2f} images/s)",
            f"  output: {self.out}",
        ]
        if self.redone or self.redo_failed:
            lines.append(
                f"  re-rendered (--redo): {len(self.redone)}"
                + (f": {', '.join(self.redone[:LISTED])}" if self.redone else "")
                + (
                    f"; failed, the earlier render kept: {', '.join(self.redo_failed)}"
                    if self.redo_failed
                    else ""
                )
            )
        if self.refiled:
            lines.append(
                f"  QA settings changed: {len(self.refiled)} finished characters re-filed "
                f"(shards moved in or out of excluded/): {', '.join(self.refiled[:LISTED])}"
            )
        sheets = sorted((self.out / CHARACTERS).glob("*/contact_sheet.png"))
        if len(sheets) == 1:
            lines.append(f"  contact sheet: {sheets[0]}")
        elif sheets:
            lines.append(f"  contact sheets: {self.out / CHARACTERS}/<id>/contact_sheet.png ({len(sheets)})")
        for f in self.failures:
            lines.append(
                f"  FAILED {f.get('id')}{' (--redo)' if f.get('redo') else ''}: [{f.get('stage')}] "
                f"{f.get('error_type')}: {f.get('message')}"
            )
        if self.failures:
            lines.append(f"  details: {self.failures_file or self.out / FAILURES}")
        lines += [f"  {line}" for line in review_lines(self.flagged, self.run, self.out, limit=LISTED)]
        if self.merged:
            lines.append(f"  complete: merged into {self.out / DATASET_YAML} and {self.out / 'index.json'}")
        elif self.part:
            lines.append(
                f"  when every part is done: thagen merge {self.out}   (progress: thagen status {self.out})"
            )
        return "\n".join(lines)
