"""The credit line an author asks for, and the author's name, picked out of a readme.

A dataset that must credit its models needs the exact words the author asked for, not a
paraphrase, so the line is kept verbatim. Two kinds of line count:
- a *marked* line: the rest of a line after `credit:` / `クレジット：` / `表記：` / `表記例`, or,
  when that is empty, the next non-empty line (markdown code fences skipped), as in
  `For use, please use this credit:` followed by the line to copy;
- a *copyright* line: one holding `©`, or `(c)` / `Copyright` followed by a year.
A marked line wins over a copyright line. Candidates that are only a verdict (`必須`,
`not required`, ...) are not credit lines. Author lines: `author:` / `作者：` / `モデル制作：` ...
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from thagen.rigs.licenses.records import Evidence, Finding
from thagen.rigs.licenses.terms import TERMS, normalize

CREDIT_MARKERS: tuple[str, ...] = (
    "credit:",
    "credit：",
    "クレジット:",
    "クレジット：",
    "表記:",
    "表記：",
    "表記例",
)
"""Case-insensitive; the credit text follows the marker on the same line or on the next one."""

AUTHOR_MARKERS: tuple[str, ...] = (
    "author:",
    "author：",
    "作者:",
    "作者：",
    "製作者:",
    "製作者：",
    "制作者:",
    "制作者：",
    "モデル制作:",
    "モデル制作：",
    "モデル製作:",
    "モデル製作：",
)

MAX_LINE = 200
_NOT_A_CREDIT = frozenset(
    (
        "必須",
        "不要",
        "任意",
        "要",
        "なし",
        "無し",
        "不要です",
        "必須です",
        "お願いします",
        "required",
        "notrequired",
        "necessary",
        "unnecessary",
        "optional",
        "none",
        "yes",
        "no",
    )
)
_QUOTES = " \t:：「」『』\"'“”`*"
_COPYRIGHT = re.compile(r"(?:\(c\)|copyright)\s?(?:©|\(c\))?\s?(?:19|20)\d\d", re.IGNORECASE)
_TERM_PATTERNS = tuple(pattern for pattern, _, _ in TERMS)


def _find(line: str, markers: Sequence[str]) -> tuple[int, str] | None:
    lowered = line.lower()
    if len(lowered) != len(line):
        lowered = line
    for marker in markers:
        index = lowered.find(marker)
        if index != -1:
            return index, marker
    return None


def _is_fence(line: str) -> bool:
    return line.strip().startswith(("```", "~~~"))


def _clean(text: str) -> str:
    return text.strip().strip(_QUOTES).strip()


def is_credit_text(text: str) -> bool:
    """Whether `text` can be a credit line (not a verdict such as `必須` or `not required`)."""
    if not 3 <= len(text) <= MAX_LINE:
        return False
    spaced, compact = normalize(text)
    if compact.rstrip("。.!") in _NOT_A_CREDIT:
        return False
    return not any(pattern in (spaced if pattern.isascii() else compact) for pattern in _TERM_PATTERNS)


def credit_findings(lines: Sequence[str], source: str) -> list[Finding]:
    """The first marked credit line, the first copyright line, and the first author line."""
    findings: list[Finding] = []
    # Whole-text checks first: a text without any marker costs a few scans, not a loop per line.
    whole = "\n".join(lines)
    lowered = whole.lower()
    marked = not any(marker in lowered for marker in CREDIT_MARKERS)
    copyright_ = "©" not in whole and _COPYRIGHT.search(whole) is None
    author = not any(marker in lowered for marker in AUTHOR_MARKERS)
    for index, line in enumerate(lines):
        if marked and copyright_ and author:
            break
        if not line or len(line) > 4 * MAX_LINE:
            continue
        if not marked:
            hit = _find(line, CREDIT_MARKERS)
            if hit is not None:
                number, text = _marked_text(lines, index, hit[0] + len(hit[1]))
                if text is not None:
                    findings.append(Finding("credit_line", text, Evidence(source, number, hit[1])))
                    findings.append(Finding("credit", "required", Evidence(source, number, hit[1])))
                    marked = True
        if not copyright_ and len(line) <= MAX_LINE and ("©" in line or _COPYRIGHT.search(line)):
            text = _clean(line.strip().lstrip("#>-*・ "))
            if len(text) >= 3:
                findings.append(Finding("copyright_line", text, Evidence(source, index + 1, text)))
                copyright_ = True
        if not author:
            hit = _find(line, AUTHOR_MARKERS)
            if hit is not None:
                name = _clean(line[hit[0] + len(hit[1]) :])[:100]
                if name:
                    findings.append(Finding("author", name, Evidence(source, index + 1, hit[1])))
                    author = True
    return findings


def _marked_text(lines: Sequence[str], index: int, after: int) -> tuple[int, str | None]:
    """The credit text after a marker at `lines[index][:after]` and its 1-based line number."""
    rest = _clean(lines[index][after:])
    if rest:
        return index + 1, rest if is_credit_text(rest) else None
    for follow in range(index + 1, min(index + 5, len(lines))):
        candidate = lines[follow]
        if not candidate.strip() or _is_fence(candidate):
            continue
        text = _clean(candidate)
        return follow + 1, text if is_credit_text(text) else None
    return index + 1, None
