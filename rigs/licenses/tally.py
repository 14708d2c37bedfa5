"""Counting a collection's licenses: the numbers a curator decides on before publishing.

`thagen rig survey` prints them under its CSV, a render logs them, and the dataset card carries
them, so all three say the same thing in the same words: how many models allow redistribution,
how many allow commercial use, how many need credit, and how many said nothing at all.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from thagen.rigs.licenses.records import Credit, LicenseRecord, Permission

UNKNOWN_NAME = "unknown"
"""The license name counted for a record without one."""


@dataclass
class LicenseTally:
    """Counts over many records (`add` one at a time, or `of` an iterable)."""

    models: int = 0
    redistribution: collections.Counter[str] = field(default_factory=collections.Counter)
    modification: collections.Counter[str] = field(default_factory=collections.Counter)
    commercial: collections.Counter[str] = field(default_factory=collections.Counter)
    credit_required: int = 0
    nothing_found: int = 0
    names: collections.Counter[str] = field(default_factory=collections.Counter)

    @classmethod
    def of(cls, records: Iterable[LicenseRecord]) -> LicenseTally:
        tally = cls()
        for record in records:
            tally.add(record)
        return tally

    def add(self, record: LicenseRecord) -> None:
        self.models += 1
        self.redistribution[record.redistribution.value] += 1
        self.modification[record.modification.value] += 1
        self.commercial[record.commercial.value] += 1
        self.credit_required += record.credit is Credit.REQUIRED
        self.nothing_found += record.nothing_found
        for name in (record.license_name or UNKNOWN_NAME).split("; "):
            self.names[name] += 1

    def text(self) -> str:
        """One line: `12 models: 8 allow redistribution, 3 allow commercial use, 9 need credit,
        2 unknown (no license terms found)`."""
        allow = Permission.ALLOW.value
        return (
            f"licenses: {self.models} model{'s' if self.models != 1 else ''}: "
            f"{self.redistribution[allow]} allow redistribution, "
            f"{self.commercial[allow]} allow commercial use, "
            f"{self.credit_required} need credit, "
            f"{self.nothing_found} unknown (no license terms found)"
        )

    def to_json(self) -> dict[str, Any]:
        """The counts as plain data (dataset.yaml, the dataset card)."""
        return {
            "models": self.models,
            "redistribution": _counts(self.redistribution),
            "modification": _counts(self.modification),
            "commercial": _counts(self.commercial),
            "credit_required": self.credit_required,
            "nothing_found": self.nothing_found,
            "license_names": dict(sorted(self.names.items())),
        }


def _counts(counter: collections.Counter[str]) -> dict[str, int]:
    return {value.value: counter[value.value] for value in Permission}
