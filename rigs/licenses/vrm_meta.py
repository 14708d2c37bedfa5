"""VRM meta: the license a VRM file declares about itself, read into findings.

VRM is the one format where the license is structured data, so it is read key by key:
- VRM 0.x (`extensions.VRM.meta`): `licenseName` (CC presets, `Redistribution_Prohibited`,
  `Other` + `otherLicenseUrl`), `allowedUserName`, `commercialUssageName`, `sexualUssageName`,
  `violentUssageName` (Allow / Disallow), `author`.
- VRM 1.0 (`extensions.VRMC_vrm.meta`): `licenseUrl`, `avatarPermission`, `commercialUsage`,
  `creditNotation`, `allowRedistribution`, `modification`, `allowExcessively*Usage`,
  `allowPoliticalOrReligiousUsage`, `authors`, `copyrightInformation`, `otherLicenseUrl`.
  A key the file leaves out takes the VRM 1.0 specification's default, and every default is the
  restrictive choice, so an empty VRM 1.0 meta reads as mostly forbid, as the spec intends.
The meta comes from a stranger's file: any value of the wrong type is ignored (noted in the
evidence as unknown), never trusted. URLs in the meta go through the VRoid Hub and CC readers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from thagen.rigs.licenses import creative_commons, vroid
from thagen.rigs.licenses.records import Evidence, Finding

SOURCE = "vrm meta"
VRM1_LICENSE_URL = "vrm.dev/licenses/1.0"
_MAX_TEXT = 500

_VRM0_USAGE = {"allow": "allow", "disallow": "forbid"}
_VRM0_USAGE_KEYS = (
    ("commercialUssageName", "commercial"),
    ("sexualUssageName", "sexual"),
    ("violentUssageName", "violent"),
)
_VRM0_USERS = {
    "everyone": "everyone",
    "explicitlylicensedperson": "licensed_person",
    "onlyauthor": "author_only",
}

_VRM1_USERS = {
    "everyone": "everyone",
    "onlySeparatelyLicensedPerson": "licensed_person",
    "onlyAuthor": "author_only",
}
_VRM1_COMMERCIAL = {"personalNonProfit": "forbid", "personalProfit": "forbid", "corporation": "allow"}
_VRM1_MODIFICATION = {
    "prohibited": "forbid",
    "allowModification": "allow",
    "allowModificationRedistribution": "allow",
}
_VRM1_CREDIT = {"required": "required", "unnecessary": "not_required"}
_VRM1_BOOLS = (
    ("allowRedistribution", "redistribution"),
    ("allowExcessivelySexualUsage", "sexual"),
    ("allowExcessivelyViolentUsage", "violent"),
    ("allowPoliticalOrReligiousUsage", "political_religious"),
)
_VRM1_DEFAULTS: dict[str, Any] = {
    "avatarPermission": "onlyAuthor",
    "commercialUsage": "personalNonProfit",
    "creditNotation": "required",
    "allowRedistribution": False,
    "modification": "prohibited",
    "allowExcessivelySexualUsage": False,
    "allowExcessivelyViolentUsage": False,
    "allowPoliticalOrReligiousUsage": False,
}
"""What the VRM 1.0 specification says an absent key means."""

_VRM0_KEYS = (
    "licenseName",
    "commercialUssageName",
    "allowedUserName",
    "sexualUssageName",
    "violentUssageName",
)
_VRM1_KEYS = (
    "licenseUrl",
    "avatarPermission",
    "commercialUsage",
    "creditNotation",
    "authors",
    "allowRedistribution",
)


def meta_from_gltf(gltf: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The meta dict of a parsed VRM glTF JSON (1.0 `VRMC_vrm` before 0.x `VRM`), else None."""
    extensions = gltf.get("extensions")
    if not isinstance(extensions, Mapping):
        return None
    for name in ("VRMC_vrm", "VRM"):
        ext = extensions.get(name)
        if isinstance(ext, Mapping) and isinstance(ext.get("meta"), Mapping):
            meta: Mapping[str, Any] = ext["meta"]
            return meta
    return None


def meta_version(meta: Mapping[str, Any]) -> str | None:
    """`"1.0"` or `"0.x"` from the keys present, None when neither version's keys are there."""
    if any(key in meta for key in _VRM1_KEYS):
        return "1.0"
    if any(key in meta for key in _VRM0_KEYS):
        return "0.x"
    return None


def vrm_meta_findings(meta: Mapping[str, Any]) -> list[Finding]:
    """Findings for a VRM meta dict of either version ([] when it is neither)."""
    version = meta_version(meta)
    if version == "1.0":
        return vrm1_findings(meta)
    if version == "0.x":
        return vrm0_findings(meta)
    return []


