"""One test per rule of the submission stage, named after the rule it checks.

The application runs on an in-memory event store with an injected clock; the season and the
registered unit are the plain data the HTTP layer reads from submission's projection. Every
refusal is checked for its status, field and rule, and for having stored nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from pydantic import ValidationError

from contracts import Actor
from contracts.codes import ActivityKind, Channel, Role
from contracts.common import Window
from contracts.filings import QcStatisticsForm, TeamStatisticsForm, WorkSummaryForm
from contracts.submitted import Confirmation, QcAchievementForm, TeamExperienceForm, Withdrawal
from infra.errors import NotFound, RuleViolation
from infra.eventstore import CommandContext
from infra.http import status_of
from infra.idempotency import IdempotencyKey
from infra.settings import ServiceSettings
from services.submission.application import SubmissionApplication
from services.submission.domain.season import RegisteredUnit, SeasonView
from tests.unit.test_submission_forms import (
    attachment,
    qc_form,
    qc_statistics,
    team_form,
    team_statistics,
    unit_of,
    work_summary,
)

CST = timezone(timedelta(hours=8))
OPENS = datetime(2020, 6, 28, 0, 0, tzinfo=CST)
CLOSES = datetime(2020, 7, 12, 22, 0, tzinfo=CST)
DURING = datetime(2020, 7, 1, 10, 0, tzinfo=CST)
EVERY_CHANNEL = frozenset({"group", "unit", "recommender", "direct"})
QC_SEASON = SeasonView(
    season_id="310000-2020-qc_group",
    organizer="310000",
    kind=ActivityKind.QC_GROUP,
    windows={
        "submission": Window(opens_at=OPENS, closes_at=CLOSES),
        "recommendation": Window(opens_at=OPENS, closes_at=CLOSES),
    },
    channels=EVERY_CHANNEL,
    recommenders=frozenset({"pudong", "xuhui", "direct"}),
)
TEAM_SEASON = SeasonView(
    season_id="310000-2024-team",
    organizer="310000",
    kind=ActivityKind.TEAM,
    windows={
        "submission": Window(opens_at=datetime(2024, 2, 1, tzinfo=CST), closes_at=datetime(2024, 5, 31, 22, tzinfo=CST)),
        "recommendation": Window(opens_at=datetime(2024, 4, 1, tzinfo=CST), closes_at=datetime(2024, 6, 30, 22, tzinfo=CST)),
    },
    channels=EVERY_CHANNEL,
    recommenders=frozenset({"pudong", "xuhui", "direct"}),
)
IN_TEAM_WINDOWS = datetime(2024, 4, 15, 9, 30, tzinfo=CST)


def registered(index: int = 0, **changes: Any) -> RegisteredUnit:
    unit = unit_of(index)
    fields = {"credit_code": unit["credit_code"], "unit_name": unit["unit_name"], "short_name": unit["short_name"],
              "recommender_id": "pudong"}
    return RegisteredUnit(**(fields | changes))


def as_unit(index: int = 0, channel: Channel = Channel.GROUP) -> CommandContext:
    return CommandContext(Actor(id=f"promoter-{index}", role=Role.UNIT, org=unit_of(index)["credit_code"]), channel)


RECOMMENDER = CommandContext(Actor(id="pudong-staff", role=Role.RECOMMENDER, org="pudong"), Channel.RECOMMENDER)
SECRETARIAT = CommandContext(Actor(id="staff-1", role=Role.ORGANIZER, org="310000"), Channel.DIRECT)


def application(now: datetime) -> SubmissionApplication:
    return SubmissionApplication(ServiceSettings(service="submission", event_store="memory"), clock=lambda: now)


def stored(app: SubmissionApplication) -> int:
    return app.recorder.max_notification_id() or 0


def refused(app: SubmissionApplication | None, call: Callable[[], Any]) -> tuple[int, str, str, str]:
    """(status, field, rule, message) of a refused command or form; asserts that nothing was stored."""
    before = stored(app) if app else 0
    try:
        call()
    except RuleViolation as violation:
        answer = (status_of(violation), violation.field, violation.rule, violation.message)
    except ValidationError as invalid:
        error = invalid.errors()[0]
        answer = (422, ".".join(str(part) for part in error["loc"]), error["type"], error["msg"])
    else:
        raise AssertionError("the command was not refused")
    if app:
        assert stored(app) == before, "a refused command stored something"
    return answer


def submit_qc(app: SubmissionApplication, index: int = 0, **changes: Any) -> dict[str, Any]:
    return app.submit_entry(QC_SEASON, registered(index), QcAchievementForm.model_validate(qc_form(index, **changes)),
                            as_unit(index))


def submit_team(app: SubmissionApplication, index: int = 0, unit: RegisteredUnit | None = None, **changes: Any) -> dict[str, Any]:
    form = TeamExperienceForm.model_validate(team_form(index, **changes))
    return app.submit_entry(TEAM_SEASON, unit or registered(index), form, as_unit(index))


def team_refusal(**changes: Any) -> tuple[int, str, str, str]:
    """Submitting a team form with these changes is refused: (status, field, rule, message)."""
    app = application(IN_TEAM_WINDOWS)
    return refused(app, lambda: submit_team(app, **changes))


def qc_refusal(**changes: Any) -> tuple[int, str, str, str]:
    app = application(DURING)
    return refused(app, lambda: submit_qc(app, **changes))


def confirmation() -> Confirmation:
    return Confirmation(
        self_evaluation="对照T/CAQ10201-2020自评：选题合理，数据翔实，效果巩固。", self_score=Decimal("88.5"),
        opinion="同意申报。", sealed_form=attachment("申达电气推荐意见表.pdf", "sealed_form"),
    )


# ---------------------------------------------------------------- team name, attachments, unit


@pytest.mark.parametrize("name", ["装配一班", "质检组", "冲压工段", "理化实验室"])
def test_entry_team_name_suffix_accepts_ban_zu_gongduan_and_shi(name: str) -> None:
    assert submit_team(application(IN_TEAM_WINDOWS), team_name=name)["created"] is True


@pytest.mark.parametrize("name", ["装配一班组", "质量信得过班组", "装配车间", "检验队"])
def test_entry_team_name_suffix_refuses_banzu_and_other_endings(name: str) -> None:
    status, field, rule, message = team_refusal(team_name=name)
    assert (status, field, rule) == (422, "team_name", "entry.team_name.suffix")
    assert "班组" in message and name in message


def test_entry_attachment_name_is_the_units_short_name_plus_the_team_name() -> None:
    app = application(IN_TEAM_WINDOWS)
    wrong = team_form(attachments=[attachment("装配一班申报材料.docx")])
    status, field, rule, message = refused(
        app, lambda: app.submit_entry(TEAM_SEASON, registered(), TeamExperienceForm.model_validate(wrong), as_unit())
    )
    assert (status, field, rule) == (422, "attachments.0.file_name", "entry.attachment.name")
    assert "申达电气装配一班.docx" in message
    assert submit_team(app)["event"] == "EntrySubmitted"


def test_entry_attachment_short_name_is_needed_when_the_registration_gives_none() -> None:
    app = application(IN_TEAM_WINDOWS)
    unit = registered(short_name=None)
    form = TeamExperienceForm.model_validate(team_form())
    status, field, rule, _ = refused(app, lambda: app.submit_entry(TEAM_SEASON, unit, form, as_unit()))
    assert (status, field, rule) == (422, "unit_short_name", "entry.attachment.short_name")
    given = TeamExperienceForm.model_validate(team_form(unit_short_name="申达电气"))
    assert app.submit_entry(TEAM_SEASON, unit, given, as_unit())["created"] is True


def test_entry_unit_name_registered_must_be_the_full_registered_name() -> None:
    app = application(DURING)
    status, field, rule, message = refused(app, lambda: submit_qc(app, unit_name="申达电气"))
    assert (status, field, rule) == (422, "unit_name", "entry.unit_name.registered")
    assert unit_of(0)["unit_name"] in message


def test_entry_unit_registered_for_the_season() -> None:
    app = application(DURING)
    form = QcAchievementForm.model_validate(qc_form())
    status, field, rule, message = refused(app, lambda: app.submit_entry(QC_SEASON, None, form, as_unit()))
    assert (status, field, rule) == (409, "credit_code", "entry.unit.registered")
    assert QC_SEASON.season_id in message


def test_entry_recommender_registered_is_the_one_the_unit_registered_with() -> None:
    app = application(DURING)
    status, field, rule, _ = refused(app, lambda: submit_qc(app, recommender_id="xuhui"))
    assert (status, field, rule) == (422, "recommender_id", "entry.recommender.registered")
    result = submit_qc(app)
    assert app.entry(QC_SEASON.season_id, result["entry_id"]).form["recommender_id"] == "pudong"


def test_entry_kind_matches_the_season() -> None:
    app = application(DURING)
    form = TeamExperienceForm.model_validate(team_form())
    status, field, rule, _ = refused(app, lambda: app.submit_entry(QC_SEASON, registered(), form, as_unit()))
    assert (status, field, rule) == (422, "kind", "entry.kind")


# ---------------------------------------------------------------- eligibility and figures


@pytest.mark.parametrize("kind", ["quality", "safety", "environmental"])
def test_entry_team_accident_free_in_the_last_three_years(kind: str) -> None:
    accidents = {"quality": 0, "safety": 0, "environmental": 0} | {kind: 1}
    status, field, rule, message = team_refusal(accidents_last_three_years=accidents)
    assert (status, field, rule) == (422, f"accidents_last_three_years.{kind}", "entry.team.accident_free")
    assert "not eligible" in message


def test_entry_team_accident_free_counts_this_years_accidents_too() -> None:
    metrics = team_form()["metrics"] | {"quality_safety_accidents": 2}
    status, field, rule, _ = team_refusal(metrics=metrics)
    assert (status, field, rule) == (422, "metrics.quality_safety_accidents", "entry.team.accident_free")


def test_entry_team_basic_unit() -> None:
    status, field, rule, _ = team_refusal(basic_formal_unit=False)
    assert (status, field, rule) == (422, "basic_formal_unit", "entry.team.basic_unit")


@pytest.mark.parametrize("commitment", ["voluntary", "follows_standard", "authentic", "no_state_secrets"])
def test_entry_commitments_all_four_are_required(commitment: str) -> None:
    commitments = team_form()["commitments"] | {commitment: False}
    status, field, rule, _ = team_refusal(commitments=commitments)
    assert (status, field, rule) == (422, f"commitments.{commitment}", "entry.commitments")


@pytest.mark.parametrize(
    "metric", ["work_completion_rate", "quality_assessment_pass_rate", "nonconformity_rate", "first_pass_rate",
               "improvement_participation_rate", "team_building_coverage_rate"],
)
@pytest.mark.parametrize("value", [-0.01, "100.01", 250, "NaN"])
def test_metric_percentage_lies_in_0_to_100(metric: str, value: Any) -> None:
    metrics = team_form()["metrics"] | {metric: value}
    status, field, rule, _ = refused(None, lambda: TeamExperienceForm.model_validate(team_form(metrics=metrics)))
    assert (status, field) == (422, f"metrics.{metric}")
    assert rule in ("metric.percentage", "decimal_parsing", "finite_number")


def test_metric_percentage_accepts_both_ends() -> None:
    metrics = team_form()["metrics"] | {"nonconformity_rate": 0, "work_completion_rate": "100.0"}
    parsed = TeamExperienceForm.model_validate(team_form(metrics=metrics)).metrics
    assert (parsed.nonconformity_rate, parsed.work_completion_rate) == (0, Decimal("100.0"))


@pytest.mark.parametrize("metric", ["customer_complaints", "trained_persons", "quality_safety_accidents"])
@pytest.mark.parametrize("value", [-1, 2.5, True, "3"])
def test_metric_count_is_whole_and_not_negative(metric: str, value: Any) -> None:
    metrics = team_form()["metrics"] | {metric: value}
    status, field, rule, _ = refused(None, lambda: TeamExperienceForm.model_validate(team_form(metrics=metrics)))
    assert (status, field, rule) == (422, f"metrics.{metric}", "metric.count")


def test_metric_count_for_the_team_size_too() -> None:
    status, field, rule, _ = refused(None, lambda: TeamExperienceForm.model_validate(team_form(team_size=-3)))
    assert (status, field, rule) == (422, "team_size", "metric.count")


@pytest.mark.parametrize("value", ["-0.5", "Infinity", "1.23456"])
def test_metric_amount_of_the_quality_cost_is_a_non_negative_exact_decimal(value: str) -> None:
    metrics = team_form()["metrics"] | {"quality_cost": value}
    status, field, rule, _ = refused(None, lambda: TeamExperienceForm.model_validate(team_form(metrics=metrics)))
    assert (status, field) == (422, "metrics.quality_cost")
    assert rule in ("metric.amount", "metric.precision", "finite_number")


def test_entry_qc_leader_exactly_one() -> None:
    members = [{"name": "王建国", "role": "member"}, {"name": "李秀英", "role": "member"}]
    status, field, rule, _ = qc_refusal(members=members)
    assert (status, field, rule) == (422, "members", "entry.qc.leader")


def test_entry_attachments_required_a_qc_report() -> None:
    only_form = [attachment("申达电气申报表.pdf", "application_form")]
    status, field, rule, _ = qc_refusal(attachments=only_form)
    assert (status, field, rule) == (422, "attachments", "entry.attachments.required")


def test_entry_attachments_required_for_a_team() -> None:
    status, field, rule, _ = team_refusal(attachments=[])
    assert (status, field, rule) == (422, "attachments", "entry.attachments.required")


def test_attachment_media_type_matches_the_extension() -> None:
    wrong = [attachment("申达电气降本增效QC小组成果报告.docx", media_type="application/pdf")]
    status, field, rule, _ = refused(None, lambda: QcAchievementForm.model_validate(qc_form(attachments=wrong)))
    assert (status, field, rule) == (422, "attachments.0.media_type", "attachment.media_type")


@pytest.mark.parametrize(("file_name", "rule"), [("report.exe", "attachment.extension"),
                                                  ("../etc/报告.pdf", "attachment.file_name")])
def test_attachment_file_name_and_extension(file_name: str, rule: str) -> None:
    item = attachment("x.pdf") | {"file_name": file_name}
    status, field, got, _ = refused(None, lambda: QcAchievementForm.model_validate(qc_form(attachments=[item])))
    assert (status, field, got) == (422, "attachments.0.file_name", rule)


def test_attachment_sha256_is_64_hex_digits() -> None:
    item = attachment("申达电气成果报告.pdf") | {"sha256": "abc"}
    status, field, rule, _ = refused(None, lambda: QcAchievementForm.model_validate(qc_form(attachments=[item])))
    assert (status, field, rule) == (422, "attachments.0.sha256", "string_pattern_mismatch")


# ---------------------------------------------------------------- the submission window


def test_season_window_submission_refuses_naming_the_window_and_its_close_instant() -> None:
    app = application(CLOSES + timedelta(seconds=1))
    status, field, rule, message = refused(app, lambda: submit_qc(app))
    assert (status, field, rule) == (409, "season_id", "season.window.submission")
    assert "2020-07-12 22:00 Asia/Shanghai" in message and "is closed" in message


def test_season_window_submission_includes_its_close_instant() -> None:
    app = application(CLOSES)
    assert submit_qc(app)["event"] == "EntrySubmitted"


def test_season_window_submission_before_it_opens() -> None:
    app = application(OPENS - timedelta(seconds=1))
    status, _, rule, message = refused(app, lambda: submit_qc(app))
    assert (status, rule) == (409, "season.window.submission") and "has not opened yet" in message
    app.clock = lambda: OPENS
    assert submit_qc(app)["created"] is True


def test_season_window_submission_missing() -> None:
    app = application(DURING)
    season = SeasonView(season_id="310000-2020-qc_group", organizer="310000", kind=ActivityKind.QC_GROUP)
    form = QcAchievementForm.model_validate(qc_form())
    status, _, rule, _ = refused(app, lambda: app.submit_entry(season, registered(), form, as_unit()))
    assert (status, rule) == (409, "season.window.submission.missing")


@pytest.mark.parametrize("action", ["amend", "withdraw", "confirm"])
def test_season_window_submission_for_amending_withdrawing_and_confirming(action: str) -> None:
    app = application(DURING)
    entry_id = submit_qc(app)["entry_id"]
    app.clock = lambda: CLOSES + timedelta(seconds=1)
    calls = {
        "amend": lambda: app.amend_entry(QC_SEASON, registered(), entry_id,
                                         QcAchievementForm.model_validate(qc_form(topic="降低装配返工率")), as_unit()),
        "withdraw": lambda: app.withdraw_entry(QC_SEASON, entry_id, Withdrawal(reason="课题调整"), as_unit()),
        "confirm": lambda: app.confirm_entry(QC_SEASON, entry_id, confirmation(), as_unit(channel=Channel.UNIT)),
    }
    status, _, rule, message = refused(app, calls[action])
    assert (status, rule) == (409, "season.window.submission") and "2020-07-12 22:00 Asia/Shanghai" in message


def test_season_channel_offered_by_the_season() -> None:
    app = application(DURING)
    season = SeasonView(**{**QC_SEASON.__dict__, "channels": frozenset({"group", "unit", "recommender"})})
    form = QcAchievementForm.model_validate(qc_form())
    status, field, rule, _ = refused(app, lambda: app.submit_entry(season, registered(), form, SECRETARIAT))
    assert (status, field, rule) == (409, "channel", "season.channel")


# ---------------------------------------------------------------- an entry's life


def test_entry_duplicate_is_refused_and_a_withdrawn_name_may_be_submitted_again() -> None:
    app = application(DURING)
    first = submit_qc(app)
    status, field, rule, message = refused(app, lambda: submit_qc(app))
    assert (status, field, rule) == (409, "topic", "entry.duplicate") and first["entry_id"] in message
    app.withdraw_entry(QC_SEASON, first["entry_id"], Withdrawal(reason="重新整理成果报告"), as_unit())
    again = submit_qc(app)
    assert again["created"] is True and again["entry_id"] != first["entry_id"]


def test_entry_duplicate_when_an_amendment_takes_another_entrys_name() -> None:
    app = application(IN_TEAM_WINDOWS)
    submit_team(app)
    second = submit_team(app, team_name="质检组")
    form = TeamExperienceForm.model_validate(team_form())
    status, field, rule, _ = refused(
        app, lambda: app.amend_entry(TEAM_SEASON, registered(), second["entry_id"], form, as_unit())
    )
    assert (status, field, rule) == (409, "team_name", "entry.duplicate")


def test_an_amendment_records_the_whole_form_and_what_changed() -> None:
    app = application(DURING)
    submitted = submit_qc(app)
    form = QcAchievementForm.model_validate(qc_form(topic="降低变压器装配返工率", qc_type="innovation"))
    amended = app.amend_entry(QC_SEASON, registered(), submitted["entry_id"], form, as_unit())
    assert (amended["event"], amended["version"], amended["changed"]) == ("EntryAmended", 2, ["qc_type", "topic"])
    history = app.history(UUID(submitted["entry_id"]))
    assert [item.type for item in history] == ["EntrySubmitted", "EntryAmended"]
    assert history[1].payload["form"]["topic"] == "降低变压器装配返工率"
    assert history[1].occurred_at == DURING and history[1].channel is Channel.GROUP


def test_entry_unchanged_amendment_is_refused() -> None:
    app = application(DURING)
    entry_id = submit_qc(app)["entry_id"]
    form = QcAchievementForm.model_validate(qc_form())
    status, field, rule, _ = refused(app, lambda: app.amend_entry(QC_SEASON, registered(), entry_id, form, as_unit()))
    assert (status, field, rule) == (422, "body", "entry.unchanged")


def test_entry_unit_fixed_an_amendment_keeps_the_unit() -> None:
    app = application(DURING)
    entry_id = submit_qc(app)["entry_id"]
    other = QcAchievementForm.model_validate(qc_form(1))
    status, field, rule, _ = refused(app, lambda: app.amend_entry(QC_SEASON, registered(1), entry_id, other, SECRETARIAT))
    assert (status, field, rule) == (422, "credit_code", "entry.unit.fixed")


def test_entry_owner_a_unit_acts_on_its_own_entries_only_and_another_units_is_missing_to_it() -> None:
    app = application(DURING)
    entry_id = submit_qc(app)["entry_id"]
    before = stored(app)
    with pytest.raises(NotFound) as missing:
        app.withdraw_entry(QC_SEASON, entry_id, Withdrawal(reason="不是我的"), as_unit(1))
    assert str(missing.value) == f"entry {entry_id} of season {QC_SEASON.season_id} not found", "as a missing one"
    assert stored(app) == before


@pytest.mark.parametrize("action", ["amend", "withdraw", "confirm"])
def test_entry_withdrawn_is_not_changed(action: str) -> None:
    app = application(DURING)
    entry_id = submit_qc(app)["entry_id"]
    app.withdraw_entry(QC_SEASON, entry_id, Withdrawal(reason="课题调整"), as_unit())
    calls = {
        "amend": lambda: app.amend_entry(QC_SEASON, registered(), entry_id,
                                         QcAchievementForm.model_validate(qc_form(topic="另一个课题")), as_unit()),
        "withdraw": lambda: app.withdraw_entry(QC_SEASON, entry_id, Withdrawal(reason="再撤一次"), as_unit()),
        "confirm": lambda: app.confirm_entry(QC_SEASON, entry_id, confirmation(), as_unit(channel=Channel.UNIT)),
    }
    status, field, rule, _ = refused(app, calls[action])
    assert (status, field, rule) == (409, "entry_id", "entry.withdrawn")


def test_unit_confirmation_is_its_own_event_and_an_amendment_asks_for_it_again() -> None:
    app = application(DURING)
    entry_id = submit_qc(app)["entry_id"]
    confirmed = app.confirm_entry(QC_SEASON, entry_id, confirmation(), as_unit(channel=Channel.UNIT))
    assert (confirmed["event"], confirmed["version"]) == ("UnitConfirmed", 2)
    status, field, rule, _ = refused(
        app, lambda: app.confirm_entry(QC_SEASON, entry_id, confirmation(), as_unit(channel=Channel.UNIT))
    )
    assert (status, field, rule) == (409, "entry_id", "entry.confirmed")
    app.amend_entry(QC_SEASON, registered(), entry_id, QcAchievementForm.model_validate(qc_form(topic="新课题名称")),
                    as_unit())
    app.confirm_entry(QC_SEASON, entry_id, confirmation(), as_unit(channel=Channel.UNIT))
    history = app.history(UUID(entry_id))
    assert [item.type for item in history] == ["EntrySubmitted", "UnitConfirmed", "EntryAmended", "UnitConfirmed"]
    assert history[1].channel is Channel.UNIT and history[1].payload["self_score"] == "88.5"


def test_an_unknown_or_malformed_entry_id_is_not_found() -> None:
    app = application(DURING)
    for entry_id in ("not-a-uuid", "6f1c1a52-8a7e-4f57-9d0b-5d3e7f6a2c11"):
        with pytest.raises(NotFound, match=entry_id):
            app.withdraw_entry(QC_SEASON, entry_id, Withdrawal(reason="撤回"), as_unit())


def test_an_entry_of_another_season_is_not_found_in_this_one() -> None:
    app = application(DURING)
    entry_id = submit_qc(app)["entry_id"]
    with pytest.raises(NotFound):
        app.entry("310000-2021-qc_group", entry_id)


def test_the_organizer_submits_for_the_direct_channel() -> None:
    app = application(DURING)
    result = app.submit_entry(QC_SEASON, registered(2), QcAchievementForm.model_validate(qc_form(2)), SECRETARIAT)
    (event,) = app.history(UUID(result["entry_id"]))
    assert event.channel is Channel.DIRECT and event.actor.role is Role.ORGANIZER


# ---------------------------------------------------------------- statistics and work summaries


@pytest.mark.parametrize("typed", ["participation_rate", "achievement_rate"])
def test_stats_rate_derived_a_typed_in_rate_is_refused(typed: str) -> None:
    status, field, rule, message = refused(
        None, lambda: QcStatisticsForm.model_validate(qc_statistics(**{typed: "23.4"}))
    )
    assert (status, field, rule) == (422, typed, "stats.rate.derived") and "×100%" in message


def test_stats_rate_derived_by_the_platform_with_its_formula() -> None:
    app = application(DURING)
    result = app.file_statistics(QC_SEASON, "pudong", QcStatisticsForm.model_validate(qc_statistics()), RECOMMENDER)
    participation, achievement = result["derived"]["participation_rate"], result["derived"]["achievement_rate"]
    assert participation == {"value": "23.40", "unit": "%", "formula": "本年度QC小组普及率=参加QC小组人数/职工总数×100%",
                             "numerator": 96420, "denominator": 412000}
    assert achievement["value"] == "56.89" and achievement["formula"].endswith("取得成果小组数/QC小组注册数×100%")
    (event,) = app.history(UUID(result["aggregate_id"]))
    assert event.type == "StatisticsFiled" and event.payload["derived"]["achievement_rate"]["value"] == "56.89"
    assert event.channel is Channel.RECOMMENDER


def test_stats_rate_derived_is_empty_when_no_groups_registered() -> None:
    app = application(DURING)
    form = QcStatisticsForm.model_validate(qc_statistics(registered_groups=0, groups_with_results=0))
    result = app.file_statistics(QC_SEASON, "pudong", form, RECOMMENDER)
    assert result["derived"]["achievement_rate"]["value"] is None


@pytest.mark.parametrize(
    ("changes", "field", "rule"),
    [
        ({"participants": 500_000}, "participants", "stats.participation.bounds"),
        ({"groups_with_results": 20_000}, "groups_with_results", "stats.achievement.bounds"),
        ({"registered_groups": 200_000}, "registered_groups", "stats.cumulative"),
        ({"total_staff": 0}, "total_staff", "stats.total_staff"),
    ],
)
def test_stats_bounds_of_the_qc_table(changes: dict[str, Any], field: str, rule: str) -> None:
    app = application(DURING)
    form = QcStatisticsForm.model_validate(qc_statistics(**changes))
    status, got_field, got_rule, _ = refused(app, lambda: app.file_statistics(QC_SEASON, "pudong", form, RECOMMENDER))
    assert (status, got_field, got_rule) == (422, field, rule)


@pytest.mark.parametrize(
    ("changes", "field", "rule"),
    [
        ({"teams": 3000}, "teams", "stats.cumulative"),
        ({"teams_recommended": 400}, "teams_recommended", "stats.recommended.bounds"),
        ({"presentation_meeting": {"registered_teams": 10, "presented_teams": 12, "held_on": "10月", "place": "长宁",
                                   "attendees": 50}}, "presentation_meeting.presented_teams", "stats.presentation.bounds"),
        ({"review_forms": ["presentation", "presentation"]}, "review_forms.1", "stats.review_forms.duplicate"),
    ],
)
def test_stats_bounds_of_the_team_table(changes: dict[str, Any], field: str, rule: str) -> None:
    app = application(IN_TEAM_WINDOWS)
    form = TeamStatisticsForm.model_validate(team_statistics(**changes))
    status, got_field, got_rule, _ = refused(app, lambda: app.file_statistics(TEAM_SEASON, "pudong", form, RECOMMENDER))
    assert (status, got_field, got_rule) == (422, field, rule)


@pytest.mark.parametrize("period", [{"first_month": "2024-06", "last_month": "2023-07"},
                                    {"first_month": "2023-01", "last_month": "2024-06"}])
def test_stats_period_runs_forward_for_at_most_a_year(period: dict[str, str]) -> None:
    app = application(DURING)
    form = QcStatisticsForm.model_validate(qc_statistics(period=period))
    status, field, rule, _ = refused(app, lambda: app.file_statistics(QC_SEASON, "pudong", form, RECOMMENDER))
    assert (status, field, rule) == (422, "period.last_month", "stats.period")


def test_stats_recommender_registered_for_the_season() -> None:
    app = application(DURING)
    form = QcStatisticsForm.model_validate(qc_statistics())
    status, field, rule, _ = refused(app, lambda: app.file_statistics(QC_SEASON, "minhang", form, RECOMMENDER))
    assert (status, field, rule) == (409, "recommender_id", "stats.recommender.registered")


def test_entry_recommender_registered_when_the_registration_names_none() -> None:
    app = application(DURING)
    unit = registered(recommender_id=None)
    unknown = QcAchievementForm.model_validate(qc_form(recommender_id="minhang"))
    status, field, rule, _ = refused(app, lambda: app.submit_entry(QC_SEASON, unit, unknown, as_unit()))
    assert (status, field, rule) == (409, "recommender_id", "entry.recommender.registered")
    known = QcAchievementForm.model_validate(qc_form(recommender_id="direct"))
    assert app.submit_entry(QC_SEASON, unit, known, as_unit())["created"] is True


def test_stats_kind_matches_the_season() -> None:
    app = application(DURING)
    form = TeamStatisticsForm.model_validate(team_statistics())
    status, field, rule, _ = refused(app, lambda: app.file_statistics(QC_SEASON, "pudong", form, RECOMMENDER))
    assert (status, field, rule) == (422, "kind", "stats.kind")


def test_season_window_recommendation_for_statistics_and_summaries() -> None:
    app = application(CLOSES + timedelta(seconds=1))
    statistics = QcStatisticsForm.model_validate(qc_statistics())
    summary = WorkSummaryForm.model_validate(work_summary())
    for call in (lambda: app.file_statistics(QC_SEASON, "pudong", statistics, RECOMMENDER),
                 lambda: app.file_work_summary(QC_SEASON, "pudong", summary, RECOMMENDER)):
        status, _, rule, message = refused(app, call)
        assert (status, rule) == (409, "season.window.recommendation") and "2020-07-12 22:00" in message


def test_statistics_filed_again_for_the_period_amend_the_table() -> None:
    app = application(IN_TEAM_WINDOWS)
    first = app.file_statistics(TEAM_SEASON, "pudong", TeamStatisticsForm.model_validate(team_statistics()), RECOMMENDER)
    again = app.file_statistics(TEAM_SEASON, "pudong", TeamStatisticsForm.model_validate(team_statistics(teams=320)),
                                RECOMMENDER)
    assert (first["event"], first["created"], first["derived"]) == ("StatisticsFiled", True, {})
    assert (again["event"], again["version"], again["aggregate_id"]) == ("StatisticsAmended", 2, first["aggregate_id"])


def test_summary_length_at_least_3000_characters() -> None:
    app = application(DURING)
    short = WorkSummaryForm.model_validate(work_summary(2999))
    status, field, rule, message = refused(app, lambda: app.file_work_summary(QC_SEASON, "pudong", short, RECOMMENDER))
    assert (status, field, rule) == (422, "body", "summary.length") and "2999" in message
    filed = app.file_work_summary(QC_SEASON, "pudong", WorkSummaryForm.model_validate(work_summary(3000)), RECOMMENDER)
    assert (filed["event"], filed["characters"]) == ("WorkSummaryFiled", 3000)


def test_summary_parts_all_three_are_written() -> None:
    app = application(DURING)
    summary = WorkSummaryForm.model_validate(work_summary(6000) | {"problems_and_next_steps": "  "})
    status, field, rule, message = refused(app, lambda: app.file_work_summary(QC_SEASON, "pudong", summary, RECOMMENDER))
    assert (status, field, rule) == (422, "problems_and_next_steps", "summary.parts")
    assert "三、存在问题及改进方向" in message


def test_a_work_summary_filed_again_amends_it() -> None:
    app = application(DURING)
    app.file_work_summary(QC_SEASON, "pudong", WorkSummaryForm.model_validate(work_summary()), RECOMMENDER)
    again = app.file_work_summary(QC_SEASON, "pudong", WorkSummaryForm.model_validate(work_summary(4200)), RECOMMENDER)
    assert (again["event"], again["version"], again["characters"]) == ("WorkSummaryAmended", 2, 4200)


# ---------------------------------------------------------------- idempotency


def test_idempotency_a_retried_submission_returns_the_first_result_and_stores_nothing() -> None:
    app = application(DURING)
    form = QcAchievementForm.model_validate(qc_form())
    key = IdempotencyKey.for_request("k-1", "promoter-0", "/qc", form.model_dump(mode="json"))
    before = stored(app)
    first = app.submit_entry(QC_SEASON, registered(), form, as_unit(), key)
    app.clock = lambda: CLOSES + timedelta(days=1)  # even after the window closed, the retry gets the first answer
    retried = app.submit_entry(QC_SEASON, registered(), form, as_unit(), key)
    assert retried == first | {"replayed": True}
    assert stored(app) == before + 2  # the entry and its key record
    assert [item.type for item in app.envelopes_after(before, 10)[0]] == ["EntrySubmitted"]


def test_idempotency_key_reused_for_another_request_is_refused() -> None:
    app = application(DURING)
    form = QcAchievementForm.model_validate(qc_form())
    app.submit_entry(QC_SEASON, registered(), form, as_unit(), IdempotencyKey.for_request("k", "promoter-0", "/qc", {"a": 1}))
    other = QcAchievementForm.model_validate(qc_form(topic="另一个课题"))
    status, field, rule, _ = refused(
        app,
        lambda: app.submit_entry(QC_SEASON, registered(), other, as_unit(),
                                 IdempotencyKey.for_request("k", "promoter-0", "/qc", {"a": 2})),
    )
    assert (status, field, rule) == (422, "Idempotency-Key", "idempotency.key_reused")


def test_idempotency_for_statistics_and_confirmations() -> None:
    app = application(DURING)
    entry_id = submit_qc(app)["entry_id"]
    key = IdempotencyKey.for_request("c-1", "promoter-0", "/confirm", {"x": 1})
    first = app.confirm_entry(QC_SEASON, entry_id, confirmation(), as_unit(channel=Channel.UNIT), key)
    assert app.confirm_entry(QC_SEASON, entry_id, confirmation(), as_unit(channel=Channel.UNIT), key) == first | {"replayed": True}
    form = QcStatisticsForm.model_validate(qc_statistics())
    stats_key = IdempotencyKey.for_request("s-1", "pudong-staff", "/stats", {"y": 1})
    filed = app.file_statistics(QC_SEASON, "pudong", form, RECOMMENDER, stats_key)
    assert app.file_statistics(QC_SEASON, "pudong", form, RECOMMENDER, stats_key)["version"] == filed["version"] == 1


# ---------------------------------------------------------------- the form's other boxes


def test_entry_unit_nature_other_needs_its_text() -> None:
    status, field, rule, _ = team_refusal(unit_nature="other")
    assert (status, field, rule) == (422, "unit_nature_other", "entry.unit_nature_other.required")
    assert submit_team(application(IN_TEAM_WINDOWS), unit_nature="other", unit_nature_other="股份合作制")["created"]


def test_entry_key_industry_other_needs_its_text_and_only_then() -> None:
    status, field, rule, _ = team_refusal(key_industries=["other"])
    assert (status, field, rule) == (422, "key_industry_other", "entry.key_industry_other.required")
    status, field, rule, _ = team_refusal(key_industry_other="医疗器械")
    assert (status, field, rule) == (422, "key_industry_other", "entry.key_industry_other.without_other")


def test_entry_key_industries_duplicate() -> None:
    status, field, rule, _ = team_refusal(key_industries=["biomedicine", "biomedicine"])
    assert (status, field, rule) == (422, "key_industries.1", "entry.key_industries.duplicate")


def test_entry_key_industries_are_the_forms_codes() -> None:
    status, field, rule, _ = refused(None, lambda: TeamExperienceForm.model_validate(team_form(key_industries=["钢铁"])))
    assert (status, field, rule) == (422, "key_industries.0", "enum")


def test_entry_kind_stays_when_amending() -> None:
    app = application(IN_TEAM_WINDOWS)
    entry_id = submit_team(app)["entry_id"]
    qc = QcAchievementForm.model_validate(qc_form())
    season = SeasonView(**{**TEAM_SEASON.__dict__, "kind": ActivityKind.QC_GROUP})
    status, field, rule, _ = refused(app, lambda: app.amend_entry(season, registered(), entry_id, qc, as_unit()))
    assert (status, field, rule) == (422, "kind", "entry.kind")
