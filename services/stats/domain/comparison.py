"""How a rebuild compares the live reports with the rebuilt ones: by digests of canonical reports, walked only where they differ.

Reports are pure functions of their seasons' records (any interleaving of the log folds to the same records,
and the reports of equal records are equal: `tests/unit/test_stats_reports.py`), so two states whose seasons
hold equal records have equal reports and the live ones need not be computed at all. Otherwise every report
of both is digested (sha256 of its canonical JSON) and only those whose digests differ are walked for their
differences.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from services.stats.domain.records import Record
from services.stats.domain.reports import reports_for, reports_in_parts
from services.stats.domain.season_reports import Report

MAX_DIFFERENCES = 50

# The canonical JSON serialises what `_normalised` turns into JSON the same way (dates, times and dataclasses
# through `str`, as `json.dumps(default=str)` does): equal digests mean equal normalised reports.
_CANONICAL = (orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME
              | orjson.OPT_PASSTHROUGH_DATACLASS)


def canonical_json(report: Any) -> bytes:
    return orjson.dumps(report, option=_CANONICAL, default=str)


def report_digest(report: Any) -> bytes:
    """The sha256 of a report's canonical JSON (keys sorted at every level)."""
    return hashlib.sha256(canonical_json(report)).digest()


def differing_reports(live: dict[str, Report], rebuilt: dict[str, Report]) -> list[str]:
    """The ids of the reports whose digests differ (or that one side lacks), sorted."""
    return [key for key in sorted(set(live) | set(rebuilt))
            if key not in live or key not in rebuilt or report_digest(live[key]) != report_digest(rebuilt[key])]


def differences(live: dict[str, Report], rebuilt: dict[str, Report]) -> list[dict[str, Any]]:
    """Where two sets of reports differ: report, path and both values (normalised JSON; at most 50). Reports
    with equal digests are equal and not walked."""
    found: list[dict[str, Any]] = []

    def walk(report: str, path: str, left: Any, right: Any) -> None:
        if len(found) >= MAX_DIFFERENCES or left == right:
            return
        if isinstance(left, dict) and isinstance(right, dict):
            for key in sorted(set(left) | set(right)):
                walk(report, f"{path}/{key}", left.get(key), right.get(key))
        elif isinstance(left, list) and isinstance(right, list) and len(left) == len(right):
            for index, (one, other) in enumerate(zip(left, right, strict=True)):
                walk(report, f"{path}/{index}", one, other)
        else:
            found.append({"report": report, "path": path or "/", "live": left, "rebuilt": right})

    for key in differing_reports(live, rebuilt):
        if len(found) >= MAX_DIFFERENCES:
            break
        walk(key, "", _normalised(live.get(key)), _normalised(rebuilt.get(key)))
    return found


def _normalised(report: Report | None) -> Any:
    return json.loads(json.dumps(report, sort_keys=True, default=str))


@dataclass
class Comparison:
    """The rebuilt state's report documents (as given by `pack`, to be written on a switch), their differences from
    the live state's, and the rebuilt seasons' records: the live seasons' own objects where they are equal."""

    rebuilt: dict[str, Any]
    differences: list[dict[str, Any]] = field(default_factory=list)
    live_computed: bool = False  # whether the live reports had to be computed (some season's records differ)
    seasons: dict[str, dict[str, Record]] = field(default_factory=dict)
    differing_seasons: list[str] = field(default_factory=list)

    @property
    def reports_compared(self) -> int:
        return len(self.rebuilt)


RebuiltSeason = Callable[[], Iterable[Record]]  # a rebuilt season's records, read afresh at each call


def compare_states(live: dict[str, dict[str, Record]], rebuilt: Iterable[tuple[str, RebuiltSeason]], *,
                   pack: Callable[[Report], Any] | None = None) -> Comparison:
    """The live records by season compared with the rebuilt ones, given a season at a time as a stream of records
    (so that a rebuilt state, nor even one of its seasons, need be held beside the live one), through their reports.

    A rebuilt season equal to the live one is not kept: the live season's records stand for it; only a season that
    differs is read again into dicts. The rebuilt reports are computed once, a season at a time, and each kept as
    `pack` makes it (e.g. compressed JSON, what the store writes: far smaller than the report dicts); the live
    reports only where some season differs."""
    pack = pack or _same
    differing: dict[str, dict[str, Record]] = {}
    seen: set[str] = set()
    for season_id, records in rebuilt:
        seen.add(season_id)
        if not _equal(live.get(season_id, {}), records()):
            differing[season_id] = {record["_id"]: record for record in records()}
    differing.update({season_id: {} for season_id in set(live) - seen if live[season_id]})
    seasons = live if not differing else {
        season_id: records for season_id, records in ({**live, **differing}).items() if records}
    packed: dict[str, Any] = {}
    for part in reports_in_parts(seasons):
        packed.update((key, pack(report)) for key, report in part.items())
    if not differing:  # equal records, equal reports
        return Comparison(packed, seasons=seasons)
    found = differences(reports_for(live, differing), reports_for(seasons, differing))
    return Comparison(packed, found, live_computed=True, seasons=seasons, differing_seasons=sorted(differing))


def _equal(live: dict[str, Record], rebuilt: Iterable[Record]) -> bool:
    """Whether a stream of records (each aggregate's once) holds exactly the live season's records."""
    count = 0
    for record in rebuilt:
        if live.get(record["_id"]) != record:
            return False
        count += 1
    return count == len(live)


def _same(value: Any) -> Any:
    return value
