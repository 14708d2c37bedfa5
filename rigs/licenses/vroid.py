"""VRoid Hub license URLs: their query string spells every permission, so read it.

Models published on VRoid Hub link their conditions as
`https://hub.vroid.com/license?allowed_to_use_user=everyone&...&redistribution=allow&...`
(in VRM meta `otherLicenseUrl` / `otherPermissionUrl`, or in a readme). Each parameter maps to
one field. Values this module does not know leave the field unknown (the evidence still shows
them), and commercial use is allow only when corporations may use the model: a model limited
to individuals' profit is forbid for a dataset that may be used by a company.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from thagen.rigs.licenses.records import Evidence, Finding

HOSTS = ("hub.vroid.com",)

_ALLOW_DISALLOW = {"allow": "allow", "disallow": "forbid"}
_PARAMETERS: tuple[tuple[str, str], ...] = (
    ("redistribution", "redistribution"),
    ("modification", "modification"),
    ("sexual_expression", "sexual"),
    ("violent_expression", "violent"),
    ("political_or_religious_usage", "political_religious"),
)
"""(query parameter, field) pairs whose values are `allow` / `disallow`."""

_CREDIT = {"necessary": "required", "unnecessary": "not_required"}
_USERS = {"everyone": "everyone", "author": "author_only", "only_author": "author_only"}


def is_vroid_license_url(url: str) -> bool:
    """Whether `url` is a VRoid Hub license page with a query string."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    return parts.hostname in HOSTS and "license" in parts.path and bool(parts.query)


def vroid_findings(url: str, source: str, line: int | None) -> list[Finding]:
    """Findings for every permission a VRoid Hub license URL spells; [] for other URLs."""
    if not is_vroid_license_url(url):
        return []
    query = {key: values[0] for key, values in parse_qs(urlsplit(url.strip()).query).items() if values}
    findings: list[Finding] = []

    def add(field: str, value: str, *keys: str) -> None:
        words = "&".join(f"{key}={query[key]}" for key in keys if key in query)
        findings.append(Finding(field, value, Evidence(source, line, words)))

    version = query.get("version")
    name = f"VRoid Hub conditions (version {version})" if version else "VRoid Hub conditions"
    add("license_name", name, "version")
    findings.append(Finding("license_url", url.strip(), Evidence(source, line, url.strip())))
    for key, field in _PARAMETERS:
        if key in query:
            add(field, _ALLOW_DISALLOW.get(query[key], "unknown"), key)
    if "credit" in query:
        add("credit", _CREDIT.get(query["credit"], "unknown"), "credit")
    corporate, personal = query.get("corporate_commercial_use"), query.get("personal_commercial_use")
    if corporate is not None or personal is not None:
        keys = ("corporate_commercial_use", "personal_commercial_use")
        if corporate == "disallow" or personal in ("nonprofit", "disallow"):
            add("commercial", "forbid", *keys)
        elif corporate == "allow" and personal in (None, "profit", "allow"):
            add("commercial", "allow", *keys)
        else:
            add("commercial", "unknown", *keys)
    user = query.get("allowed_to_use_user")
    if user in _USERS:
        add("avatar_use", _USERS[user], "allowed_to_use_user")
    return findings
