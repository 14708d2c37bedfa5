"""Turning findings from many sources into one record: where the conflict rules live.

Sources disagree (a readme says 再配布可, the VRM meta says Redistribution_Prohibited; a pack's
shared readme says one thing, the model's own another). The rules are conservative and simple:
- a permission is `forbid` if any source forbids it, `allow` only if some source allows it and
  none forbids it, `unknown` otherwise (findings of `unknown` only add evidence);
- credit is `required` if any source requires it;
- avatar use takes the most restrictive value;
- text fields take the first source's value (VRM meta, then PMX comments, then files nearest
  the model first); every distinct license name is kept, joined with `; `.
The evidence for every value (conflicting ones included) is kept, bounded per field.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from thagen.rigs.licenses.creative_commons import canonical_url
from thagen.rigs.licenses.records import (
    AVATAR_USES,
    PERMISSION_FIELDS,
    Credit,
    Evidence,
    Finding,
    LicenseRecord,
    Permission,
    SourceText,
)

MAX_EVIDENCE_PER_FIELD = 12
MAX_EVIDENCE_PER_VALUE_AND_SOURCE = 3

_PERMISSION_RANK = {"unknown": 0, "allow": 1, "forbid": 2}
_CREDIT_RANK = {"unknown": 0, "not_required": 1, "required": 2}
_AVATAR_RANK = {name: rank for rank, name in enumerate(AVATAR_USES, start=1)}


def strongest(findings: Iterable[Finding], rank: dict[str, int]) -> str | None:
    """The highest-ranked value among the findings (None when there are none it knows)."""
    best: str | None = None
    for finding in findings:
        if finding.value in rank and (best is None or rank[finding.value] > rank[best]):
            best = finding.value
    return best


def bounded_evidence(findings: Sequence[Finding]) -> tuple[Evidence, ...]:
    """The evidence of `findings`, bounded, but always with the first of each distinct value."""
    chosen: set[int] = set()
    first_of_value: dict[str, int] = {}
    for index, finding in enumerate(findings):
        first_of_value.setdefault(finding.value, index)
    chosen.update(first_of_value.values())
    per_key: dict[tuple[str, str], int] = {}
    for index in chosen:
        key = (findings[index].value, findings[index].evidence.source)
        per_key[key] = per_key.get(key, 0) + 1
    for index, finding in enumerate(findings):
        if len(chosen) >= MAX_EVIDENCE_PER_FIELD:
            break
        key = (finding.value, finding.evidence.source)
        if index in chosen or per_key.get(key, 0) >= MAX_EVIDENCE_PER_VALUE_AND_SOURCE:
            continue
        if finding.evidence in (findings[i].evidence for i in chosen if findings[i].value == finding.value):
            continue
        chosen.add(index)
        per_key[key] = per_key.get(key, 0) + 1
    return tuple(findings[index].evidence for index in sorted(chosen))


def license_names(findings: Iterable[Finding]) -> list[str]:
    """Distinct license names in order, an unversioned name dropped when a versioned one has it."""
    names: list[str] = []
    for finding in findings:
        if finding.value not in names:
            names.append(finding.value)
    return [name for name in names if not any(other.startswith(name + " ") for other in names)]


def build_record(
    findings: Iterable[Finding],
    *,
    sources: Sequence[SourceText] = (),
    urls: Sequence[str] = (),
    notes: Sequence[str] = (),
) -> LicenseRecord:
    """One record from all findings, by the rules of this module's doc."""
    by_field: dict[str, list[Finding]] = {}
    for finding in findings:
        by_field.setdefault(finding.field, []).append(finding)
    evidence: dict[str, tuple[Evidence, ...]] = {}

    permissions: dict[str, Permission] = {}
    for name in PERMISSION_FIELDS:
        found = by_field.get(name, [])
        permissions[name] = Permission(strongest(found, _PERMISSION_RANK) or "unknown")
        evidence[name] = bounded_evidence(found)
    found = by_field.get("credit", [])
    credit = Credit(strongest(found, _CREDIT_RANK) or "unknown")
    evidence["credit"] = bounded_evidence(found)
    found = by_field.get("avatar_use", [])
    avatar_use = strongest(found, _AVATAR_RANK)
    evidence["avatar_use"] = bounded_evidence([f for f in found if f.value in _AVATAR_RANK])

    found = by_field.get("license_name", [])
    names = license_names(found)
    evidence["license_name"] = bounded_evidence([f for f in found if f.value in names])

    first: dict[str, str | None] = {}
    for name in ("license_url", "author"):
        found = by_field.get(name, [])
        first[name] = found[0].value if found else None
        evidence[name] = bounded_evidence(found[:1])
    license_url = first["license_url"]
    if license_url is None and len(names) == 1:
        license_url = canonical_url(names[0])

    chosen = by_field.get("credit_line", [])[:1] or by_field.get("copyright_line", [])[:1]
    evidence["credit_line"] = bounded_evidence(chosen)

    unique_urls: list[str] = []
    for url in urls:
        if url not in unique_urls:
            unique_urls.append(url)
    return LicenseRecord(
        license_name="; ".join(names) if names else None,
        license_url=license_url,
        author=first["author"],
        credit_line=chosen[0].value if chosen else None,
        credit=credit,
        redistribution=permissions["redistribution"],
        modification=permissions["modification"],
        commercial=permissions["commercial"],
        sexual=permissions["sexual"],
        violent=permissions["violent"],
        political_religious=permissions["political_religious"],
        avatar_use=avatar_use,
        evidence=evidence,
        sources=tuple(sources),
        urls=tuple(unique_urls),
        notes=tuple(notes),
    )
