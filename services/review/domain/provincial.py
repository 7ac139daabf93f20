"""A province's recommendations and results of its entries, as its feed brings them to the national platform.

They are provincial facts, not steps of the national review: the province's recommending units
recommended and its experts graded under its own notice. Review records them on aggregates of their
own (one recommendation and one result per entry) after checking what the national platform can check:
the season and the entry are known, the entry was not withdrawn, the dates are not in the future, a
result's grade is one of the season's bands and its score falls in that band, and a result follows a
recommendation of the same entry.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from contracts.fed import ProvincialResultForm
from contracts.identity import stable_uuid
from infra.errors import RuleViolation
from services.review.domain.scoring import band_for
from services.review.domain.inbound import EntryView, SeasonView


def provincial_recommendation_id(season_id: str, entry_id: str) -> UUID:
    return stable_uuid("provincial-recommendation", season_id, entry_id)


def provincial_result_id(season_id: str, entry_id: str) -> UUID:
    return stable_uuid("provincial-result", season_id, entry_id)


class ProvincialRecord(Aggregate):
    """One province's record about one entry (`external_id` is the province's id of it); a higher version amends it."""

    def check_same_record(self, external_id: str, what: str) -> None:
        """An entry has one provincial record of each kind: another record id for it is refused."""
        if self.external_id != external_id:  # type: ignore[attr-defined]
            raise RuleViolation(
                "external_id", f"feed.{what}.duplicate",
                f"the entry already has the province's {what} {self.external_id}; send a higher version of that "
                f"record instead of a new one ({external_id})",
            )


class ProvincialRecommendation(ProvincialRecord):
    @staticmethod
    def create_id(payload: dict[str, Any], meta: dict[str, Any]) -> UUID:  # noqa: ARG004
        return provincial_recommendation_id(payload["season_id"], payload["entry_id"])

    @event("ProvincialRecommendationRecorded")
    def __init__(self, payload: dict[str, Any], meta: dict[str, Any]) -> None:
        self.external_id = meta["source"]["external_id"]
        self.form = payload

    @event("ProvincialRecommendationAmended")
    def amend(self, payload: dict[str, Any], meta: dict[str, Any]) -> None:  # noqa: ARG002
        self.form = payload


class ProvincialResult(ProvincialRecord):
    @staticmethod
    def create_id(payload: dict[str, Any], meta: dict[str, Any]) -> UUID:  # noqa: ARG004
        return provincial_result_id(payload["season_id"], payload["entry_id"])

    @event("ProvincialResultRecorded")
    def __init__(self, payload: dict[str, Any], meta: dict[str, Any]) -> None:
        self.external_id = meta["source"]["external_id"]
        self.form = payload

    @event("ProvincialResultAmended")
    def amend(self, payload: dict[str, Any], meta: dict[str, Any]) -> None:  # noqa: ARG002
        self.form = payload


def check_entry(entry: EntryView | None, external_id: str, season: SeasonView) -> EntryView:
    if entry is None or entry.season_id != season.season_id:
        raise RuleViolation(
            "data.entry", "feed.entry.unknown",
            f"entry {external_id} of the province is not known to review in season {season.season_id} (yet): send "
            "the entry record first, then this record again",
        )
    if entry.kind is not season.kind:
        raise RuleViolation("data.entry", "recommendation.entry.kind",
                            f"season {season.season_id} reviews {season.kind.label} entries, not {entry.kind.label}")
    if entry.withdrawn:
        raise RuleViolation("data.entry", "feed.entry.withdrawn",
                            f"entry {external_id} was withdrawn; a withdrawn entry is neither recommended nor graded")
    return entry


def grade_label(season: SeasonView, form: ProvincialResultForm) -> str:
    """The grade is one of the season's bands, and the score falls in that band."""
    bands = {band.code: band for band in season.grade_bands}
    if form.grade not in bands:
        known = ", ".join(f"{band.code} ({band.label}, from {band.min_score})" for band in season.grade_bands)
        raise RuleViolation(
            "data.grade", "feed.result.grade.unknown",
            f"grade {form.grade} is not a grade band of season {season.season_id}; its bands: {known or 'none yet'}",
        )
    reached = band_for(season.grade_bands, form.score)
    if reached is None or reached.code != form.grade:
        band = bands[form.grade]
        raise RuleViolation(
            "data.score", "feed.result.grade.score",
            f"a score of {form.score} does not fall in {band.label} ({band.code}, from {band.min_score}); it reaches "
            f"{reached.label + ' (' + reached.code + ')' if reached else 'no band'}",
        )
    return bands[form.grade].label
