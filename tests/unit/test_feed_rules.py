"""The rules a province's recommendations and results are checked by at the national platform (review's domain)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from contracts.codes import ActivityKind
from contracts.fed import ProvincialResultForm
from contracts.review_rounds import GradeBand
from contracts.submitted import EntryStatus
from infra.errors import RuleViolation
from services.review.domain.provincial import check_entry, grade_label
from services.review.domain.inbound import EntryView, SeasonView

SEASON = SeasonView(
    season_id="370000-2026-qc_group", organizer="370000", kind=ActivityKind.QC_GROUP, year=2026,
    grade_bands=(GradeBand(code="first", label="一等成果", min_score=Decimal(90)),
                 GradeBand(code="second", label="二等成果", min_score=Decimal(80))),
)


def result(grade: str, score: str) -> ProvincialResultForm:
    return ProvincialResultForm(entry="SD-2026-QE001", grade=grade, score=Decimal(score), published_on="2026-09-25")


def entry(**changes: object) -> EntryView:
    fields = {"season_id": SEASON.season_id, "entry_id": "e1", "credit_code": "x", "unit_name": "莱钢", "name": "炼铁QC小组",
              "kind": ActivityKind.QC_GROUP, "version": 1} | changes
    return EntryView(**fields)  # type: ignore[arg-type]


def test_a_result_names_a_band_of_the_season_and_its_score_falls_in_it() -> None:
    assert grade_label(SEASON, result("first", "91.50")) == "一等成果"
    assert grade_label(SEASON, result("second", "80.00")) == "二等成果"


def test_feed_result_grade_unknown() -> None:
    with pytest.raises(RuleViolation) as refused:
        grade_label(SEASON, result("benchmark", "95"))
    assert (refused.value.field, refused.value.rule) == ("data.grade", "feed.result.grade.unknown")
    assert "一等成果" in refused.value.message


def test_feed_result_grade_score() -> None:
    for grade, score in (("first", "85.00"), ("second", "92.00"), ("second", "60.00")):
        with pytest.raises(RuleViolation) as refused:
            grade_label(SEASON, result(grade, score))
        assert refused.value.rule == "feed.result.grade.score"


def test_feed_entry_unknown_and_withdrawn() -> None:
    assert check_entry(entry(), "SD-2026-QE001", SEASON).entry_id == "e1"
    for view, rule in ((None, "feed.entry.unknown"), (entry(season_id="370000-2026-team"), "feed.entry.unknown"),
                       (entry(status=EntryStatus.WITHDRAWN), "feed.entry.withdrawn"),
                       (entry(kind=ActivityKind.TEAM), "recommendation.entry.kind")):
        with pytest.raises(RuleViolation) as refused:
            check_entry(view, "SD-2026-QE001", SEASON)
        assert refused.value.rule == rule
