"""The Japanese and English phrases that state a permission, and how they are found in a text.

MMD and VRM authors write their terms as short phrases (`改変可・再配布禁止`, `no redistribution`)
rather than naming a license, so this table is most of what thagen can read from a readme. Rows
are plain substrings, never regular expressions, so matching costs linear time whatever the text.

Matching rules (all of them exist to keep a forbid from being read as an allow):
- Lines are normalized first: NFKC (full-width to half-width), lower case, dashes and quotes unified.
  Japanese rows match the *compact* line (no spaces, no `:`), so `改変：可` and `改変 可` read
  as `改変可`; ASCII rows match the *spaced* line (`:` becomes a space) between word boundaries,
  so `piano commercial` never contains `no commercial`.
- Negative rows (forbid, credit not required) are matched first, longest first, and a span one
  row has matched is not matched again by another row for the same field. So `no commercial use
  allowed` is forbid, `no credit needed` is not-required, and the allow form inside
  `改変可否` (`否`) or `改変可能ではない` is dropped.
- A row only ever yields its own value; nothing in the table turns silence into allow.
"""

from __future__ import annotations

import bisect
import itertools
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from thagen.rigs.licenses.records import Evidence, Finding
from thagen.rigs.licenses.sections import section_findings

ALLOW, FORBID = "allow", "forbid"
REQUIRED, NOT_REQUIRED = "required", "not_required"
NEGATIVE_VALUES = frozenset((FORBID, NOT_REQUIRED))

