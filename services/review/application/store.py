"""What every review use case reads from review's own event store, and the small helpers they share."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from eventsourcing.application import AggregateNotFoundError

from infra.errors import NotFound, RuleViolation
from infra.eventstore import EventStoreApplication
from infra.windows import SEASON_TIME_ZONE
from services.review.assignment.domain import assignment_id
from services.review.domain.entry_review import EntryReview, entry_review_id
from services.review.domain.quota import RecommenderSlate, slate_id
from services.review.domain.results import SeasonResults, season_results_id
from services.review.domain.scoring import score_id
from services.review.domain.inbound import EntryView, SeasonView


class ReviewStore(EventStoreApplication):
    """Review's event store, read by aggregate: so every rule sees the latest state."""

    def entry_review(self, season_id: str, entry_id: str) -> EntryReview:
        review = self._find_review(season_id, entry_id)
        if review is None:
            raise NotFound(f"entry {entry_id} in review of season {season_id} (it has not been recommended)")
        return review

    def _find_review(self, season_id: str, entry_id: str) -> EntryReview | None:
        return self._get(entry_review_id(season_id, entry_id))

    def _slate(self, season_id: str, key: str) -> RecommenderSlate | None:
        return self._get(slate_id(season_id, key))

    def _season_results(self, season_id: str) -> SeasonResults | None:
        return self._get(season_results_id(season_id))

    def _get(self, aggregate_id: Any) -> Any:
        return self.repository.get(aggregate_id) if aggregate_id in self.repository else None

    def assigned_judges(self, season_id: str, entry_id: str, stage: str) -> frozenset[str] | None:
        """Who may score the entry in the round: the latest JudgesAssigned of its Assignment, or None."""
        aggregate_id = assignment_id(season_id, entry_id, str(getattr(stage, "value", stage)))
        try:
            assignment = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        return frozenset(assignment.judge_ids) if assignment.judge_ids else None

    def stage_totals(self, season_id: str, entry_id: str, stage: str, judges: frozenset[str]) -> dict[str, Decimal]:
        totals = {}
        for judge_id in sorted(judges):
            aggregate_id = score_id(season_id, entry_id, stage, judge_id)
            if aggregate_id in self.repository:
                totals[judge_id] = self.repository.get(aggregate_id).total
        return totals


def summary(entry: EntryView) -> dict[str, Any]:
    return {
        "season_id": entry.season_id, "entry_id": entry.entry_id, "credit_code": entry.credit_code,
        "unit_name": entry.unit_name, "entry_name": entry.name, "kind": entry.kind, "qc_type": entry.qc_type,
        "team_type": entry.team_type, "team_size": entry.team_size,
    }


def identity(review: EntryReview) -> dict[str, str]:
    return {"season_id": review.season_id, "entry_id": review.entry_id}


def zone_of(season: SeasonView) -> ZoneInfo:
    try:
        return ZoneInfo(season.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(SEASON_TIME_ZONE)


def check_not_future(day: date, now: datetime, season: SeasonView, field: str,
                     rule: str = "recommendation.date.future") -> None:
    today = now.astimezone(zone_of(season)).date()
    if day > today:
        raise RuleViolation(field, rule,
                            f"{field} {day.isoformat()} lies after today ({today.isoformat()}, {season.time_zone})")
