"""A recommending unit (推荐单位) of a season: a district, city, industry, group company, or the direct channel."""

from __future__ import annotations

from typing import Any, cast
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from contracts.codes import RecommenderCategory
from contracts.identity import NATIONAL_ORGANIZER, PROVINCES, stable_uuid
from contracts.names import name_key
from contracts.registered import QuotaRule, RecommenderForm, RecommenderRegistered
from infra.errors import Conflict, RuleViolation
from infra.events import current


def recommender_aggregate_id(season_id: str, recommender_id: str) -> UUID:
    return stable_uuid("recommender", season_id, recommender_id)


def derived_recommender_id(season_id: str, name: str) -> str:
    return "r" + stable_uuid("recommender-id", season_id, name_key(name)).hex[:12]


class Recommender(Aggregate):
    """Registered by the organizer; the organizer may later raise its quota."""

    @staticmethod
    def create_id(payload: dict[str, Any], meta: dict[str, Any]) -> UUID:  # noqa: ARG004
        return recommender_aggregate_id(payload["season_id"], payload["recommender_id"])

    @event("RecommenderRegistered")
    def __init__(self, payload: dict[str, Any], meta: dict[str, Any]) -> None:
        registered = cast(RecommenderRegistered, current("RecommenderRegistered", payload, meta))
        self.season_id: str = registered.season_id
        self.recommender_id: str = registered.recommender_id
        self.name: str = registered.name
        self.category: str = registered.category.value
        self.quota: dict[str, Any] | None = None  # the season's, until raised
        self.cancellation: dict[str, Any] | None = None  # 取消推荐资格: the reason, once cancelled

    @event("RecommenderQuotaRaised")
    def raise_quota(self, payload: dict[str, Any], meta: dict[str, Any]) -> None:  # noqa: ARG002
        self.quota = payload["quota"]

    @event("RecommenderCancelled")
    def cancel(self, payload: dict[str, Any], meta: dict[str, Any]) -> None:  # noqa: ARG002
        self.cancellation = {"reason": payload["reason"]}

    def check_may_be_cancelled(self) -> None:
        if self.category == RecommenderCategory.DIRECT.value:
            raise RuleViolation(
                "recommender_id",
                "recommender.cancel.direct",
                f"{self.name} is the direct channel, the organizer's own secretariat: it has no right to recommend "
                "to cancel; close the direct channel's entries one by one instead",
            )
        if self.cancellation is not None:
            raise Conflict(
                "recommender_id",
                "recommender.cancel.already",
                f"{self.name} already lost its right to recommend in this season ({self.cancellation['reason']})",
            )

    def effective_quota(self, season_quota: QuotaRule) -> QuotaRule:
        return QuotaRule.model_validate(self.quota) if self.quota else season_quota


def check_recommender_form(form: RecommenderForm, organizer: str) -> None:
    if not form.contacts:
        raise RuleViolation(
            "contacts", "recommender.contacts.required", "a recommending unit needs at least one 联系人 (contact person)"
        )
    if form.region_code and organizer != NATIONAL_ORGANIZER and form.region_code[:2] != organizer[:2]:
        raise RuleViolation(
            "region_code",
            "recommender.region_code.outside_organizer",
            f"{form.region_code} lies in {PROVINCES.get(form.region_code[:2], '?')}, "
            f"outside the organizer's {PROVINCES.get(organizer[:2], organizer)}",
        )
    if form.category is RecommenderCategory.DIRECT and form.region_code:
        raise RuleViolation(
            "region_code",
            "recommender.region_code.direct",
            "the direct channel (其他-市质协会员与质量推进部) is the secretariat itself and has no region",
        )


def check_quota_raise(current_quota: QuotaRule, raised: QuotaRule) -> None:
    """A raise only loosens the quota, and loosens something."""
    lowered = []
    if raised.per_unit_max < current_quota.per_unit_max:
        lowered.append(f"per_unit_max {current_quota.per_unit_max} → {raised.per_unit_max}")
    if raised.per_unit_min > current_quota.per_unit_min:
        lowered.append(f"per_unit_min {current_quota.per_unit_min} → {raised.per_unit_min}")
    for achievement_type, limit in current_quota.per_type_max.items():
        if raised.per_type_max.get(achievement_type, limit) < limit:
            lowered.append(f"per_type_max.{achievement_type.value} {limit} → {raised.per_type_max[achievement_type]}")
    if raised.distinct_team_types and not current_quota.distinct_team_types:
        lowered.append("distinct_team_types newly required")
    if lowered:
        raise RuleViolation(
            "per_unit_max",
            "recommender.quota.not_raised",
            "a quota can only be raised; this would tighten it: " + "; ".join(lowered),
        )
    if raised == current_quota:
        raise RuleViolation(
            "per_unit_max", "recommender.quota.not_raised", "the quota asked for is the quota the unit already has"
        )