TERMS: tuple[tuple[str, str, str], ...] = (
    # modification
    ("改変可", "modification", ALLOW),
    ("改変ok", "modification", ALLOW),
    ("改変自由", "modification", ALLOW),
    ("改変は可", "modification", ALLOW),
    ("改変はok", "modification", ALLOW),
    ("改変は自由", "modification", ALLOW),
    ("改変して構いません", "modification", ALLOW),
    ("改造可", "modification", ALLOW),
    ("改造ok", "modification", ALLOW),
    ("改造自由", "modification", ALLOW),
    ("改造は自由", "modification", ALLOW),
    ("modification allowed", "modification", ALLOW),
    ("modifications allowed", "modification", ALLOW),
    ("modification is allowed", "modification", ALLOW),
    ("modifications are allowed", "modification", ALLOW),
    ("free to modify", "modification", ALLOW),
    ("改変禁止", "modification", FORBID),
    ("改変不可", "modification", FORBID),
    ("改変ng", "modification", FORBID),
    ("改変は禁止", "modification", FORBID),
    ("改変はng", "modification", FORBID),
    ("改変はご遠慮", "modification", FORBID),
    ("無断改変", "modification", FORBID),
    ("改造禁止", "modification", FORBID),
    ("改造不可", "modification", FORBID),
    ("改造ng", "modification", FORBID),
    ("改造は禁止", "modification", FORBID),
    ("改変・再配布禁止", "modification", FORBID),
    ("改造・再配布禁止", "modification", FORBID),
    ("no modification", "modification", FORBID),
    ("no modifications", "modification", FORBID),
    ("modification prohibited", "modification", FORBID),
    ("modification is prohibited", "modification", FORBID),
    ("modification not allowed", "modification", FORBID),
    ("modification is not allowed", "modification", FORBID),
    ("modifications are not allowed", "modification", FORBID),
    ("do not modify", "modification", FORBID),
    ("don't modify", "modification", FORBID),
    # redistribution
    ("再配布可", "redistribution", ALLOW),
    ("再配布ok", "redistribution", ALLOW),
    ("再配布自由", "redistribution", ALLOW),
    ("再配布は可", "redistribution", ALLOW),
    ("再配布はok", "redistribution", ALLOW),
    ("二次配布可", "redistribution", ALLOW),
    ("二次配布ok", "redistribution", ALLOW),
    ("redistribution allowed", "redistribution", ALLOW),
    ("redistribution is allowed", "redistribution", ALLOW),
    ("redistribution permitted", "redistribution", ALLOW),
    ("free to redistribute", "redistribution", ALLOW),
    ("再配布禁止", "redistribution", FORBID),
    ("再配布不可", "redistribution", FORBID),
    ("再配布ng", "redistribution", FORBID),
    ("再配布は禁止", "redistribution", FORBID),
    ("再配布はng", "redistribution", FORBID),
    ("再配布はご遠慮", "redistribution", FORBID),
    ("二次配布禁止", "redistribution", FORBID),
    ("二次配布不可", "redistribution", FORBID),
    ("二次配布はご遠慮", "redistribution", FORBID),
    ("配布禁止", "redistribution", FORBID),
    ("配布は禁止", "redistribution", FORBID),
    ("転載禁止", "redistribution", FORBID),
    ("改変・再配布禁止", "redistribution", FORBID),
    ("改造・再配布禁止", "redistribution", FORBID),
    ("no redistribution", "redistribution", FORBID),
    ("do not redistribute", "redistribution", FORBID),
    ("don't redistribute", "redistribution", FORBID),
    ("may not redistribute", "redistribution", FORBID),
    ("redistribution prohibited", "redistribution", FORBID),
    ("redistribution is prohibited", "redistribution", FORBID),
    ("redistribution not allowed", "redistribution", FORBID),
    ("redistribution is not allowed", "redistribution", FORBID),
    ("redistribution is forbidden", "redistribution", FORBID),
    # commercial
    ("商用利用可", "commercial", ALLOW),
    ("商用利用ok", "commercial", ALLOW),
    ("商用利用は可", "commercial", ALLOW),
    ("商用利用も可", "commercial", ALLOW),
    ("商用可", "commercial", ALLOW),
    ("商用ok", "commercial", ALLOW),
    ("営利利用可", "commercial", ALLOW),
    ("commercial use allowed", "commercial", ALLOW),
    ("commercial use is allowed", "commercial", ALLOW),
    ("commercial use permitted", "commercial", ALLOW),
    ("commercial use ok", "commercial", ALLOW),
    ("商用利用不可", "commercial", FORBID),
    ("商用利用禁止", "commercial", FORBID),
    ("商用利用ng", "commercial", FORBID),
    ("商用利用は不可", "commercial", FORBID),
    ("商用利用は禁止", "commercial", FORBID),
    ("商用利用はご遠慮", "commercial", FORBID),
    ("商用禁止", "commercial", FORBID),
    ("商用不可", "commercial", FORBID),
    ("商用ng", "commercial", FORBID),
    ("営利目的での使用禁止", "commercial", FORBID),
    ("営利目的での利用禁止", "commercial", FORBID),
    ("営利目的の利用禁止", "commercial", FORBID),
    ("営利目的禁止", "commercial", FORBID),
    ("営利利用禁止", "commercial", FORBID),
    ("非商用", "commercial", FORBID),
    ("非営利", "commercial", FORBID),
    ("non-commercial", "commercial", FORBID),
    ("noncommercial", "commercial", FORBID),
    ("non commercial", "commercial", FORBID),
    ("no commercial use", "commercial", FORBID),
    ("not for commercial use", "commercial", FORBID),
    ("commercial use prohibited", "commercial", FORBID),
    ("commercial use is prohibited", "commercial", FORBID),
    ("commercial use not allowed", "commercial", FORBID),
    ("commercial use is not allowed", "commercial", FORBID),
    ("commercial use is forbidden", "commercial", FORBID),
    # credit
    ("クレジット表記必須", "credit", REQUIRED),
    ("クレジット必須", "credit", REQUIRED),
    ("要クレジット", "credit", REQUIRED),
    ("クレジット表記をお願い", "credit", REQUIRED),
    ("クレジット表記してください", "credit", REQUIRED),
    ("著作表示", "credit", REQUIRED),
    ("credit required", "credit", REQUIRED),
    ("credit is required", "credit", REQUIRED),
    ("credit needed", "credit", REQUIRED),
    ("attribution required", "credit", REQUIRED),
    ("attribution is required", "credit", REQUIRED),
    ("please credit", "credit", REQUIRED),
    ("must credit", "credit", REQUIRED),
    ("クレジット表記不要", "credit", NOT_REQUIRED),
    ("クレジット表記は不要", "credit", NOT_REQUIRED),
    ("クレジット表記任意", "credit", NOT_REQUIRED),
    ("クレジット表記は任意", "credit", NOT_REQUIRED),
    ("クレジット不要", "credit", NOT_REQUIRED),
    ("クレジットは不要", "credit", NOT_REQUIRED),
    ("表記不要", "credit", NOT_REQUIRED),
    ("credit not required", "credit", NOT_REQUIRED),
    ("credit is not required", "credit", NOT_REQUIRED),
    ("credit not needed", "credit", NOT_REQUIRED),
    ("no credit needed", "credit", NOT_REQUIRED),
    ("no credit required", "credit", NOT_REQUIRED),
    ("credit is not necessary", "credit", NOT_REQUIRED),
    ("attribution not required", "credit", NOT_REQUIRED),
    ("no attribution required", "credit", NOT_REQUIRED),
    # sexual (a bare R-18 / 18禁 mention counts as forbid: it is almost always "R-18 禁止")
    ("r-18", "sexual", FORBID),
    ("r18", "sexual", FORBID),
    ("18禁", "sexual", FORBID),
    ("性的表現禁止", "sexual", FORBID),
    ("性的な表現禁止", "sexual", FORBID),
    ("性的利用禁止", "sexual", FORBID),
    ("エロ禁止", "sexual", FORBID),
    ("エロ不可", "sexual", FORBID),
    ("エロng", "sexual", FORBID),
    ("アダルト禁止", "sexual", FORBID),
    ("アダルト不可", "sexual", FORBID),
    ("アダルト用途禁止", "sexual", FORBID),
    ("no sexual", "sexual", FORBID),
    ("no adult content", "sexual", FORBID),
    ("no nsfw", "sexual", FORBID),
    ("sexual content prohibited", "sexual", FORBID),
    ("sexual use prohibited", "sexual", FORBID),
    ("エロ可", "sexual", ALLOW),
    ("エロok", "sexual", ALLOW),
    ("性的表現可", "sexual", ALLOW),
    ("性的表現ok", "sexual", ALLOW),
    # violent
    ("暴力表現禁止", "violent", FORBID),
    ("暴力的表現禁止", "violent", FORBID),
    ("暴力的な表現禁止", "violent", FORBID),
    ("グロ禁止", "violent", FORBID),
    ("グロ不可", "violent", FORBID),
    ("グロng", "violent", FORBID),
    ("r-18g", "violent", FORBID),
    ("r18g", "violent", FORBID),
    ("no violent", "violent", FORBID),
    ("no gore", "violent", FORBID),
    ("violent content prohibited", "violent", FORBID),
    # political / religious
    ("政治利用禁止", "political_religious", FORBID),
    ("宗教利用禁止", "political_religious", FORBID),
    ("政治・宗教利用禁止", "political_religious", FORBID),
    ("政治的利用禁止", "political_religious", FORBID),
    ("宗教的利用禁止", "political_religious", FORBID),
    ("政治・宗教目的での利用禁止", "political_religious", FORBID),
    ("政治的・宗教的な利用禁止", "political_religious", FORBID),
    ("no political", "political_religious", FORBID),
    ("no religious", "political_religious", FORBID),
    ("political use prohibited", "political_religious", FORBID),
    ("religious use prohibited", "political_religious", FORBID),
)
"""(pattern, field, value) rows: a normalized line containing `pattern` says `field` is `value`.

Patterns are written normalized (NFKC, lower case, no spaces in Japanese rows). `field` is a
`LicenseRecord` permission field or `credit`; `value` is allow / forbid, or required /
not_required for credit. docs/licenses.md lists the same table.
"""

