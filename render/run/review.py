"""The review loop, as text: which characters QA held back, why, and the two commands that fix
them (`thagen annotate serve --qa OUT`, then `thagen render MANIFEST --redo flagged`).

A farm run is unattended, so the end of every run and `thagen status OUT` say it the same
way, from the journals alone (read-only: safe while parts are still rendering). The commands
repeat the options the output was rendered with (run.json's `render_options`, e.g. the
`--annotations` folder), so they re-render with the same annotations the person just edited.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thagen.render.character.flags import flag_detail, flag_info, hard_flags, record_flags, soft_flags
from thagen.render.output.jsonl import read_jsonl
from thagen.render.output.layout import journal_files, part_of_file

LISTED = 20  # characters listed at the end of a run (`thagen status OUT` lists them all)


@dataclass
class Flagged:
    """A journalled character with hard QA flags: held back (excluded) or, when the manifest
    says `qa: {exclude_flagged: false}`, kept in its split anyway."""

    id: str
    split: str
    part: str
    excluded: bool
    hard: list[str]
    soft: list[str]
    details: dict[str, str] = field(default_factory=dict)  # flag -> why, for this character

    def line(self) -> str:
        soft = f" (soft: {', '.join(self.soft)})" if self.soft else ""
        return f"{self.id} [{self.split}]: {', '.join(self.hard)}{soft}"


def flagged_characters(out: Path) -> list[Flagged]:
    """Every journalled character of OUT with a hard flag, held-back ones first, by id."""
    found: dict[str, Flagged] = {}
    for path in journal_files(Path(out)):
        for rec in read_jsonl(path):
            cid, flags = rec.get("id"), record_flags(rec)
            if not isinstance(cid, str):
                continue
            hard = hard_flags(flags)
            if not hard:
                found.pop(cid, None)  # a later line (a redo) wins
                continue
            qa = rec.get("qa")
            metrics = qa.get("metrics") if isinstance(qa, dict) else None
            found[cid] = Flagged(
                cid,
                str(rec.get("split", "")),
                part_of_file(path),
                bool(rec.get("excluded")),
                hard,
                soft_flags(flags),
                {f: flag_detail(f, metrics if isinstance(metrics, dict) else None) for f in hard},
            )
    return sorted(found.values(), key=lambda f: (not f.excluded, f.id))


def fix_commands(run: dict[str, Any], out: Path, parts: list[str] | None = None) -> list[str]:
    """The two commands of the review loop; with `parts`, one redo command per part."""
    options = [str(o) for o in run.get("render_options", [])]
    annotate = ["thagen", "annotate", "serve", "--qa", str(out)]
    if "--annotations" in options:
        annotate += ["--annotations", options[options.index("--annotations") + 1]]
    lines = [_join(annotate)]
    targets: list[str | None] = list(parts) if parts else [None]
    for part in targets:
        lines.append(render_command(run, out, part, ["--redo", "flagged"]))
    return lines


def render_command(run: dict[str, Any], out: Path, part: str | None, extra: list[str] | None = None) -> str:
    """`thagen render` of this output again, with the options it was rendered with."""
    manifest = run.get("manifest_path") or "MANIFEST"
    words = ["thagen", "render", manifest, "--out", str(out), *run.get("render_options", [])]
    if part:
        words += ["--part", part]
    return _join([*words, *(extra or [])])


def _join(words: list[str]) -> str:
    return " ".join(shlex.quote(str(w)) for w in words)


def review_lines(
    flagged: list[Flagged], run: dict[str, Any], out: Path, *, limit: int | None = None
) -> list[str]:
    """The listing: held-back characters with their flags, why, and the commands that fix them."""
    if not flagged:
        return []
    held = [f for f in flagged if f.excluded]
    kept = [f for f in flagged if not f.excluded]
    lines: list[str] = []
    if held:
        lines.append(
            f"held back by QA: {len(held)} character{'s' if len(held) != 1 else ''} with hard flags "
            f"(shards in {out / 'excluded'}, which the trainer does not read):"
        )
        lines += _listed(held, limit, out)
    if kept:
        lines.append(
            f"hard QA flags, kept in the training splits (qa: {{exclude_flagged: false}}): {len(kept)}:"
        )
        lines += _listed(kept, limit, out)
    shown = (held if limit is None else held[:limit]) + (kept if limit is None else kept[:limit])
    lines.append("why, and what fixes it:")
    for name in dict.fromkeys(f for c in shown for f in c.hard):
        lines.append(f"  {name}: {flag_info(name).reason}. Fix: {flag_info(name).fix}")
    # a part's redo touches only its own journal (safe beside running parts); a character
    # journalled by a whole-manifest run needs a whole-manifest redo
    labels = sorted(
        {c.part for c in flagged}, key=lambda k: [int(n) for n in k.split("/")] if "/" in k else [-1]
    )
    parts = None if not run.get("part_count") or "all" in labels else labels
    annotate, *redo = fix_commands(run, out, parts)
    lines.append("fix them, then render exactly those again (their shards are replaced once the new ones")
    lines.append("are complete; nothing else changes):")
    lines.append(f"  {annotate}   (head top / chin; held-back characters first)")
    lines += [f"  {c}" for c in redo]
    return lines


def _listed(chars: list[Flagged], limit: int | None, out: Path) -> list[str]:
    lines: list[str] = []
    for c in chars if limit is None else chars[:limit]:
        lines.append(f"  {c.line()}")
        lines += [f"      {why}" for name, why in c.details.items() if why != flag_info(name).reason]
    if limit is not None and len(chars) > limit:
        lines.append(f"  ... and {len(chars) - limit} more: thagen status {shlex.quote(str(out))}")
    return lines
