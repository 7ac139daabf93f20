"""What a recommending unit files per period: statistics tables and work summaries, and the rates
the platform derives from the counts (never typed in)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from contracts.identity import stable_uuid
from contracts.profiles import FormName, FormProfile, RateMode
from contracts.rates import DerivedRate, derived_rates_of
from contracts.filings import QcStatisticsForm, TeamStatisticsForm


def derived_rates(form: QcStatisticsForm | TeamStatisticsForm, profile: FormProfile | None = None) -> dict[str, DerivedRate]:
    """The QC table's rates its profile derives (both, by default); typed rates stay on the form as typed; the
    team table has none."""
    if not isinstance(form, QcStatisticsForm):
        return {}
    rates = derived_rates_of(form.model_dump())
    if profile is None:
        return rates
    return {name: rate for name, rate in rates.items()
            if (rule := profile.rule(FormName.QC_STATISTICS, name)) is not None and rule.rate is RateMode.DERIVED}


def statistics_id(season_id: str, recommender_id: str, period: str) -> UUID:
    return stable_uuid("statistics", season_id, recommender_id, period)


def work_summary_id(season_id: str, recommender_id: str, period: str) -> UUID:
    return stable_uuid("work-summary", season_id, recommender_id, period)


def _period(payload: dict[str, Any]) -> str:
    # the period is part of the aggregate's identity and never changes shape
    period = payload["form"]["period"]
    return f"{period['first_month']}..{period['last_month']}"


class StatisticsFiling(Aggregate):
    """One recommending unit's statistics table for one period; filing it again amends it."""

    @staticmethod
    def create_id(payload: dict[str, Any], meta: dict[str, Any]) -> UUID:  # noqa: ARG004
        return statistics_id(payload["season_id"], payload["recommender_id"], _period(payload))

    @event("StatisticsFiled")
    def __init__(self, payload: dict[str, Any], meta: dict[str, Any]) -> None:  # noqa: ARG002
        self.form = payload["form"]

    @event("StatisticsAmended")
    def amend(self, payload: dict[str, Any], meta: dict[str, Any]) -> None:  # noqa: ARG002
        self.form = payload["form"]


class WorkSummaryFiling(Aggregate):
    """One recommending unit's work summary for one period; filing it again amends it."""

    @staticmethod
    def create_id(payload: dict[str, Any], meta: dict[str, Any]) -> UUID:  # noqa: ARG004
        return work_summary_id(payload["season_id"], payload["recommender_id"], _period(payload))

    @event("WorkSummaryFiled")
    def __init__(self, payload: dict[str, Any], meta: dict[str, Any]) -> None:  # noqa: ARG002
        self.form = payload["form"]

    @event("WorkSummaryAmended")
    def amend(self, payload: dict[str, Any], meta: dict[str, Any]) -> None:  # noqa: ARG002
        self.form = payload["form"]
