"""Creative Commons licenses: recognizing them in text and URLs, and what each one implies.

A CC license is the one case where a short name settles several fields at once, so it is
worth recognizing in all its spellings: `CC BY 4.0`, `CC-BY-NC 3.0`, `CC_BY_NC_SA` (the VRM 0.x
preset), `Creative Commons Attribution-NonCommercial 4.0 International`, `クリエイティブ・コモンズ
表示 - 非営利 4.0`, and the deed URLs (`creativecommons.org/licenses/by-nc/3.0/`,
`/publicdomain/zero/1.0/`).

What each implies (`CcLicense.findings`):
- BY (every CC license but CC0): credit required, redistribution allow, modification allow.
- NC: commercial forbid. ND: modification forbid. SA: recorded in the name only.
- CC0: credit not required and every permission field allow.
- A CC license without NC does *not* set commercial allow: authors of CC BY models often keep
  trademark and design rights for commercial use (Gene's readme does), so it stays unknown
  unless the text says more.
The patterns are plain alternations with bounded repetition: linear time on any input.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from thagen.rigs.licenses.records import PERMISSION_FIELDS, Evidence, Finding
from thagen.rigs.licenses.terms import NormalizedText

_ELEMENT_ORDER = ("nc", "nd", "sa")
_ELEMENT_WORDS = {"noncommercial": "nc", "sharealike": "sa", "noderivs": "nd", "noderivatives": "nd"}
_SHORT = re.compile(r"(?<![a-z0-9])cc[ _-]?by((?:[ _-]?(?:nc|nd|sa)){0,3})(?![a-z0-9])(?:[ _-]?v?(\d\.\d))?")
_ZERO = re.compile(r"(?<![a-z0-9])(?:cc-?0|cc zero|creative ?commons zero)(?![a-z0-9])(?: ?v?(\d\.\d))?")
_LONG = re.compile(
    r"creative ?commons(?: license)? attribution"
    r"((?:[ -]{1,3}(?:non-?commercial|share-?alike|no-?derivs|no-?derivatives)){0,3})(?: (\d\.\d))?"
)
_URL = re.compile(r"creativecommons\.org/licenses/(by(?:-(?:nc|nd|sa)){0,3})/(\d\.\d)")
_URL_ZERO = re.compile(r"creativecommons\.org/publicdomain/zero/(\d\.\d)")
_JA_NAMES = ("クリエイティブ・コモンズ", "クリエイティブコモンズ")
_JA_ELEMENTS = (("非営利", "nc"), ("改変禁止", "nd"), ("継承", "sa"))
_VERSION = re.compile(r"\d\.\d")
MAX_FINDINGS_PER_NAME = 5


@dataclass(frozen=True)
class CcLicense:
    """One Creative Commons license: `by` (with NC / ND / SA elements) or `zero`, maybe versioned."""

    kind: str
    elements: tuple[str, ...] = ()
    version: str | None = None

    @classmethod
    def by(cls, elements: set[str] | frozenset[str], version: str | None) -> CcLicense:
        return cls("by", tuple(e for e in _ELEMENT_ORDER if e in elements), version)

    @property
    def name(self) -> str:
        """`CC BY-NC-SA 4.0`, `CC0 1.0`, or without the version when none was given."""
        base = "CC0" if self.kind == "zero" else "CC " + "-".join(["BY", *(e.upper() for e in self.elements)])
        return f"{base} {self.version}" if self.version else base

    @property
    def url(self) -> str | None:
        """The canonical deed URL (only when the version is known)."""
        if self.version is None:
            return None
        if self.kind == "zero":
            return f"https://creativecommons.org/publicdomain/zero/{self.version}/"
        return f"https://creativecommons.org/licenses/{'-'.join(['by', *self.elements])}/{self.version}/"

    def findings(self, evidence: Evidence) -> list[Finding]:
        """The license name and every field this license settles, all citing `evidence`."""
        found = [Finding("license_name", self.name, evidence)]
        if self.kind == "zero":
            found.append(Finding("credit", "not_required", evidence))
            found.extend(Finding(name, "allow", evidence) for name in PERMISSION_FIELDS)
            return found
        found.append(Finding("credit", "required", evidence))
        found.append(Finding("redistribution", "allow", evidence))
        found.append(Finding("modification", "forbid" if "nd" in self.elements else "allow", evidence))
        if "nc" in self.elements:
            found.append(Finding("commercial", "forbid", evidence))
        return found


def canonical_url(name: str) -> str | None:
    """The deed URL for a versioned CC name as `CcLicense.name` writes it, else None."""
    parts = name.split()
    if len(parts) == 2 and parts[0] == "CC0" and _VERSION.fullmatch(parts[1]):
        return CcLicense("zero", (), parts[1]).url
    if len(parts) == 3 and parts[0] == "CC" and _VERSION.fullmatch(parts[2]):
        elements = parts[1].lower().split("-")
        if elements[0] == "by" and all(e in _ELEMENT_ORDER for e in elements[1:]):
            return CcLicense.by(set(elements[1:]), parts[2]).url
    return None


def from_vrm_preset(value: str) -> CcLicense | None:
    """The VRM 0.x `licenseName` presets `CC0`, `CC_BY`, `CC_BY_NC_SA`, ...; None for the others."""
    if value == "CC0":
        return CcLicense("zero")
    parts = value.lower().split("_")
    if len(parts) >= 2 and parts[:2] == ["cc", "by"] and all(p in _ELEMENT_ORDER for p in parts[2:]):
        return CcLicense.by(set(parts[2:]), None)
    return None


def from_url(url: str) -> CcLicense | None:
    """The license a creativecommons.org deed URL names, else None."""
    lowered = url.lower()
    if "creativecommons.org/" not in lowered:
        return None
    match = _URL.search(lowered)
    if match:
        return CcLicense.by(set(match.group(1).split("-")[1:]), match.group(2))
    match = _URL_ZERO.search(lowered)
    if match:
        return CcLicense("zero", (), match.group(1))
    return None


def _short_elements(text: str) -> set[str]:
    """The NC / ND / SA elements in the tail of a short name (`-nc-sa`, `_nc`, ` nd`)."""
    parts = text.replace("_", " ").replace("-", " ").split()
    return {part for part in parts if part in _ELEMENT_ORDER}


def _long_elements(text: str) -> set[str]:
    """The elements in the tail of a full name (`-NonCommercial-ShareAlike`, ` No Derivatives`)."""
    folded = text.replace("-", "").replace(" ", "")
    return {element for word, element in _ELEMENT_WORDS.items() if word in folded}


def _from_match(pattern: re.Pattern[str], match: re.Match[str]) -> CcLicense:
    if pattern is _ZERO:
        return CcLicense("zero", (), match.group(1))
    elements = _short_elements(match.group(1)) if pattern is _SHORT else _long_elements(match.group(1))
    return CcLicense.by(elements, match.group(2))


def scan_text(text: NormalizedText, source: str) -> list[Finding]:
    """Findings for every CC license named in a text (ASCII names, full names, Japanese names)."""
    found: list[tuple[int, CcLicense, str]] = []
    spaced = text.spaced
    if "cc" in spaced or "creative" in spaced:
        seen: dict[str, int] = {}  # the same words again add nothing past the cap: skip them cheaply
        for pattern in (_SHORT, _ZERO, _LONG):
            for match in pattern.finditer(spaced):
                words = match.group(0)
                seen[words] = seen.get(words, 0) + 1
                if seen[words] <= MAX_FINDINGS_PER_NAME:
                    found.append((match.start(), _from_match(pattern, match), words))
    findings: list[Finding] = []
    counts: dict[str, int] = {}
    for position, license_, words in sorted(found, key=lambda item: item[0]):
        line = bisect.bisect_right(text.spaced_starts, position)
        _add(findings, counts, license_, Evidence(source, line, words))
    if not any(name in text.compact for name in _JA_NAMES):
        return findings
    for number, compact in enumerate(text.compact_lines, start=1):
        for name in _JA_NAMES:
            index = compact.find(name)
            if index == -1:
                continue
            segment = compact[index + len(name) : index + len(name) + 30]
            if "表示" not in segment:
                continue
            version = _VERSION.search(segment)
            elements = {element for word, element in _JA_ELEMENTS if word in segment}
            license_ = CcLicense.by(elements, version.group(0) if version else None)
            _add(findings, counts, license_, Evidence(source, number, name + segment))
            break
    return findings


def _add(findings: list[Finding], counts: dict[str, int], license_: CcLicense, evidence: Evidence) -> None:
    counts[license_.name] = counts.get(license_.name, 0) + 1
    if counts[license_.name] <= MAX_FINDINGS_PER_NAME:
        findings.extend(license_.findings(evidence))