MAX_FINDINGS_PER_VALUE = 5
"""Evidence kept per (field, value) and text: more matches of the same fact add nothing."""

_NEGATED_AFTER = ("否", "不", "ではな", "ではあ", "じゃな", "でな", "ない", "ません")
_NEGATING_WORDS = frozenset(("no", "not", "never", "without", "nor"))
_DASHES = str.maketrans(
    {**{ch: "-" for ch in "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"}, "\u2018": "'", "\u2019": "'"}
)


@dataclass(frozen=True)
class _Row:
    pattern: str
    field: str
    value: str
    ascii: bool


def _ordered_rows() -> tuple[_Row, ...]:
    rows = [_Row(p, f, v, p.isascii()) for p, f, v in TERMS]
    rows.sort(key=lambda row: (row.value not in NEGATIVE_VALUES, -len(row.pattern)))
    return tuple(rows)


_ROWS = _ordered_rows()


def normalize(line: str) -> tuple[str, str]:
    """(spaced, compact) forms of one line, as the table's ASCII and Japanese rows are matched."""
    if line.isascii():  # NFKC leaves ASCII alone: skip it (most lines of most readmes)
        text = line.lower()
    else:
        text = unicodedata.normalize("NFKC", line).lower().translate(_DASHES)
    spaced = " ".join(text.replace(":", " ").split())
    compact = "".join(text.replace(":", "").split())
    return spaced, compact


