"""QA flags from an earlier `thagen render` output, so flagged characters are reviewed first.

`thagen render` journals every finished character with its QA result (docs/dataset-format.md:
`journal.jsonl` and, for `--part` runs, `journal-part-K-of-N.jsonl`, one JSON object per line
with `id`, `qa.flags` and `excluded`). A character QA held back (a hard flag: its shards are in
OUT/excluded/) is waiting for exactly this tool, so it is listed first with each flag's reason
(render/character/flags.py); a rendered head that does not fill the expected rows is the usual
sign of a wrong head top or chin.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thagen.errors import ConfigError
from thagen.render.character.flags import flag_detail
from thagen.render.output.layout import JOURNAL, RUN_JSON, journal_files


@dataclass
class QAReview:
    """What the render outputs say about each character, for the queue."""

    flags: dict[str, list[str]] = field(default_factory=dict)  # id -> ["qa:<flag>", ...]
    reasons: dict[str, dict[str, str]] = field(default_factory=dict)  # id -> {"qa:<flag>": why}
    held_back: dict[str, float] = field(default_factory=dict)  # id -> when that render finished


def read_qa_review(out_dirs: list[Path]) -> QAReview:
    """Flags, reasons and held-back characters over the journals of the given render outputs
    (the last line of an id wins, as a re-run's does). Damaged lines are skipped: a journal
    may end mid-line."""
    review = QAReview()
    for out in out_dirs:
        paths = journal_files(Path(out))
        if not paths:
            raise ConfigError(f"{out}: no {JOURNAL} here (not a thagen render output)")
        for path in paths:
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                _add(review, line)
    return review


def _add(review: QAReview, line: str) -> None:
    try:
        rec = json.loads(line)
        cid, qa = rec["id"], rec.get("qa") or {}
        got, metrics = qa.get("flags", []), qa.get("metrics") or {}
    except (ValueError, KeyError, AttributeError, TypeError):
        return
    if not isinstance(cid, str) or not isinstance(got, list):
        return
    names = [f for f in got if isinstance(f, str)]
    review.flags[cid] = [f"qa:{f}" for f in names]
    metrics = metrics if isinstance(metrics, dict) else {}
    review.reasons[cid] = {f"qa:{f}": flag_detail(f, metrics) for f in names}
    review.held_back.pop(cid, None)
    if rec.get("excluded") is True:
        finished = rec.get("finished_at")
        review.held_back[cid] = float(finished) if isinstance(finished, (int, float)) else 0.0


def read_qa_flags(out_dirs: list[Path]) -> dict[str, list[str]]:
    """id -> ["qa:<flag>", ...] over the journals of the given render outputs."""
    return read_qa_review(out_dirs).flags


def rendered_from(out: Path) -> tuple[str, Path | None]:
    """The manifest an output was rendered from and its `--annotations` folder (run.json), so
    `thagen annotate serve --qa OUT` needs nothing else."""
    try:
        run: dict[str, Any] = json.loads((Path(out) / RUN_JSON).read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{out}: no readable {RUN_JSON}; name the models or manifest too") from exc
    manifest = run.get("manifest_path")
    if not isinstance(manifest, str) or not manifest:
        raise ConfigError(f"{out}/{RUN_JSON}: rendered from Python without a manifest file; name it too")
    options = [str(o) for o in run.get("render_options") or []]
    folder = options[options.index("--annotations") + 1] if "--annotations" in options[:-1] else None
    return manifest, None if folder is None else Path(folder)
