"""推荐名额: how many entries a recommending unit recommends per participating unit, and of which types.

The season's quota rule (registration's SeasonOpened `quota`), or the one the organizer raised for
this recommending unit (RecommenderQuotaRaised):
- QC groups (2020 Shanghai QC notice, 推荐要求 3): at most 2 per unit, one 问题解决型 and one 创新型;
- teams (2024 Shanghai team notice, 推荐要求 2): 2–3 per unit, of different team types.

Which entries a recommending unit has recommended is kept in its `RecommenderSlate`, a bookkeeping
aggregate saved in the same transaction as each recommendation and revocation: two recommendations
of one recommending unit at the same moment collide in the event store, so a quota is never
overrun by a race. The entries' current types and statuses come from review's projection of
submission's events, so an amended type or a withdrawn entry counts as it is now.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from contracts.codes import ActivityKind
from contracts.identity import stable_uuid
from contracts.registered import QuotaRule
from infra.errors import Conflict, RuleViolation
from services.review.domain.inbound import EntryView

DIRECT_SLATE = "direct"


def slate_id(season_id: str, key: str) -> UUID:
    return stable_uuid("recommender-slate", season_id, key)


class RecommenderSlate(Aggregate):
    """The entries a recommending unit (or the secretariat, for the direct channel) currently recommends."""

    @staticmethod
    def create_id(season_id: str, key: str) -> UUID:
        return slate_id(season_id, key)

    @event("SlateOpened")
    def __init__(self, season_id: str, key: str) -> None:
        self.season_id = season_id
        self.key = key
        self.active: dict[str, dict[str, Any]] = {}
        self.closed_reason: str | None = None

    @event("Added")
    def add(self, entry_id: str, credit_code: str, qc_type: str | None, team_type: str | None, rank: int | None) -> None:
        self.active[entry_id] = {"credit_code": credit_code, "qc_type": qc_type, "team_type": team_type, "rank": rank}

    @event("Removed")
    def remove(self, entry_id: str) -> None:
        self.active.pop(entry_id, None)

    @event("Closed")
    def close(self, reason: str) -> None:
        """The recommending unit lost its right to recommend (RecommenderCancelled): nothing is added any more."""
        self.closed_reason = reason

    @property
    def closed(self) -> str | None:
        return self.closed_reason


@dataclass(frozen=True)
class Counted:
    """An entry counted against the quota, with its type as it is now."""

    entry_id: str
    qc_type: str | None
    team_type: str | None


def team_type_key(value: str | None) -> str:
    return "".join((value or "").split()).casefold()


def counted_for_unit(
    slate: RecommenderSlate | None, entry: EntryView, current: Mapping[str, EntryView]
) -> list[Counted]:
    """The unit's other recommended entries that still count: not the entry itself, not withdrawn."""
    if slate is None:
        return []
    counted = []
    for entry_id, item in slate.active.items():
        if entry_id == entry.entry_id or item["credit_code"] != entry.credit_code:
            continue
        now = current.get(entry_id)
        if now is not None and now.withdrawn:
            continue  # a withdrawn entry frees its place
        counted.append(Counted(
            entry_id,
            (now.qc_type.value if now and now.qc_type else item["qc_type"]),
            (now.team_type if now else item["team_type"]),
        ))
    return counted


def check_quota(quota: QuotaRule, raised: bool, entry: EntryView, others: list[Counted], who: str) -> None:
    """Refuse a recommendation over the quota, naming the rule it breaks."""
    source = "as raised by the organizer" if raised else "the season's rule"
    if len(others) + 1 > quota.per_unit_max:
        listed = ", ".join(item.entry_id for item in others)
        raise Conflict(
            "entry_id",
            "recommendation.quota.per_unit",
            f"推荐名额: {who} recommends at most {quota.per_unit_max} entries of unit {entry.credit_code} ({source}); "
            f"it already recommends {len(others)}: {listed}. Revoke one while the recommendation window is open "
            "to recommend another",
        )
    if entry.kind is ActivityKind.QC_GROUP and entry.qc_type is not None:
        limit = quota.per_type_max.get(entry.qc_type)
        same = [item for item in others if item.qc_type == entry.qc_type.value]
        if limit is not None and len(same) + 1 > limit:
            raise Conflict(
                "qc_type",
                "recommendation.quota.per_type",
                f"推荐名额: at most {limit} {entry.qc_type.label} per unit ({source}; 问题解决型和创新型各1个); unit "
                f"{entry.credit_code} already has {', '.join(item.entry_id for item in same)} recommended",
            )
    if entry.kind is ActivityKind.TEAM and quota.distinct_team_types:
        if not entry.team_type:
            raise RuleViolation(
                "team_type",
                "recommendation.team_type.required",
                "班组类型有所差异: a unit's recommended teams are of different team types, so the entry needs its 班组类型; "
                "the unit amends the entry to give it",
            )
        clash = [item for item in others if team_type_key(item.team_type) == team_type_key(entry.team_type)]
        if clash:
            raise Conflict(
                "team_type",
                "recommendation.quota.distinct_team_types",
                f"班组类型有所差异: unit {entry.credit_code} already has a recommended team of type “{entry.team_type}” "
                f"({clash[0].entry_id}); its 2–3 recommended teams are of different team types",
            )


def check_rank_unique(slate: RecommenderSlate | None, entry_id: str, rank: int) -> None:
    """排序: one rank per recommended entry of the recommending unit."""
    if slate is None:
        return
    for other, item in slate.active.items():
        if other != entry_id and item.get("rank") == rank:
            raise Conflict(
                "rank",
                "recommendation.rank.unique",
                f"排序 {rank} is already given to entry {other} of this recommending unit; each recommended entry has "
                "its own rank",
            )


def units_below_minimum(quota: QuotaRule, counts: Mapping[str, int]) -> list[str]:
    """Units whose recommendations are fewer than the quota's minimum (原则上 2–3: shown, not refused)."""
    return sorted(unit for unit, count in counts.items() if 0 < count < quota.per_unit_min)
