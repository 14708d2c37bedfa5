"""Lists of forbidden things: `■禁止事項` followed by bare words such as `・再配布`.

Many MMD readmes state their terms not as phrases (`再配布禁止`) but as a header and a list of
bare nouns under it. Inside such a list a bare word means "forbidden", so each known word
makes its field forbid. Only lists of *forbidden* things are read: a misread list of allowed
things would produce an allow, and allow is never guessed.
"""

from __future__ import annotations

from collections.abc import Sequence

from thagen.rigs.licenses.records import Evidence, Finding

FORBID = "forbid"
MAX_FINDINGS_PER_FIELD = 5
MAX_SECTION_LINES = 30
"""A list ends at a blank line after its first item, at the next header, or after this many lines."""

SECTION_HEADERS: tuple[str, ...] = (
    "禁止事項",
    "禁止行為",
    "禁止していること",
    "してはいけないこと",
    "やってはいけないこと",
)
"""A short line holding one of these opens a list of forbidden things (`■禁止事項` then `・再配布`)."""

SECTION_WORDS: tuple[tuple[str, str], ...] = (
    ("再配布", "redistribution"),
    ("二次配布", "redistribution"),
    ("配布", "redistribution"),
    ("転載", "redistribution"),
    ("改変", "modification"),
    ("改造", "modification"),
    ("商用", "commercial"),
    ("営利", "commercial"),
    ("エロ", "sexual"),
    ("アダルト", "sexual"),
    ("性的", "sexual"),
    ("r-18", "sexual"),
    ("r18", "sexual"),
    ("グロ", "violent"),
    ("暴力", "violent"),
    ("政治", "political_religious"),
    ("宗教", "political_religious"),
)
"""(word, field) rows: inside a forbidden-things list, a bare word makes its field forbid."""

_HEADER_DECORATION = "■□◆◇●○★☆【】[]<>《》〈〉#=*・-_~|:()「」"
_NO_SECTION = ("ない", "なし", "ありません")


def _header(compact: str) -> str | None:
    """The section header word when a compact line is a short forbidden-things header."""
    bare = compact.strip(_HEADER_DECORATION)
    if any(word in bare for word in _NO_SECTION):
        return None
    for word in SECTION_HEADERS:
        if word in bare and len(bare) <= len(word) + 8:
            return word
    return None


def section_findings(lines: Sequence[str], source: str) -> list[Finding]:
    """Forbid findings for the bare words listed under a `禁止事項` header."""
    findings: list[Finding] = []
    counts: dict[str, int] = {}
    header: str | None = None
    seen_item = False
    left = 0
    joined = "\n".join(lines)
    if not any(word in joined for word in SECTION_HEADERS):
        return findings
    for number, line in enumerate(lines, start=1):
        if header is None or left <= 0:
            header = _header(line)
            seen_item, left = False, MAX_SECTION_LINES
            continue
        left -= 1
        if not line:
            if seen_item:
                header = None
            continue
        new_header = _header(line)
        if new_header is not None or line.startswith(("■", "◆", "●", "★", "【", "#")):
            header, seen_item, left = new_header, False, MAX_SECTION_LINES
            continue
        seen_item = True
        fields_seen: set[str] = set()
        for word, field in SECTION_WORDS:
            if field not in fields_seen and word in line:
                fields_seen.add(field)
                counts[field] = counts.get(field, 0) + 1
                if counts[field] > MAX_FINDINGS_PER_FIELD:
                    continue
                findings.append(Finding(field, FORBID, Evidence(source, number, f"{header}: {word}")))
    return findings