def _text(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()[:_MAX_TEXT]
    return None


def _ev(words: str) -> Evidence:
    return Evidence(SOURCE, None, words[:_MAX_TEXT])


def _url_findings(url: str, key: str) -> list[Finding]:
    """A license URL: its VRoid Hub or CC meaning (the evidence names the meta key)."""
    findings = vroid.vroid_findings(url, f"{SOURCE} {key}", None)
    license_ = creative_commons.from_url(url)
    if license_ is not None:
        findings.extend(license_.findings(_ev(f"{key}: {url}")))
    return findings


def vrm0_findings(meta: Mapping[str, Any]) -> list[Finding]:
    """Findings for a VRM 0.x meta dict."""
    findings: list[Finding] = []
    name = meta.get("licenseName")
    if isinstance(name, str) and name:
        evidence = _ev(f"licenseName: {name}")
        license_ = creative_commons.from_vrm_preset(name)
        if license_ is not None:
            findings.extend(license_.findings(evidence))
        else:
            findings.append(Finding("license_name", f"VRM: {name[:100]}", evidence))
            if name == "Redistribution_Prohibited":
                findings.append(Finding("redistribution", "forbid", evidence))
    for key, field in _VRM0_USAGE_KEYS:
        value = meta.get(key)
        if isinstance(value, str) and value:
            findings.append(Finding(field, _VRM0_USAGE.get(value.lower(), "unknown"), _ev(f"{key}: {value}")))
    user = meta.get("allowedUserName")
    if isinstance(user, str) and user.lower() in _VRM0_USERS:
        findings.append(Finding("avatar_use", _VRM0_USERS[user.lower()], _ev(f"allowedUserName: {user}")))
    author = _text(meta.get("author"))
    if author:
        findings.append(Finding("author", author, _ev(f"author: {author}")))
    for key in ("otherLicenseUrl", "otherPermissionUrl"):
        url = _text(meta.get(key))
        if url:
            if key == "otherLicenseUrl":
                findings.append(Finding("license_url", url, _ev(f"{key}: {url}")))
            findings.extend(_url_findings(url, key))
    return findings


def vrm1_findings(meta: Mapping[str, Any]) -> list[Finding]:
    """Findings for a VRM 1.0 meta dict (absent keys take the specification's defaults)."""
    findings: list[Finding] = []

    def get(key: str) -> tuple[Any, str]:
        if key in meta:
            return meta[key], f"{key}: {meta[key]}"
        return _VRM1_DEFAULTS[key], f"{key}: absent (VRM 1.0 default {_VRM1_DEFAULTS[key]})"

    url = _text(meta.get("licenseUrl"))
    if url:
        findings.append(Finding("license_url", url, _ev(f"licenseUrl: {url}")))
        if VRM1_LICENSE_URL in url:
            findings.append(Finding("license_name", "VRM Public License 1.0", _ev(f"licenseUrl: {url}")))
        findings.extend(_url_findings(url, "licenseUrl"))
    value, words = get("avatarPermission")
    if isinstance(value, str) and value in _VRM1_USERS:
        findings.append(Finding("avatar_use", _VRM1_USERS[value], _ev(words)))
    value, words = get("commercialUsage")
    if value == "personalProfit":
        words += " (individuals only; corporate use not allowed)"
    findings.append(Finding("commercial", _lookup(_VRM1_COMMERCIAL, value), _ev(words)))
    value, words = get("creditNotation")
    findings.append(Finding("credit", _lookup(_VRM1_CREDIT, value), _ev(words)))
    value, words = get("modification")
    findings.append(Finding("modification", _lookup(_VRM1_MODIFICATION, value), _ev(words)))
    for key, field in _VRM1_BOOLS:
        value, words = get(key)
        permission = "unknown" if not isinstance(value, bool) else ("allow" if value else "forbid")
        findings.append(Finding(field, permission, _ev(words)))
    authors = meta.get("authors")
    if isinstance(authors, list):
        names = [name for name in (_text(item) for item in authors[:20]) if name]
        if names:
            joined = ", ".join(names)
            findings.append(Finding("author", joined, _ev(f"authors: {joined}")))
    copyright_ = _text(meta.get("copyrightInformation"))
    if copyright_:
        findings.append(Finding("copyright_line", copyright_, _ev(f"copyrightInformation: {copyright_}")))
    other = _text(meta.get("otherLicenseUrl"))
    if other:
        findings.extend(_url_findings(other, "otherLicenseUrl"))
    return findings


def _lookup(table: Mapping[str, str], value: Any) -> str:
    return table.get(value, "unknown") if isinstance(value, str) else "unknown"
