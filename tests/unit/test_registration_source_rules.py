"""Registration's rules of the source documents added late: 取消推荐资格, approved team name endings, the 申报 limit
per unit as a season setting. One test per rule id; nothing is stored on a refusal."""

from __future__ import annotations

from typing import Any

from contracts.registered import SeasonOpened
from infra.http import status_of
from services.registration.domain.recommender import recommender_aggregate_id
from services.registration.domain.season import season_aggregate_id
from tests.unit.test_registration_rules import (
    QC,
    SECRETARIAT,
    TEAM,
    app,  # noqa: F401 - the fixture
    application,
    direct,
    form,
    opened,
    recommender,
    refused,
)

REASON = "向参与活动的企业收取评审费用，违反通知要求"


# --- 取消推荐资格 ---------------------------------------------------------------------------------


def test_the_organizer_cancels_a_recommending_unit_with_a_reason(app: Any) -> None:
    app.register_recommender(QC, recommender(recommender_id="xuhui"), SECRETARIAT)
    result = app.cancel_recommender(QC, "xuhui", REASON, SECRETARIAT)
    assert result["event"] == "RecommenderCancelled" and result["version"] == 2
    (event,) = [item for item in app.history(recommender_aggregate_id(QC, "xuhui")) if item.type == "RecommenderCancelled"]
    assert event.payload == {"season_id": QC, "recommender_id": "xuhui", "reason": REASON}
    assert event.actor.role.value == "organizer" and event.channel.value == "organizer"


def test_recommender_cancel_already(app: Any) -> None:
    app.register_recommender(QC, recommender(recommender_id="xuhui"), SECRETARIAT)
    app.cancel_recommender(QC, "xuhui", REASON, SECRETARIAT)
    violation = refused(app, lambda: app.cancel_recommender(QC, "xuhui", REASON, SECRETARIAT))
    assert (violation.field, violation.rule, status_of(violation)) == ("recommender_id", "recommender.cancel.already", 409)


def test_recommender_cancel_direct(app: Any) -> None:
    app.register_recommender(QC, direct(), SECRETARIAT)
    violation = refused(app, lambda: app.cancel_recommender(QC, "direct", REASON, SECRETARIAT))
    assert (violation.rule, status_of(violation)) == ("recommender.cancel.direct", 422)


def test_registration_recommender_cancelled(app: Any) -> None:
    app.register_recommender(QC, recommender(recommender_id="xuhui"), SECRETARIAT)
    app.cancel_recommender(QC, "xuhui", REASON, SECRETARIAT)
    violation = refused(app, lambda: app.register_unit(QC, form(0, recommender_id="xuhui"), SECRETARIAT))
    assert (violation.field, violation.rule, status_of(violation)) == (
        "recommender_id", "registration.recommender.cancelled", 409)
    assert REASON in violation.message


# --- team name endings (以…班、…组、…工段或…室等为名) ----------------------------------------------


def test_the_organizer_approves_a_further_team_name_ending(app: Any) -> None:
    result = app.approve_team_name_suffix(TEAM, "车间", "本市集团公司以车间为最基础的正式组织单元", SECRETARIAT)
    assert result["event"] == "TeamNameSuffixApproved"
    assert app.season(TEAM).approved_team_name_suffixes == ["车间"]
    (event,) = [item for item in app.history(season_aggregate_id(TEAM)) if item.type == "TeamNameSuffixApproved"]
    assert event.payload["suffix"] == "车间"


def test_season_team_name_suffix_banzu(app: Any) -> None:
    for suffix in ("班组", "质量班组"):
        violation = refused(app, lambda suffix=suffix: app.approve_team_name_suffix(TEAM, suffix, "试一试", SECRETARIAT))
        assert (violation.field, violation.rule) == ("suffix", "season.team_name_suffix.banzu")


def test_season_team_name_suffix_duplicate(app: Any) -> None:
    violation = refused(app, lambda: app.approve_team_name_suffix(TEAM, "工段", "已是默认结尾", SECRETARIAT))
    assert (violation.rule, status_of(violation)) == ("season.team_name_suffix.duplicate", 409)
    app.approve_team_name_suffix(TEAM, "站", "加油站、变电站为基础单元", SECRETARIAT)
    violation = refused(app, lambda: app.approve_team_name_suffix(TEAM, "站", "再核准一次", SECRETARIAT))
    assert violation.rule == "season.team_name_suffix.duplicate"


def test_season_team_name_suffix_team_only(app: Any) -> None:
    violation = refused(app, lambda: app.approve_team_name_suffix(QC, "车间", "QC小组不适用", SECRETARIAT))
    assert (violation.field, violation.rule) == ("suffix", "season.team_name_suffix.team_only")


# --- season settings ------------------------------------------------------------------------------


def test_the_new_season_settings_are_optional_and_off_by_default() -> None:
    season = opened("team")
    assert season.filings_before_recommending is False and season.entries_per_unit_max is None
    stored_before = {key: value for key, value in season.model_dump(mode="json").items()
                     if key not in ("filings_before_recommending", "entries_per_unit_max")}
    assert SeasonOpened.model_validate(stored_before) == season


def test_season_entries_per_unit_below_quota_min() -> None:
    app = application()
    violation = refused(app, lambda: app.open_season(opened("team", entries_per_unit_max=1), SECRETARIAT))
    assert (violation.field, violation.rule) == ("entries_per_unit_max", "season.entries_per_unit.below_quota_min")
    assert app.open_season(opened("team", entries_per_unit_max=3), SECRETARIAT)["event"] == "SeasonOpened"
