"""A batch's report: per record type, in = accepted + duplicates + quarantined, checked before answering."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Report:
    """Per record type: in, accepted (amendments among them), duplicates (stale among them), quarantined."""

    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    def count(self, record_type: str, outcome: str) -> None:
        line = self.counts.setdefault(
            record_type,
            {"in": 0, "accepted": 0, "amendments": 0, "duplicates": 0, "stale": 0, "quarantined": 0},
        )
        line["in"] += 1
        line["accepted" if outcome == "amendments" else "duplicates" if outcome == "stale" else outcome] += 1
        if outcome in {"amendments", "stale"}:
            line[outcome] += 1

    def merge(self, other: "Report") -> None:
        for record_type, line in other.counts.items():
            mine = self.counts.setdefault(record_type, dict.fromkeys(line, 0))
            for key, value in line.items():
                mine[key] += value

    @property
    def total(self) -> dict[str, int]:
        keys = ("in", "accepted", "amendments", "duplicates", "stale", "quarantined")
        return {key: sum(line[key] for line in self.counts.values()) for key in keys}

    def check(self) -> None:
        """Records in = accepted + duplicates + quarantined, per type and in total, always."""
        for record_type, line in [*self.counts.items(), ("total", self.total)]:
            if line["in"] != line["accepted"] + line["duplicates"] + line["quarantined"]:
                raise AssertionError(f"feed report does not add up for {record_type}: {line}")

    def as_dict(self) -> dict[str, Any]:
        return {"by_type": {key: dict(value) for key, value in sorted(self.counts.items())}, "total": self.total}
