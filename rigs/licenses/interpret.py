"""Reading one text (a readme, a PMX comment) into findings: every reader applied to it once.

This is the seam between decoding and merging: it knows which readers exist (the term table,
Creative Commons names, URLs for VRoid Hub and CC deeds, credit and author lines) and nothing
about files or conflicts. A text that names only a guideline URL (`follow the guideline at
URL`) yields the URL and no finding: reading an unknown page as allow would be a guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from thagen.rigs.licenses import creative_commons, credit, terms, vroid
from thagen.rigs.licenses.records import Evidence, Finding

MAX_URLS = 50
MAX_URL_LENGTH = 2000
_URL = re.compile(r"https?://[^\s<>\"'`|\\\]\[(){}]+", re.IGNORECASE)
_URL_TRAILING = ".,;:!?。、）」』*_"


@dataclass(frozen=True)
class TextReading:
    """What one text said: findings in line order, and the URLs it holds (first seen first)."""

    findings: tuple[Finding, ...]
    urls: tuple[str, ...]


def find_urls(text: str) -> list[tuple[int, str]]:
    """(1-based line, URL) for the http(s) URLs in `text`, at most `MAX_URLS`, trailing punctuation cut."""
    found: list[tuple[int, str]] = []
    seen: set[str] = set()
    line, counted = 1, 0
    for match in _URL.finditer(text):
        line += text.count("\n", counted, match.start())
        counted = match.start()
        url = match.group(0)[:MAX_URL_LENGTH].rstrip(_URL_TRAILING)
        if len(url) <= len("https://") or url in seen:
            continue
        seen.add(url)
        found.append((line, url))
        if len(found) >= MAX_URLS:
            break
    return found


def url_findings(url: str, source: str, line: int | None) -> list[Finding]:
    """What a URL itself says: the VRoid Hub permissions it spells, or the CC license it names."""
    findings = vroid.vroid_findings(url, source, line)
    license_ = creative_commons.from_url(url)
    if license_ is not None:
        evidence = Evidence(source, line, url)
        findings.append(Finding("license_url", url, evidence))
        findings.extend(license_.findings(evidence))
    return findings


def interpret_text(text: str, source: str) -> TextReading:
    """Every finding in one decoded text; `source` names it in the evidence."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    normalized = terms.NormalizedText.of(lines)
    findings: list[Finding] = []
    findings.extend(terms.match_terms(normalized, source))
    findings.extend(creative_commons.scan_text(normalized, source))
    urls = find_urls(text)
    for line, url in urls:
        findings.extend(url_findings(url, source, line))
    findings.extend(credit.credit_findings(lines, source))
    findings.sort(key=lambda item: item.evidence.line or 0)
    return TextReading(tuple(findings), tuple(url for _, url in urls))