@dataclass
class NormalizedText:
    """A text's lines, normalized and joined with newlines, with each line's start offset."""

    spaced: str
    compact: str
    spaced_starts: list[int]
    compact_starts: list[int]
    compact_lines: list[str]

    @classmethod
    def of(cls, lines: Sequence[str]) -> NormalizedText:
        spaced_lines: list[str] = []
        compact_lines: list[str] = []
        for line in lines:
            spaced, compact = normalize(line) if line else ("", "")
            spaced_lines.append(spaced)
            compact_lines.append(compact)
        return cls(
            "\n".join(spaced_lines),
            "\n".join(compact_lines),
            _starts(spaced_lines),
            _starts(compact_lines),
            compact_lines,
        )


def _starts(lines: Sequence[str]) -> list[int]:
    """The offset of each line in the lines joined with newlines."""
    return [0, *itertools.accumulate(len(line) + 1 for line in lines[:-1])] if lines else []


def match_terms(text: NormalizedText, source: str) -> list[Finding]:
    """Findings for every `TERMS` row (negation rules in the module doc) and forbidden-things list."""
    findings: list[Finding] = []
    masks: dict[tuple[str, bool], bytearray] = {}
    counts: dict[tuple[str, str], int] = {}
    for row in _ROWS:
        hay = text.spaced if row.ascii else text.compact
        starts = text.spaced_starts if row.ascii else text.compact_starts
        mask = masks.get((row.field, row.ascii))
        if mask is None:
            mask = masks[(row.field, row.ascii)] = bytearray(len(hay))
        start = hay.find(row.pattern)
        while start != -1:
            end = start + len(row.pattern)
            if (not row.ascii or _on_word_boundaries(hay, start, end)) and not any(mask[start:end]):
                mask[start:end] = b"\x01" * (end - start)
                if row.value in NEGATIVE_VALUES or not _negated(hay, start, end, row.ascii):
                    key = (row.field, row.value)
                    counts[key] = counts.get(key, 0) + 1
                    if counts[key] <= MAX_FINDINGS_PER_VALUE:
                        line = bisect.bisect_right(starts, start)
                        findings.append(Finding(row.field, row.value, Evidence(source, line, row.pattern)))
            start = hay.find(row.pattern, start + 1)
    findings.extend(section_findings(text.compact_lines, source))
    findings.sort(key=lambda item: (item.evidence.line or 0, item.field))
    return findings


def _is_word_char(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def _on_word_boundaries(hay: str, start: int, end: int) -> bool:
    before = hay[start - 1] if start > 0 else " "
    after = hay[end] if end < len(hay) else " "
    return not (_is_word_char(before) and _is_word_char(hay[start])) and not (
        _is_word_char(after) and _is_word_char(hay[end - 1])
    )


def _negated(hay: str, start: int, end: int, ascii_row: bool) -> bool:
    """Whether an allow / required match is undone by the words around it."""
    if ascii_row:
        before = hay[max(0, start - 12) : start].split("\n")[-1].split()
        return bool(before) and before[-1] in _NEGATING_WORDS
    tail = hay[end : end + 8].split("\n")[0]
    if tail.startswith("能"):
        tail = tail[1:]
    return tail.startswith(_NEGATED_AFTER)
