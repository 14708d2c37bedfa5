"""`thagen status OUT`: done / failed / missing per part and in total, speed, ETA, and the
command that finishes what is missing; then every character QA held back, why, and the two
commands that fix them (render/run/review.py). Read-only: safe while parts are still rendering.

Speed comes from the journals: each part's images over the span from its first character's
start to its last one's end, summed over parts (they render side by side).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thagen.progress import fmt_duration
from thagen.render.output.layout import is_running
from thagen.render.run.commit import pending_ids
from thagen.render.run.dataset_yaml import read_failures
from thagen.render.run.merge import journal_records, load_run
from thagen.render.run.partition import assign_parts
from thagen.render.run.review import Flagged, flagged_characters, render_command, review_lines

__all__ = ["OutputStatus", "PartStatus", "output_status", "render_command"]


@dataclass
class PartStatus:
    label: str
    ids: list[str]
    done: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    running: bool = False


@dataclass
class OutputStatus:
    out: Path
    parts: list[PartStatus]
    images_done: int
    images_left: int
    images_per_second: float
    commands: list[str]
    flagged: list[Flagged] = field(default_factory=list)
    run: dict[str, Any] = field(default_factory=dict)
    pending: list[str] = field(default_factory=list)  # commits a crash interrupted (render/run/commit.py)

    @property
    def complete(self) -> bool:
        return all(not p.missing and not p.failed for p in self.parts)

    def text(self) -> str:
        lines = []
        for p in self.parts:
            lines.append(
                f"part {p.label}{' (rendering now)' if p.running else ''}: {len(p.done)}/{len(p.ids)} done, "
                f"{len(p.failed)} failed, {len(p.missing)} missing"
            )
            lines += [f"  failed: {cid}: {why}" for cid, why in sorted(p.failed.items())]
            lines += [f"  missing: {cid}" for cid in p.missing]
        done = sum(len(p.done) for p in self.parts)
        total = sum(len(p.ids) for p in self.parts)
        failed = sum(len(p.failed) for p in self.parts)
        missing = sum(len(p.missing) for p in self.parts)
        rate = self.images_per_second
        eta = (
            fmt_duration(self.images_left / rate)
            if rate > 0 and self.images_left
            else ("0m00s" if not self.images_left else "?")
        )
        lines.append(
            f"total: {done}/{total} done, {failed} failed, {missing} missing; "
            f"{self.images_done} images, {rate:.2f} images/s, ETA {eta}"
        )
        if self.pending:
            lines.append(
                f"interrupted re-renders (--redo) not yet committed: {', '.join(self.pending)}; "
                "the next run of their part finishes them"
            )
        if self.complete:
            lines.append(f"complete: thagen merge {shlex.quote(str(self.out))}")
        else:
            lines.append("to finish what is missing (failed characters are tried again):")
            lines += [f"  {c}" for c in self.commands]
            lines.append(f"then: thagen merge {shlex.quote(str(self.out))}")
        lines += review_lines(self.flagged, self.run, self.out)
        return "\n".join(lines)


def output_status(out: Path) -> OutputStatus:
    out = Path(out).resolve()
    run = load_run(out)
    chars = {c["id"]: c for c in run.get("characters", [])}
    count = run.get("part_count")
    if count:
        groups = assign_parts(
            {cid: int(c.get("cost", c.get("images", 1))) for cid, c in chars.items()}, int(count)
        )
        labels = [f"{k}/{count}" for k in range(int(count))]
    else:
        groups, labels = [sorted(chars)], ["all"]
    records = journal_records(out)
    journal = {r["id"]: r for _, r in records}
    failures = read_failures(out)
    parts = []
    for k, (label, ids) in enumerate(zip(labels, groups, strict=True)):
        p = PartStatus(label, ids, running=is_running(out, (k, int(count)) if count else None))
        for cid in ids:
            if cid in journal:
                p.done.append(cid)
            elif cid in failures:
                f = failures[cid]
                p.failed[cid] = f"[{f.get('stage')}] {f.get('error_type')}: {f.get('message')}"
            else:
                p.missing.append(cid)
        parts.append(p)
    spans: dict[str, list[float]] = {}
    images_by_part: dict[str, int] = {}
    for label, rec in records:
        end = float(rec.get("finished_at") or 0)
        if end:
            start = end - float(rec.get("seconds") or 0)
            span = spans.setdefault(label, [start, end])
            span[0], span[1] = min(span[0], start), max(span[1], end)
            images_by_part[label] = images_by_part.get(label, 0) + int(rec.get("images", 0))
    rate = sum(images_by_part[k] / (s[1] - s[0]) for k, s in spans.items() if s[1] > s[0])
    done_images = sum(int(r.get("images", 0)) for r in journal.values())
    left = sum(int(c.get("images", 0)) for cid, c in chars.items() if cid not in journal)
    unfinished = [p for p in parts if (p.missing or p.failed) and not p.running]
    commands = [f"(part {p.label} is rendering now)" for p in parts if p.running]
    if count:
        commands += [render_command(run, out, p.label) for p in unfinished]
        commands.append(f"(or all at once, when no part is running: {render_command(run, out, None)})")
    elif unfinished:
        commands.append(render_command(run, out, None))
    return OutputStatus(
        out, parts, done_images, left, rate, commands, flagged_characters(out), run, sorted(pending_ids(out))
    )
