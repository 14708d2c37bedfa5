"""QA flags from an earlier `thagen render` output, so flagged characters are reviewed first.

`thagen render` journals every finished character with its QA result (docs/dataset-format.md:
`journal.jsonl`, one JSON object per line with `id` and `qa.flags`). A rendered head that does
not fill the expected rows is the usual sign of a wrong head top or chin.
"""

from __future__ import annotations

import json
from pathlib import Path

from thagen.errors import ConfigError

JOURNAL = "journal.jsonl"


def read_qa_flags(out_dirs: list[Path]) -> dict[str, list[str]]:
    """id -> ["qa:<flag>", ...] over the journals of the given render outputs (the last line of
    an id wins, as a re-run's does). Damaged lines are skipped: a journal may end mid-line."""
    flags: dict[str, list[str]] = {}
    for out in out_dirs:
        path = Path(out) / JOURNAL
        if not path.is_file():
            raise ConfigError(f"{out}: no {JOURNAL} here (not a thagen render output)")
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                rec = json.loads(line)
                cid, got = rec["id"], rec.get("qa", {}).get("flags", [])
            except (ValueError, KeyError, AttributeError, TypeError):
                continue
            if isinstance(cid, str) and isinstance(got, list):
                flags[cid] = [f"qa:{f}" for f in got if isinstance(f, str)]
    return flags
