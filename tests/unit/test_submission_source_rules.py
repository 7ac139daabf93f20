"""Submission's rules of the source documents added late: team name endings the organizer approved
(TeamNameSuffixApproved), and the 申报 limit per unit where the season sets one. Direct input and feed
records are checked alike. Every refusal names its rule and stores nothing."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from contracts import Actor
from contracts.codes import Channel, Role
from contracts.submitted import TeamExperienceForm, Withdrawal
from infra.eventstore import CommandContext
from infra.feeds import FeedRecord, Work
from services.submission.domain.rules import check_team_name
from tests.unit.test_submission_forms import team_form
from tests.unit.test_submission_rules import (
    IN_TEAM_WINDOWS,
    TEAM_SEASON,
    application,
    as_unit,
    refused,
    registered,
    stored,
)

WITH_WORKSHOPS = replace(TEAM_SEASON, approved_team_name_suffixes=("车间", "站"))
LIMITED = replace(TEAM_SEASON, entries_per_unit_max=3)
FEED = CommandContext(Actor(id="feed-370000", role=Role.FEED, org="370000"), Channel.FEED)


def submit(app: Any, season: Any, name: str, index: int = 0) -> dict[str, Any]:
    form = TeamExperienceForm.model_validate(team_form(index, team_name=name))
    return app.submit_entry(season, registered(index), form, as_unit(index))


def feed_record(external_id: str, name: str) -> FeedRecord:
    return FeedRecord(record_type="entry", province="370000", external_id=external_id, version=1,
                      season=TEAM_SEASON.season_id, data=team_form(0, team_name=name))


def take(app: Any, season: Any, record: FeedRecord) -> Any:
    work = Work(app)
    units = {(season.season_id, registered(0).credit_code): registered(0)}
    entry = app.take_feed_entry({season.season_id: season}, units, record, work, FEED)
    work.save()
    return entry


# ---------------------------------------------------------------- team name endings


@pytest.mark.parametrize("name", ["总装车间", "浦东加油站", "装配一班", "冲压工段"])
def test_entry_team_name_suffix_takes_the_endings_approved_for_the_season(name: str) -> None:
    assert submit(application(IN_TEAM_WINDOWS), WITH_WORKSHOPS, name)["created"] is True


def test_entry_team_name_suffix_an_approved_ending_counts_in_its_season_only() -> None:
    app = application(IN_TEAM_WINDOWS)
    status, field, rule, _ = refused(app, lambda: submit(app, TEAM_SEASON, "总装车间"))
    assert (status, field, rule) == (422, "team_name", "entry.team_name.suffix")


@pytest.mark.parametrize("name", ["总装车间班组", "质量信得过班组", "检验队"])
def test_entry_team_name_suffix_refuses_banzu_whatever_was_approved(name: str) -> None:
    app = application(IN_TEAM_WINDOWS)
    status, field, rule, message = refused(app, lambda: submit(app, WITH_WORKSHOPS, name))
    assert (status, field, rule) == (422, "team_name", "entry.team_name.suffix") and "车间、站" in message


def test_entry_team_name_suffix_is_one_function_for_every_caller() -> None:
    check_team_name("浦东加油站", ("站",))
    with pytest.raises(Exception, match="entry.team_name.suffix"):
        check_team_name("浦东加油站")


def test_entry_team_name_suffix_a_feed_record_is_checked_alike() -> None:
    app = application(IN_TEAM_WINDOWS)
    assert take(app, WITH_WORKSHOPS, feed_record("SD-1", "总装车间")).form["team_name"] == "总装车间"
    before = stored(app)
    with pytest.raises(Exception, match="entry.team_name.suffix"):
        take(app, TEAM_SEASON, feed_record("SD-2", "总装车间"))
    assert stored(app) == before


# ---------------------------------------------------------------- 申报 limit per unit


def test_entry_per_unit_limit_refuses_the_entry_over_the_seasons_limit() -> None:
    app = application(IN_TEAM_WINDOWS)
    for name in ("装配一班", "质检组", "冲压工段"):
        submit(app, LIMITED, name)
    status, field, rule, message = refused(app, lambda: submit(app, LIMITED, "理化实验室"))
    assert (status, field, rule) == (409, "credit_code", "entry.per_unit.limit")
    assert "at most 3" in message and "2-3" in message


def test_entry_per_unit_limit_a_withdrawn_entry_frees_its_place() -> None:
    app = application(IN_TEAM_WINDOWS)
    first = submit(app, LIMITED, "装配一班")
    submit(app, LIMITED, "质检组")
    submit(app, LIMITED, "冲压工段")
    app.withdraw_entry(LIMITED, first["entry_id"], Withdrawal(reason="班组调整，撤回申报"), as_unit(0))
    assert submit(app, LIMITED, "理化实验室")["created"] is True


def test_entry_per_unit_limit_counts_each_unit_apart() -> None:
    app = application(IN_TEAM_WINDOWS)
    for name in ("装配一班", "质检组", "冲压工段"):
        submit(app, LIMITED, name)
    assert submit(app, LIMITED, "装配一班", index=1)["created"] is True


def test_entry_per_unit_limit_none_without_the_season_setting() -> None:
    app = application(IN_TEAM_WINDOWS)
    for name in ("装配一班", "质检组", "冲压工段", "理化实验室"):
        assert submit(app, TEAM_SEASON, name)["created"] is True


def test_entry_per_unit_limit_a_feed_record_is_checked_alike() -> None:
    app = application(IN_TEAM_WINDOWS)
    submit(app, LIMITED, "装配一班")
    submit(app, LIMITED, "质检组")
    take(app, LIMITED, feed_record("SD-1", "冲压工段"))
    before = stored(app)
    with pytest.raises(Exception, match="entry.per_unit.limit"):
        take(app, LIMITED, feed_record("SD-2", "理化实验室"))
    assert stored(app) == before
