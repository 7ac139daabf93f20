"""One test per rule of the review service, named after the rule it checks.

The application runs on an in-memory event store with an injected clock; the season, entries,
recommending units and judges are the plain data the HTTP layer reads from review's projection.
Judge assignments are recorded through the application (JudgesAssigned on the Assignment aggregate),
as the secretariat or the assignment worker records them. Every refusal is checked for its status,
field and rule, and for having stored nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from pydantic import ValidationError

from contracts import Actor
from contracts.codes import (
    ActivityKind,
    Channel,
    QcAchievementType,
    RecommenderCategory,
    Role,
)
from contracts.common import Window
from contracts.published import (
    Approval,
    NationalRecommendation,
    Objection,
    ObjectionDecision,
)
from contracts.recommended import (
    DirectAcceptance,
    FormalReviewDecision,
    RecommendationForm,
    Resubmission,
    Revocation,
)
from contracts.registered import QuotaRule
from contracts.review_rounds import GradeBand, Rubric
from contracts.scored import JudgesAssigned, ReviewStage, ScoreSheet
from contracts.submitted import EntryStatus
from infra.errors import NotFound, RuleViolation
from infra.eventstore import CommandContext, stamp, to_envelope
from infra.http import status_of
from infra.idempotency import IdempotencyKey
from infra.settings import ServiceSettings
from qcp.demo import demo_credit_code
from services.review.application import ReviewApplication
from services.review.application.commands import (
    AcceptDirectly,
    Approve,
    AssignJudges,
    DecideFormalReview,
    FileObjection,
    Grade,
    OpenNotice,
    Publish,
    Recommend,
    RecommendNationally,
    RecordScore,
    ResolveObjection,
    Resubmit,
    ReviseScore,
    Revoke,
)
from services.review.assignment.domain import Assignment, assignment_id
from services.review.domain.entry_review import ReviewProgress
from services.review.domain.inbound import (
    EntryView,
    JudgeView,
    RecommenderView,
    SeasonView,
)

CST = timezone(timedelta(hours=8))
MATERIAL, PRESENTATION = ReviewStage.MATERIAL_REVIEW, ReviewStage.PRESENTATION


def window(start: datetime, end: datetime) -> Window:
    return Window(opens_at=start, closes_at=end)


# The Shanghai 2020 QC calendar: recommendation until 07-12 22:00, formal review and material review
# from 07-13, the presentation contest in August; notice and publication after.
RECOMMENDING = datetime(2020, 7, 1, 10, 0, tzinfo=CST)
REVIEWING = datetime(2020, 7, 20, 9, 0, tzinfo=CST)
ON_NOTICE = datetime(2020, 9, 3, 9, 0, tzinfo=CST)
PUBLISHING = datetime(2020, 9, 10, 9, 0, tzinfo=CST)
WINDOWS = {
    "submission": window(datetime(2020, 6, 28, tzinfo=CST), datetime(2020, 7, 12, 22, tzinfo=CST)),
    "recommendation": window(datetime(2020, 6, 28, tzinfo=CST), datetime(2020, 7, 12, 22, tzinfo=CST)),
    "review": window(datetime(2020, 7, 13, tzinfo=CST), datetime(2020, 8, 31, 22, tzinfo=CST)),
    "notice": window(datetime(2020, 9, 1, tzinfo=CST), datetime(2020, 9, 7, 17, tzinfo=CST)),
    "publication": window(datetime(2020, 9, 8, tzinfo=CST), datetime(2020, 12, 31, 22, tzinfo=CST)),
}


def criteria(*points: tuple[str, str, int]) -> list[dict[str, Any]]:
    return [{"code": code, "label": label, "max_points": maximum} for code, label, maximum in points]


MATERIAL_RUBRIC = Rubric.model_validate({
    "code": "qc_material", "label": "质量管理小组成果文审评分表", "standard": "T/CAQ10201-2020",
    "review_form": "material",
    "criteria": criteria(("topic", "选题", 15), ("process", "活动过程", 45), ("effect", "效果", 25),
                         ("report", "成果报告", 15)),
})
PRESENTATION_RUBRIC = Rubric.model_validate({
    "code": "qc_presentation", "label": "质量管理小组成果发表评审表", "standard": "T/CAQ10201-2020",
    "review_form": "presentation",
    "criteria": criteria(("content", "成果内容", 70), ("presentation", "发表", 30)),
})
BANDS = tuple(GradeBand.model_validate(band) for band in (
    {"code": "benchmark", "label": "标杆级", "min_score": 90},
    {"code": "excellent", "label": "优秀级", "min_score": 80},
    {"code": "advancing", "label": "推进级", "min_score": 70},
))
QC_SEASON = SeasonView(
    season_id="310000-2020-qc_group", organizer="310000", kind=ActivityKind.QC_GROUP, year=2020, windows=WINDOWS,
    channels=frozenset({"group", "unit", "recommender", "direct"}),
    quota=QuotaRule(per_unit_max=2, per_type_max={QcAchievementType.PROBLEM_SOLVING: 1, QcAchievementType.INNOVATION: 1}),
    rubrics=(MATERIAL_RUBRIC, PRESENTATION_RUBRIC), grade_bands=BANDS,
    stage_weights={"material_review": Decimal("0.4"), "presentation": Decimal("0.6")},
)
# The national association's season of the same year: provinces send their recommendations until 09-15 22:00
# (the Shanghai 2020 notice's 全国材料 deadline), reviewed on the same rubrics, one band.
NATIONAL_SEASON = replace(
    QC_SEASON, season_id="CAQ-2020-qc_group", organizer="CAQ", windows={
        "recommendation": window(datetime(2020, 6, 1, tzinfo=CST), datetime(2020, 9, 15, 22, tzinfo=CST)),
        "review": window(datetime(2020, 9, 1, tzinfo=CST), datetime(2020, 11, 30, 22, tzinfo=CST)),
    }, grade_bands=(GradeBand.model_validate({"code": "national_excellent", "label": "全国优秀质量管理小组",
                                               "min_score": 85}),), stage_weights={},
)
TEAM_SEASON = replace(
    QC_SEASON, season_id="310000-2020-team", kind=ActivityKind.TEAM,
    quota=QuotaRule(per_unit_min=2, per_unit_max=3, distinct_team_types=True), stage_weights={},
)

RECOMMENDERS = {
    "pudong": RecommenderView("pudong", "浦东新区市场监督管理局", RecommenderCategory.DISTRICT),
    "xuhui": RecommenderView("xuhui", "徐汇区市场监督管理局", RecommenderCategory.DISTRICT),
    "direct": RecommenderView("direct", "其他-市质协会员与质量推进部", RecommenderCategory.DIRECT),
}
UNIT_NAMES = ["上海申达电气设备有限公司", "上海浦江生物医药股份有限公司", "上海东方航运服务有限公司", "上海智造精工科技有限公司"]


def judge(index: int, **changes: Any) -> JudgeView:
    fields = {"judge_id": f"j{index}", "name": f"评委{index}", "work_unit": f"上海质量研究院第{index}研究室",
              "certificate_no": f"TGQ-2020-{index:04d}"}
    return JudgeView(**(fields | changes))


# j1..j7 are free of conflicts; j8 works at unit 0; j9 sits on pudong's panel.
JUDGES = {item.judge_id: item for item in [
    *(judge(index) for index in range(1, 8)),
    judge(8, work_unit=UNIT_NAMES[0], work_unit_credit_code=demo_credit_code(0)),
    judge(9, recommender_id="pudong"),
]}
PANEL = {item.certificate_no: item for item in JUDGES.values()}

SECRETARIAT = CommandContext(Actor(id="staff-1", role=Role.ORGANIZER, org="310000"), Channel.ORGANIZER)
DIRECT_DESK = CommandContext(Actor(id="staff-1", role=Role.ORGANIZER, org="310000"), Channel.DIRECT)


def as_recommender(recommender_id: str = "pudong") -> CommandContext:
    return CommandContext(Actor(id=f"{recommender_id}-staff", role=Role.RECOMMENDER, org=recommender_id),
                          Channel.RECOMMENDER)


def as_judge(judge_id: str) -> CommandContext:
    return CommandContext(Actor(id=f"judge-{judge_id}", role=Role.JUDGE, org=judge_id), Channel.ORGANIZER)


def recommendation(rank: int = 1, **changes: Any) -> RecommendationForm:
    form = {
        "conformance": "符合T/CAQ10201-2020问题解决型课题程序，数据翔实",
        "features": "现场改进与统计工具运用结合紧密",
        "shortcomings": "效果巩固期数据偏短",
        "score": "88.5",
        "rank": rank,
        "opinion": "同意推荐",
        "judges": [{"name": "评委9", "work_unit": "上海质量研究院第9研究室", "certificate_no": "TGQ-2020-0009",
                    "email": "j9@example.com", "mobile": "13800000009"}],
        "declaration": {"accepted": True, "signer": "王芳", "signed_on": "2020-06-30"},
        "filled_by": "王芳",
        "phone": "021-52588838",
        "filled_on": "2020-06-30",
    }
    return RecommendationForm.model_validate(form | changes)


def sheet(*points: Any) -> ScoreSheet:
    codes = [criterion.code for criterion in MATERIAL_RUBRIC.criteria]
    if len(points) == 2:
        codes = [criterion.code for criterion in PRESENTATION_RUBRIC.criteria]
    return ScoreSheet(criteria=dict(zip(codes, [Decimal(str(item)) for item in points], strict=True)))


def filled(rubric: Rubric, total: str) -> ScoreSheet:
    """A sheet of the rubric adding up to `total`: each criterion filled up to its maximum in turn."""
    left, points = Decimal(total), {}
    for criterion in rubric.criteria:
        points[criterion.code] = min(left, Decimal(criterion.max_points))
        left -= points[criterion.code]
    assert left == 0, f"{total} is above the rubric's total"
    return ScoreSheet(criteria=points)


def material(total: str) -> ScoreSheet:
    return filled(MATERIAL_RUBRIC, total)


def presentation(total: str) -> ScoreSheet:
    return filled(PRESENTATION_RUBRIC, total)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class World:
    """The review application with the projection's plain data around it."""

    def __init__(self, season: SeasonView = QC_SEASON, now: datetime = RECOMMENDING) -> None:
        self.clock = Clock(now)
        self.app = ReviewApplication(ServiceSettings(service="review", event_store="memory"), clock=self.clock)
        self.season = season
        self.entries: dict[str, EntryView] = {}
        self.recommenders = dict(RECOMMENDERS)

    # ---------------------------------------------------------- what the projection knows

    def entry(self, entry_id: str, unit: int = 0, *, qc_type: str | None = "problem_solving",
              team_type: str | None = None, recommender: str | None = "pudong", **changes: Any) -> EntryView:
        team = self.season.kind is ActivityKind.TEAM
        item = EntryView(
            season_id=self.season.season_id, entry_id=entry_id, credit_code=demo_credit_code(unit),
            unit_name=UNIT_NAMES[unit], name=f"{entry_id}小组", kind=self.season.kind, version=1,
            status=EntryStatus.CONFIRMED, recommender_id=recommender,
            qc_type=None if team or qc_type is None else QcAchievementType(qc_type),
            team_type=(team_type or f"类型{entry_id}") if team else None, team_size=8,
            unit_names=(UNIT_NAMES[unit],),
            # the 报名表 as registration's events told review: a foreign-invested member unit
            unit_member=True, unit_nature="foreign", unit_key_domain="manufacturing",
        )
        item = replace(item, **changes)
        self.entries[entry_id] = item
        return item

    def unit_entries(self, entry: EntryView) -> dict[str, EntryView]:
        return {key: item for key, item in self.entries.items() if item.credit_code == entry.credit_code}

    def stored(self) -> int:
        return self.app.recorder.max_notification_id() or 0

    # ---------------------------------------------------------- commands

    def recommend(self, entry_id: str, recommender: str = "pudong", form: RecommendationForm | None = None,
                  context: CommandContext | None = None, **kwargs: Any) -> dict[str, Any]:
        entry = self.entries[entry_id]
        rank = 1 + len([item for item in self.entries if item < entry_id])
        command = Recommend(self.season, entry, self.recommenders[recommender], self.unit_entries(entry), PANEL,
                            form or recommendation(rank))
        return self.app.recommend(command, context or as_recommender(recommender), **kwargs)

    def accept_directly(self, entry_id: str) -> dict[str, Any]:
        entry = self.entries[entry_id]
        return self.app.accept_directly(AcceptDirectly(self.season, entry, self.recommenders["direct"],
                                                       self.unit_entries(entry),
                                                       DirectAcceptance(opinion="市质协会员单位，经秘书处确认直接申报")),
                                        DIRECT_DESK)

    def revoke(self, entry_id: str, recommender: str = "pudong") -> dict[str, Any]:
        return self.app.revoke(Revoke(self.season, entry_id, Revocation(reason="宁缺毋滥，改推荐其他成果")),
                               as_recommender(recommender))

    def formal_review(self, entry_id: str, outcome: str = "passed", *reasons: str) -> dict[str, Any]:
        decision = FormalReviewDecision(outcome=outcome, reasons=list(reasons))
        return self.app.decide_formal_review(DecideFormalReview(self.season, self.entries[entry_id], decision),
                                             SECRETARIAT)

    def assign(self, entry_id: str, stage: ReviewStage, *judge_ids: str) -> dict[str, Any]:
        return self.app.assign_judges(AssignJudges(self.season, self.entries[entry_id], stage, list(judge_ids), JUDGES),
                                      SECRETARIAT)

    def assign_unchecked(self, entry_id: str, stage: ReviewStage, *judge_ids: str) -> None:
        """JudgesAssigned recorded as the assignment worker records it, without the secretariat's checks."""
        entry = self.entries[entry_id]
        aggregate_id = assignment_id(self.season.season_id, entry_id, stage.value)
        if aggregate_id in self.app.repository:
            assignment = self.app.repository.get(aggregate_id)
        else:
            assignment = Assignment(self.season.season_id, entry_id, stage.value, entry.credit_code, entry.recommender_id)
        payload = JudgesAssigned(season_id=self.season.season_id, entry_id=entry_id, stage=stage,
                                 judge_ids=list(judge_ids), assigned_by="assignment-worker")
        system = CommandContext(Actor(id="assignment-worker", role=Role.SYSTEM, org="310000"), Channel.SYSTEM)
        assignment.assign(**stamp(payload, system, season_id=self.season.season_id, organizer="310000"))
        self.app.save(assignment)

    def score(self, entry_id: str, judge_id: str, points: ScoreSheet, stage: ReviewStage = MATERIAL,
              **kwargs: Any) -> dict[str, Any]:
        return self.app.record_score(RecordScore(self.season, self.entries[entry_id], JUDGES[judge_id], stage, points),
                                     as_judge(judge_id), **kwargs)

    def revise(self, entry_id: str, judge_id: str, points: ScoreSheet, reason: str = "复核后更正",
               stage: ReviewStage = MATERIAL) -> dict[str, Any]:
        return self.app.revise_score(ReviseScore(self.season, self.entries[entry_id], JUDGES[judge_id], stage, points,
                                                 reason), as_judge(judge_id))

    def grade(self, entry_id: str) -> dict[str, Any]:
        return self.app.grade(Grade(self.season, entry_id), SECRETARIAT)

    def approve(self, *entry_ids: str, **changes: Any) -> dict[str, Any]:
        approval = Approval.model_validate({
            "guiding_units": ["上海市市场监督管理局", "上海市总工会", "共青团上海市委员会", "上海市妇女联合会"],
            "approved_on": self.clock.now.astimezone(CST).date().isoformat(), "entry_ids": list(entry_ids) or None,
        } | changes)
        return self.app.approve(Approve(self.season, approval, sorted(self.entries)), SECRETARIAT)

    def open_notice(self) -> dict[str, Any]:
        return self.app.open_notice(OpenNotice(self.season, sorted(self.entries)), SECRETARIAT)

    def object(self, entry_id: str, grounds: str = "该成果部分数据与企业年报不符，请核实") -> dict[str, Any]:
        objection = Objection(objector="上海某机械有限公司", grounds=grounds)
        return self.app.file_objection(FileObjection(self.season, entry_id, objection), SECRETARIAT)

    def resolve(self, entry_id: str, objection_id: str = "o1", **decision: Any) -> dict[str, Any]:
        body = ObjectionDecision.model_validate({"outcome": "dismissed", "finding": "经核实，数据与原始记录一致"} | decision)
        return self.app.resolve_objection(ResolveObjection(self.season, entry_id, objection_id, body), SECRETARIAT)

    def publish(self, **kwargs: Any) -> dict[str, Any]:
        return self.app.publish(Publish(self.season), SECRETARIAT, **kwargs)

    def recommend_nationally(self, entry_id: str, national: str = "CAQ-2020-qc_group",
                             national_season: SeasonView | None = NATIONAL_SEASON, **kwargs: Any) -> dict[str, Any]:
        command = RecommendNationally(self.season, self.entries[entry_id],
                                      NationalRecommendation(national_season_id=national), national_season)
        return self.app.recommend_nationally(command, SECRETARIAT, **kwargs)

    # ---------------------------------------------------------- a whole way through

    def in_review(self, entry_id: str, unit: int = 0, **entry: Any) -> None:
        """Recommended, formally reviewed and passed; the clock stays in the review stage."""
        self.clock.now = RECOMMENDING
        self.entry(entry_id, unit, **entry)
        self.recommend(entry_id)
        self.clock.now = REVIEWING
        self.formal_review(entry_id)

    def graded(self, entry_id: str, material_totals: list[str], presentation_totals: list[str] | None = None,
               unit: int = 0, **entry: Any) -> dict[str, Any]:
        self.in_review(entry_id, unit, **entry)
        judges = [f"j{index}" for index in range(1, len(material_totals) + 1)]
        self.assign(entry_id, MATERIAL, *judges)
        for judge_id, total in zip(judges, material_totals, strict=True):
            self.score(entry_id, judge_id, material(total))
        if presentation_totals:
            judges = [f"j{index}" for index in range(1, len(presentation_totals) + 1)]
            self.assign(entry_id, PRESENTATION, *judges)
            for judge_id, total in zip(judges, presentation_totals, strict=True):
                self.score(entry_id, judge_id, presentation(total), PRESENTATION)
        return self.grade(entry_id)

    def on_notice(self, scores: dict[str, list[str]]) -> None:
        for index, (entry_id, totals) in enumerate(scores.items()):
            self.graded(entry_id, totals, totals, unit=index % 4, qc_type=["problem_solving", "innovation"][index // 4 % 2])
        self.clock.now = datetime(2020, 8, 31, 23, tzinfo=CST)
        self.approve()
        self.clock.now = ON_NOTICE
        self.open_notice()


def refused(world: World, call: Callable[[], Any]) -> tuple[int, str, str]:
    """(status, field, rule) of a refused command; asserts that nothing was stored."""
    before = world.stored()
    try:
        call()
    except RuleViolation as violation:
        answer = (status_of(violation), violation.field, violation.rule)
        world.last_message = violation.message  # type: ignore[attr-defined]
    else:
        raise AssertionError("the command was not refused")
    assert world.stored() == before, "a refused command stored something"
    return answer


def history(app: ReviewApplication, aggregate_id: UUID) -> list[Any]:
    """The aggregate's published events as envelopes (bookkeeping events, without envelope metadata, left out)."""
    return [to_envelope(item) for item in app.events.get(aggregate_id) if hasattr(item, "meta")]


def invalid(model: Any, data: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return [(".".join(str(part) for part in item["loc"]), item["type"]) for item in caught.value.errors()]


# ---------------------------------------------------------------- recommendation (推荐通道)


def test_a_recommendation_records_the_form_and_counts_against_the_quota() -> None:
    world = World()
    world.entry("e1")
    answer = world.recommend("e1")
    assert answer["event"] == "EntryRecommended" and answer["created"] is True
    review = world.app.entry_review(QC_SEASON.season_id, "e1")
    assert review.progress is ReviewProgress.RECOMMENDED and review.recommender_id == "pudong"
    event = history(world.app, review.id)[-1]
    assert event.type == "EntryRecommended" and event.channel.value == "recommender"
    assert event.payload["declaration"] == {"accepted": True, "signer": "王芳", "signed_on": "2020-06-30"}
    assert event.payload["declaration_text"].startswith("本单位遵守上海市群众性质量提升活动的有关规定")
    assert event.payload["judges"][0]["certificate_no"] == "TGQ-2020-0009"
    assert event.payload["score"] == "88.5" and event.payload["team_size"] == 8


def test_season_window_recommendation_closed() -> None:
    world = World(now=datetime(2020, 7, 12, 22, 0, 1, tzinfo=CST))
    world.entry("e1")
    assert refused(world, lambda: world.recommend("e1")) == (409, "season_id", "season.window.recommendation")
    assert "2020-07-12 22:00" in world.last_message


def test_season_window_recommendation_includes_its_closing_instant() -> None:
    world = World(now=datetime(2020, 7, 12, 22, 0, tzinfo=CST))
    world.entry("e1")
    assert world.recommend("e1")["event"] == "EntryRecommended"


def test_season_channel_recommender() -> None:
    world = World(season=replace(QC_SEASON, channels=frozenset({"group", "direct"})))
    world.entry("e1")
    assert refused(world, lambda: world.recommend("e1")) == (409, "channel", "season.channel")


def test_recommendation_recommender_not_the_units() -> None:
    world = World()
    world.entry("e1", recommender="xuhui")
    assert refused(world, lambda: world.recommend("e1")) == (403, "entry_id", "recommendation.recommender.not_the_units")


def test_recommendation_direct_channel_is_for_the_secretariat() -> None:
    world = World()
    world.entry("e1", recommender="direct")
    assert refused(world, lambda: world.recommend("e1", "direct")) == (409, "recommender_id",
                                                                       "recommendation.direct_channel")


def test_recommendation_entry_withdrawn() -> None:
    world = World()
    world.entry("e1", status=EntryStatus.WITHDRAWN)
    assert refused(world, lambda: world.recommend("e1")) == (409, "entry_id", "recommendation.entry.withdrawn")


def test_recommendation_entry_unconfirmed_when_the_season_offers_the_unit_channel() -> None:
    world = World()
    world.entry("e1", status=EntryStatus.SUBMITTED)
    assert refused(world, lambda: world.recommend("e1")) == (409, "entry_id", "recommendation.entry.unconfirmed")
    without_unit_channel = World(season=replace(QC_SEASON, channels=frozenset({"group", "recommender", "direct"})))
    without_unit_channel.entry("e1", status=EntryStatus.SUBMITTED)
    assert without_unit_channel.recommend("e1")["event"] == "EntryRecommended"


def test_recommendation_entry_kind() -> None:
    world = World()
    world.entry("e1", kind=ActivityKind.TEAM)
    assert refused(world, lambda: world.recommend("e1")) == (422, "entry_id", "recommendation.entry.kind")


def test_recommendation_declaration_accepted() -> None:
    world = World()
    world.entry("e1")
    form = recommendation(declaration={"accepted": False, "signer": "王芳", "signed_on": "2020-06-30"})
    assert refused(world, lambda: world.recommend("e1", form=form)) == (
        422, "declaration.accepted", "recommendation.declaration.accepted")


@pytest.mark.parametrize("field", ["filled_on", "declaration.signed_on"])
def test_recommendation_date_future(field: str) -> None:
    world = World()
    world.entry("e1")
    changes = ({"filled_on": "2020-07-02"} if field == "filled_on" else
               {"declaration": {"accepted": True, "signer": "王芳", "signed_on": "2020-07-02"}})
    assert refused(world, lambda: world.recommend("e1", form=recommendation(**changes))) == (
        422, field, "recommendation.date.future")


def test_recommendation_judge_registered_by_tgq_certificate() -> None:
    world = World()
    world.entry("e1")
    form = recommendation(judges=[{"name": "无名", "work_unit": "某单位", "certificate_no": "TGQ-1999-0001"}])
    assert refused(world, lambda: world.recommend("e1", form=form)) == (
        422, "judges.0.certificate_no", "recommendation.judge.registered")


def test_recommendation_judges_duplicate() -> None:
    world = World()
    world.entry("e1")
    twice = {"name": "评委9", "work_unit": "上海质量研究院", "certificate_no": "tgq 2020 0009"}
    form = recommendation(judges=[twice | {"certificate_no": "TGQ-2020-0009"}, twice | {"certificate_no": "TGQ-2020-0009"}])
    assert refused(world, lambda: world.recommend("e1", form=form)) == (
        422, "judges.1.certificate_no", "recommendation.judges.duplicate")


def test_recommendation_form_score_and_precision() -> None:
    base = recommendation().model_dump(mode="json")
    assert invalid(RecommendationForm, base | {"score": "88.555"}) == [("score", "score.precision")]
    assert invalid(RecommendationForm, base | {"score": "101"})[0][1] == "less_than_equal"
    assert invalid(RecommendationForm, base | {"phone": "12345"}) == [("phone", "identity.phone")]


def test_recommendation_duplicate() -> None:
    world = World()
    world.entry("e1")
    world.recommend("e1")
    assert refused(world, lambda: world.recommend("e1", form=recommendation(2))) == (
        409, "entry_id", "recommendation.duplicate")


def test_recommendation_quota_per_type_one_problem_solving_and_one_innovation() -> None:
    world = World()
    world.entry("e1", qc_type="problem_solving")
    world.entry("e2", qc_type="problem_solving")
    world.entry("e3", qc_type="innovation")
    world.recommend("e1")
    assert refused(world, lambda: world.recommend("e2")) == (409, "qc_type", "recommendation.quota.per_type")
    assert "问题解决型" in world.last_message
    assert world.recommend("e3")["event"] == "EntryRecommended"


def test_recommendation_quota_per_unit_two_for_qc_groups() -> None:
    season = replace(QC_SEASON, quota=QuotaRule(per_unit_max=2))
    world = World(season=season)
    for entry_id in ("e1", "e2", "e3"):
        world.entry(entry_id)
    world.recommend("e1")
    world.recommend("e2")
    assert refused(world, lambda: world.recommend("e3")) == (409, "entry_id", "recommendation.quota.per_unit")
    assert "at most 2" in world.last_message


def test_recommendation_quota_counts_per_participating_unit() -> None:
    world = World()
    world.entry("e1", unit=0)
    world.entry("e2", unit=1)
    world.recommend("e1")
    assert world.recommend("e2")["event"] == "EntryRecommended"


def test_recommendation_quota_per_unit_two_to_three_teams() -> None:
    world = World(season=TEAM_SEASON)
    for entry_id in ("e1", "e2", "e3", "e4"):
        world.entry(entry_id)
    for entry_id in ("e1", "e2", "e3"):
        world.recommend(entry_id)
    assert refused(world, lambda: world.recommend("e4")) == (409, "entry_id", "recommendation.quota.per_unit")


def test_recommendation_quota_distinct_team_types() -> None:
    world = World(season=TEAM_SEASON)
    world.entry("e1", team_type="生产现场型")
    world.entry("e2", team_type="生产 现场型")
    world.recommend("e1")
    assert refused(world, lambda: world.recommend("e2")) == (409, "team_type", "recommendation.quota.distinct_team_types")


def test_recommendation_team_type_required_when_types_must_differ() -> None:
    world = World(season=TEAM_SEASON)
    world.entry("e1")
    world.entries["e1"] = replace(world.entries["e1"], team_type=None)
    assert refused(world, lambda: world.recommend("e1")) == (422, "team_type", "recommendation.team_type.required")


def test_recommendation_quota_raised_by_the_organizer() -> None:
    world = World(season=TEAM_SEASON)
    world.recommenders["pudong"] = replace(RECOMMENDERS["pudong"],
                                           quota=QuotaRule(per_unit_min=2, per_unit_max=4, distinct_team_types=True))
    for entry_id in ("e1", "e2", "e3", "e4"):
        world.entry(entry_id)
        world.recommend(entry_id)
    world.entry("e5")
    assert refused(world, lambda: world.recommend("e5")) == (409, "entry_id", "recommendation.quota.per_unit")
    assert "raised" in world.last_message


def test_recommendation_rank_unique() -> None:
    world = World()
    world.entry("e1", unit=0)
    world.entry("e2", unit=1)
    world.recommend("e1", form=recommendation(1))
    assert refused(world, lambda: world.recommend("e2", form=recommendation(1))) == (
        409, "rank", "recommendation.rank.unique")


def test_a_revocation_while_the_window_is_open_frees_the_quota() -> None:
    world = World()
    world.entry("e1", qc_type="problem_solving")
    world.entry("e2", qc_type="problem_solving")
    world.recommend("e1")
    assert world.revoke("e1")["event"] == "RecommendationRevoked"
    assert world.recommend("e2")["event"] == "EntryRecommended"
    assert world.app.entry_review(QC_SEASON.season_id, "e1").progress is ReviewProgress.REVOKED


def test_a_revoked_entry_may_be_recommended_again() -> None:
    world = World()
    world.entry("e1")
    world.recommend("e1")
    world.revoke("e1")
    assert world.recommend("e1")["event"] == "EntryRecommended"


def test_a_withdrawn_entry_frees_the_quota() -> None:
    world = World()
    world.entry("e1", qc_type="problem_solving")
    world.entry("e2", qc_type="problem_solving")
    world.recommend("e1")
    world.entries["e1"] = replace(world.entries["e1"], status=EntryStatus.WITHDRAWN)
    assert world.recommend("e2")["event"] == "EntryRecommended"


def test_an_amended_type_counts_as_it_is_now() -> None:
    world = World()
    world.entry("e1", qc_type="problem_solving")
    world.entry("e2", qc_type="innovation")
    world.recommend("e1")
    world.entries["e1"] = replace(world.entries["e1"], qc_type=QcAchievementType.INNOVATION, version=2)
    assert refused(world, lambda: world.recommend("e2")) == (409, "qc_type", "recommendation.quota.per_type")


def test_season_window_recommendation_for_revocation() -> None:
    world = World()
    world.entry("e1")
    world.recommend("e1")
    world.clock.now = REVIEWING
    assert refused(world, lambda: world.revoke("e1")) == (409, "season_id", "season.window.recommendation")


def test_recommendation_owner_revokes() -> None:
    world = World()
    world.entry("e1")
    world.recommend("e1")
    assert refused(world, lambda: world.revoke("e1", "xuhui")) == (403, "entry_id", "recommendation.owner")


def test_recommendation_revoke_not_recommended() -> None:
    world = World()
    world.entry("e1")
    world.recommend("e1")
    world.revoke("e1")
    assert refused(world, lambda: world.revoke("e1")) == (409, "entry_id", "recommendation.revoke.not_recommended")


def test_recommendation_revoke_reviewed() -> None:
    world = World()
    world.entry("e1")
    world.recommend("e1")
    world.formal_review("e1")  # formal review may start while recommendations still arrive
    assert refused(world, lambda: world.revoke("e1")) == (409, "entry_id", "recommendation.revoke.reviewed")


def test_the_secretariat_accepts_an_entry_of_the_direct_channel() -> None:
    world = World()
    world.entry("e1", recommender="direct")
    world.entry("e2", unit=1, recommender=None)  # a member unit without any recommending unit
    assert world.accept_directly("e1")["event"] == "EntryAcceptedDirectly"
    assert world.accept_directly("e2")["event"] == "EntryAcceptedDirectly"
    event = history(world.app, world.app.entry_review(QC_SEASON.season_id, "e1").id)[-1]
    assert event.channel.value == "direct" and event.actor.role.value == "organizer"


def test_recommendation_direct_has_recommender() -> None:
    world = World()
    world.entry("e1", recommender="pudong")
    assert refused(world, lambda: world.accept_directly("e1")) == (409, "entry_id", "recommendation.direct.has_recommender")


def test_recommendation_quota_per_type_through_the_direct_channel_too() -> None:
    world = World()
    world.entry("e1", recommender="direct")
    world.entry("e2", recommender="direct")
    world.accept_directly("e1")
    assert refused(world, lambda: world.accept_directly("e2")) == (409, "qc_type", "recommendation.quota.per_type")


def test_season_channel_direct() -> None:
    world = World(season=replace(QC_SEASON, channels=frozenset({"group", "unit", "recommender"})))
    world.entry("e1", recommender="direct")
    assert refused(world, lambda: world.accept_directly("e1")) == (409, "channel", "season.channel")


# ---------------------------------------------------------------- formal review (资料形式审查)


def test_formal_review_passed_carries_what_judge_assignment_needs() -> None:
    world = World()
    world.in_review("e1")
    review = world.app.entry_review(QC_SEASON.season_id, "e1")
    event = history(world.app, review.id)[-1]
    assert event.type == "FormalReviewPassed"
    assert event.payload == {"season_id": QC_SEASON.season_id, "entry_id": "e1", "credit_code": demo_credit_code(0),
                             "recommender_id": "pudong", "kind": "qc_group"}
    assert review.progress is ReviewProgress.IN_REVIEW


def test_formal_review_not_recommended() -> None:
    world = World(now=REVIEWING)
    world.entry("e1")
    with pytest.raises(NotFound):
        world.formal_review("e1")
    world.clock.now = RECOMMENDING
    world.recommend("e1")
    world.revoke("e1")
    world.clock.now = REVIEWING
    assert refused(world, lambda: world.formal_review("e1")) == (409, "entry_id", "formal_review.not_recommended")


def test_formal_review_decided() -> None:
    world = World()
    world.in_review("e1")
    assert refused(world, lambda: world.formal_review("e1")) == (409, "entry_id", "formal_review.decided")


def test_formal_review_reasons_required() -> None:
    world = World()
    world.entry("e1")
    world.recommend("e1")
    assert refused(world, lambda: world.formal_review("e1", "failed")) == (422, "reasons", "formal_review.reasons.required")


def test_formal_review_reasons_without_failure() -> None:
    world = World()
    world.entry("e1")
    world.recommend("e1")
    assert refused(world, lambda: world.formal_review("e1", "passed", "缺少盖章")) == (
        422, "reasons", "formal_review.reasons.without_failure")


def test_season_window_review_for_formal_review() -> None:
    world = World()
    world.entry("e1")
    world.recommend("e1")
    world.clock.now = datetime(2020, 9, 1, tzinfo=CST)
    assert refused(world, lambda: world.formal_review("e1")) == (409, "season_id", "season.window.review")


def test_a_failed_entry_is_corrected_and_resubmitted() -> None:
    world = World()
    world.entry("e1")
    world.recommend("e1")
    world.clock.now = REVIEWING
    assert world.formal_review("e1", "failed", "申报表未加盖公章", "成果报告缺少效果检查部分")["event"] == "FormalReviewFailed"
    assert refused(world, lambda: world.formal_review("e1")) == (409, "entry_id", "formal_review.awaiting_correction")
    resubmit = lambda: world.app.resubmit(Resubmit(QC_SEASON, world.entries["e1"], Resubmission(note="已补盖公章")),  # noqa: E731
                                          as_recommender())
    assert refused(world, resubmit) == (409, "entry_id", "formal_review.resubmit.not_corrected")
    world.entries["e1"] = replace(world.entries["e1"], version=2)  # EntryAmended reached the projection
    assert resubmit()["event"] == "FormalReviewResubmitted"
    assert world.formal_review("e1")["event"] == "FormalReviewPassed"


def test_formal_review_resubmit_not_failed() -> None:
    world = World()
    world.entry("e1")
    world.recommend("e1")
    call = lambda: world.app.resubmit(Resubmit(QC_SEASON, world.entries["e1"], Resubmission()), as_recommender())  # noqa: E731
    assert refused(world, call) == (409, "entry_id", "formal_review.resubmit.not_failed")


def test_formal_review_entry_withdrawn() -> None:
    world = World()
    world.entry("e1")
    world.recommend("e1")
    world.entries["e1"] = replace(world.entries["e1"], status=EntryStatus.WITHDRAWN)
    assert refused(world, lambda: world.formal_review("e1")) == (409, "entry_id", "formal_review.entry.withdrawn")


# ---------------------------------------------------------------- judges assigned by hand


def test_assignment_by_hand_records_judges_assigned() -> None:
    world = World()
    world.in_review("e1")
    answer = world.assign("e1", MATERIAL, "j1", "j2", "j3")
    assert answer["event"] == "JudgesAssigned" and answer["judge_ids"] == ["j1", "j2", "j3"]
    assert world.app.assigned_judges(QC_SEASON.season_id, "e1", MATERIAL) == {"j1", "j2", "j3"}
    world.assign("e1", MATERIAL, "j4", "j5", "j6")
    assert world.app.assigned_judges(QC_SEASON.season_id, "e1", MATERIAL) == {"j4", "j5", "j6"}


def test_assignment_entry_not_in_review() -> None:
    world = World()
    world.entry("e1")
    world.recommend("e1")
    assert refused(world, lambda: world.assign("e1", MATERIAL, "j1")) == (409, "entry_id", "assignment.entry.not_in_review")


def test_assignment_judge_unknown() -> None:
    world = World()
    world.in_review("e1")
    assert refused(world, lambda: world.assign("e1", MATERIAL, "j1", "j99")) == (
        422, "judge_ids.1", "assignment.judge.unknown")


def test_assignment_judges_duplicate() -> None:
    world = World()
    world.in_review("e1")
    assert refused(world, lambda: world.assign("e1", MATERIAL, "j1", "j1")) == (
        422, "judge_ids.1", "assignment.judges.duplicate")


@pytest.mark.parametrize(("judge_id", "rule"), [("j8", "assignment.conflict.own_work_unit"),
                                                ("j9", "assignment.conflict.recommender_panel")])
def test_assignment_conflict(judge_id: str, rule: str) -> None:
    world = World()
    world.in_review("e1")
    assert refused(world, lambda: world.assign("e1", MATERIAL, "j1", judge_id)) == (409, "judge_id", rule)


def test_assignment_unchanged() -> None:
    world = World()
    world.in_review("e1")
    world.assign("e1", MATERIAL, "j1", "j2")
    assert refused(world, lambda: world.assign("e1", MATERIAL, "j1", "j2")) == (409, "judge_ids", "assignment.unchanged")


# ---------------------------------------------------------------- scores (评分)


def test_a_score_by_the_seasons_rubric() -> None:
    world = World()
    world.in_review("e1")
    world.assign("e1", MATERIAL, "j1", "j2", "j3")
    answer = world.score("e1", "j1", sheet(14, "40.5", 22, 13))
    assert (answer["event"], answer["total"]) == ("ScoreRecorded", "89.5")
    event = history(world.app, UUID(answer["aggregate_id"]))[-1]
    assert event.payload["rubric"] == "qc_material" and event.payload["stage"] == "material_review"
    assert event.payload["criteria"] == {"topic": "14", "process": "40.5", "effect": "22", "report": "13"}


def test_score_judge_not_assigned() -> None:
    world = World()
    world.in_review("e1")
    assert refused(world, lambda: world.score("e1", "j1", material("80"))) == (403, "judge_id", "score.judge.not_assigned")
    world.assign("e1", MATERIAL, "j2", "j3")
    assert refused(world, lambda: world.score("e1", "j1", material("80"))) == (403, "judge_id", "score.judge.not_assigned")
    assert refused(world, lambda: world.score("e1", "j2", presentation("80"), PRESENTATION)) == (
        403, "judge_id", "score.judge.not_assigned")


def test_season_window_review_for_scores() -> None:
    world = World()
    world.in_review("e1")
    world.assign("e1", MATERIAL, "j1")
    world.clock.now = datetime(2020, 8, 31, 22, 0, 1, tzinfo=CST)
    assert refused(world, lambda: world.score("e1", "j1", material("80"))) == (409, "season_id", "season.window.review")


def test_score_criterion_above_max() -> None:
    world = World()
    world.in_review("e1")
    world.assign("e1", MATERIAL, "j1")
    assert refused(world, lambda: world.score("e1", "j1", sheet(16, 40, 20, 10))) == (
        422, "criteria.topic", "score.criterion.above_max")
    assert "15" in world.last_message


def test_score_criterion_unknown() -> None:
    world = World()
    world.in_review("e1")
    world.assign("e1", MATERIAL, "j1")
    points = ScoreSheet(criteria={"topic": 10, "process": 40, "effect": 20, "report": 10, "charm": 5})
    assert refused(world, lambda: world.score("e1", "j1", points)) == (422, "criteria.charm", "score.criterion.unknown")


def test_score_criteria_incomplete() -> None:
    world = World()
    world.in_review("e1")
    world.assign("e1", MATERIAL, "j1")
    points = ScoreSheet(criteria={"topic": 10, "process": 40, "effect": 20})
    assert refused(world, lambda: world.score("e1", "j1", points)) == (422, "criteria.report", "score.criteria.incomplete")


def test_score_criterion_negative_and_precision_are_refused_by_the_form() -> None:
    assert invalid(ScoreSheet, {"criteria": {"topic": "-1"}}) == [("criteria.topic", "score.criterion.negative")]
    assert invalid(ScoreSheet, {"criteria": {"topic": "10.125"}}) == [("criteria.topic", "score.precision")]


@pytest.mark.parametrize(("judge_id", "rule"), [("j8", "score.judge.conflict.own_work_unit"),
                                                ("j9", "score.judge.conflict.recommender_panel")])
def test_score_judge_conflict(judge_id: str, rule: str) -> None:
    world = World()
    world.in_review("e1")
    world.assign_unchecked("e1", MATERIAL, "j1", judge_id)  # assigned before the conflict was known
    assert refused(world, lambda: world.score("e1", judge_id, material("80"))) == (409, "judge_id", rule)


def test_score_judge_conflict_recommender_panel_for_the_judges_named_on_the_recommendation() -> None:
    world = World()
    world.in_review("e1")
    named = replace(JUDGES["j9"], recommender_id=None, judge_id="j10")  # on no panel, but named on the 推荐表
    world.assign_unchecked("e1", MATERIAL, "j10")
    call = lambda: world.app.record_score(RecordScore(QC_SEASON, world.entries["e1"], named, MATERIAL, material("80")),  # noqa: E731
                                          as_judge("j10"))
    assert refused(world, call) == (409, "judge_id", "score.judge.conflict.recommender_panel")


def test_score_judge_conflict_own_work_unit_by_name() -> None:
    world = World()
    world.in_review("e1")
    same_name = replace(JUDGES["j1"], work_unit=" 上海申达电气设备有限公司 ")
    world.assign_unchecked("e1", MATERIAL, "j1")
    call = lambda: world.app.record_score(RecordScore(QC_SEASON, world.entries["e1"], same_name, MATERIAL,  # noqa: E731
                                                      material("80")), as_judge("j1"))
    assert refused(world, call) == (409, "judge_id", "score.judge.conflict.own_work_unit")


def test_score_duplicate_one_per_judge_per_stage() -> None:
    world = World()
    world.in_review("e1")
    world.assign("e1", MATERIAL, "j1")
    world.assign("e1", PRESENTATION, "j1")
    world.score("e1", "j1", material("80"))
    assert refused(world, lambda: world.score("e1", "j1", material("82"))) == (409, "stage", "score.duplicate")
    assert world.score("e1", "j1", presentation("85"), PRESENTATION)["event"] == "ScoreRecorded"


def test_a_score_revision_is_an_event_with_its_reason() -> None:
    world = World()
    world.in_review("e1")
    world.assign("e1", MATERIAL, "j1")
    world.score("e1", "j1", material("80"))
    answer = world.revise("e1", "j1", material("84"), reason="漏计效果巩固得分")
    assert (answer["event"], answer["total"], answer["previous_total"]) == ("ScoreRevised", "84", "80")
    events = history(world.app, UUID(answer["aggregate_id"]))
    assert [item.type for item in events] == ["ScoreRecorded", "ScoreRevised"]
    assert events[-1].payload["reason"] == "漏计效果巩固得分"


def test_score_revision_no_score() -> None:
    world = World()
    world.in_review("e1")
    world.assign("e1", MATERIAL, "j1")
    assert refused(world, lambda: world.revise("e1", "j1", material("84"))) == (409, "stage", "score.revision.no_score")


def test_score_revision_unchanged() -> None:
    world = World()
    world.in_review("e1")
    world.assign("e1", MATERIAL, "j1")
    world.score("e1", "j1", material("80"))
    assert refused(world, lambda: world.revise("e1", "j1", material("80.00"))) == (422, "criteria", "score.revision.unchanged")


def test_score_entry_not_in_review() -> None:
    world = World()
    world.entry("e1")
    world.recommend("e1")
    world.clock.now = REVIEWING
    world.assign_unchecked("e1", MATERIAL, "j1")
    assert refused(world, lambda: world.score("e1", "j1", material("80"))) == (409, "entry_id", "score.entry.not_in_review")


def test_score_entry_graded() -> None:
    world = World()
    world.graded("e1", ["80", "82", "84"], ["85", "86", "87"])
    assert refused(world, lambda: world.revise("e1", "j1", material("90"))) == (409, "entry_id", "score.entry.graded")


def test_score_rubric_missing() -> None:
    world = World(season=replace(QC_SEASON, rubrics=(MATERIAL_RUBRIC,)))
    world.in_review("e1")
    world.assign("e1", PRESENTATION, "j1")
    assert refused(world, lambda: world.score("e1", "j1", presentation("80"), PRESENTATION)) == (
        409, "stage", "score.rubric.missing")


def test_the_rubric_of_the_entrys_type_is_used() -> None:
    innovation = Rubric.model_validate(MATERIAL_RUBRIC.model_dump() | {
        "code": "in_material", "achievement_types": ["innovation"],
        "criteria": criteria(("topic", "选题", 20), ("design", "方案设计", 40), ("effect", "效果", 40)),
    })
    solving = Rubric.model_validate(MATERIAL_RUBRIC.model_dump() | {"achievement_types": ["problem_solving"]})
    world = World(season=replace(QC_SEASON, rubrics=(solving, innovation, PRESENTATION_RUBRIC)))
    world.in_review("e1", qc_type="innovation")
    world.assign("e1", MATERIAL, "j1")
    answer = world.score("e1", "j1", ScoreSheet(criteria={"topic": 18, "design": 35, "effect": 30}))
    assert answer["total"] == "83"


# ---------------------------------------------------------------- grade (成果等级)


def test_a_grade_with_five_judges_drops_the_highest_and_the_lowest() -> None:
    world = World(season=replace(QC_SEASON, stage_weights={}))
    answer = world.graded("e1", ["70", "88", "86", "90", "99"])
    assert answer["combined_score"] == "88.00" and answer["grade"] == "excellent"
    event = history(world.app, world.app.entry_review(QC_SEASON.season_id, "e1").id)[-1]
    (stage,) = event.payload["stages"]
    assert stage["method"] == "trimmed_mean" and stage["dropped"] == ["j1", "j5"] and stage["score"] == "88.00"


def test_a_grade_with_fewer_than_five_judges_is_the_plain_mean() -> None:
    world = World(season=replace(QC_SEASON, stage_weights={}))
    answer = world.graded("e1", ["70", "88", "86", "99"])
    assert answer["combined_score"] == "85.75"
    stage = history(world.app, world.app.entry_review(QC_SEASON.season_id, "e1").id)[-1].payload["stages"][0]
    assert stage["method"] == "mean" and stage["dropped"] == []


def test_the_stages_are_weighted_as_the_season_says_rounded_half_up() -> None:
    world = World()  # 文审 0.4, 发表赛 0.6
    answer = world.graded("e1", ["80", "81", "82", "83", "84.5"], ["90", "91", "92"])
    # 文审: trimmed mean of 81, 82, 83 = 82.00; 发表赛: mean 91.00; 0.4 × 82 + 0.6 × 91 = 87.40
    assert answer["combined_score"] == "87.40" and answer["grade"] == "excellent" and answer["grade_label"] == "优秀级"


def test_means_are_rounded_half_up_never_through_floats() -> None:
    world = World(season=replace(QC_SEASON, stage_weights={}))
    assert world.graded("e1", ["85.12", "85.13"])["combined_score"] == "85.13"  # 85.125 → 85.13
    world2 = World(season=replace(QC_SEASON, stage_weights={}))
    assert world2.graded("e1", ["80.01", "80.02", "80.02"])["combined_score"] == "80.02"  # 80.01666…


def test_equal_weights_when_the_season_gives_none() -> None:
    world = World(season=replace(QC_SEASON, stage_weights={}))
    assert world.graded("e1", ["80", "80", "80"], ["91", "91", "91"])["combined_score"] == "85.50"


def test_below_every_band_no_grade() -> None:
    world = World(season=replace(QC_SEASON, stage_weights={}))
    answer = world.graded("e1", ["60", "65", "62"])
    assert answer["combined_score"] == "62.33" and answer["grade"] is None


def test_grade_scores_incomplete() -> None:
    world = World()
    world.in_review("e1")
    world.assign("e1", MATERIAL, "j1", "j2", "j3")
    world.score("e1", "j1", material("80"))
    assert refused(world, lambda: world.grade("e1")) == (409, "entry_id", "grade.scores.incomplete")
    assert "j2, j3" in world.last_message


def test_grade_scores_missing() -> None:
    world = World()
    world.in_review("e1")
    assert refused(world, lambda: world.grade("e1")) == (409, "entry_id", "grade.scores.missing")


def test_grade_stage_unscored_when_the_season_weighs_it() -> None:
    world = World()
    world.in_review("e1")
    world.assign("e1", MATERIAL, "j1")
    world.score("e1", "j1", material("80"))
    assert refused(world, lambda: world.grade("e1")) == (409, "entry_id", "grade.stage.unscored")


def test_grade_weights_zero() -> None:
    world = World(season=replace(QC_SEASON, stage_weights={"material_review": Decimal(0), "presentation": Decimal(0)}))
    world.in_review("e1")
    world.assign("e1", MATERIAL, "j1")
    world.score("e1", "j1", material("80"))
    assert refused(world, lambda: world.grade("e1")) == (409, "season_id", "grade.weights.zero")


def test_grade_bands_missing() -> None:
    world = World(season=replace(QC_SEASON, grade_bands=()))
    world.in_review("e1")
    assert refused(world, lambda: world.grade("e1")) == (409, "season_id", "grade.bands.missing")


def test_grade_already_graded() -> None:
    world = World()
    world.graded("e1", ["80"], ["80"])
    assert refused(world, lambda: world.grade("e1")) == (409, "entry_id", "grade.already_graded")


def test_grade_entry_not_in_review() -> None:
    world = World()
    world.entry("e1")
    world.recommend("e1")
    assert refused(world, lambda: world.grade("e1")) == (409, "entry_id", "grade.entry.not_in_review")


def test_only_the_assigned_judges_scores_count() -> None:
    world = World(season=replace(QC_SEASON, stage_weights={}))
    world.in_review("e1")
    world.assign("e1", MATERIAL, "j1", "j2")
    world.score("e1", "j1", material("60"))
    world.assign("e1", MATERIAL, "j2", "j3")  # j1 replaced by the secretariat
    world.score("e1", "j2", material("80"))
    world.score("e1", "j3", material("90"))
    assert world.grade("e1")["combined_score"] == "85.00"


# ---------------------------------------------------------------- approval, notice, objections


def test_approval_by_the_guiding_units() -> None:
    world = World()
    world.graded("e1", ["90"], ["95"])
    world.graded("e2", ["60"], ["60"], unit=1)  # below every band: not among the results
    answer = world.approve()
    assert answer["entry_ids"] == ["e1"] and answer["event"] == "GuidingUnitsApproved"
    assert world.app.entry_review(QC_SEASON.season_id, "e1").progress is ReviewProgress.APPROVED


def test_approval_not_graded() -> None:
    world = World()
    world.in_review("e1")
    assert refused(world, lambda: world.approve("e1")) == (409, "entry_ids.0", "approval.not_graded")


def test_approval_no_grade() -> None:
    world = World()
    world.graded("e1", ["60"], ["60"])
    assert refused(world, lambda: world.approve("e1")) == (422, "entry_ids.0", "approval.no_grade")


def test_approval_nothing_to_approve() -> None:
    world = World()
    world.in_review("e1")
    assert refused(world, lambda: world.approve()) == (409, "entry_ids", "approval.nothing_to_approve")


def test_approval_duplicate() -> None:
    world = World()
    world.graded("e1", ["90"], ["95"])
    assert refused(world, lambda: world.approve("e1", "e1")) == (422, "entry_ids.1", "approval.duplicate")


def test_approval_date_future() -> None:
    world = World()
    world.graded("e1", ["90"], ["95"])
    assert refused(world, lambda: world.approve(approved_on="2020-08-31")) == (422, "approved_on", "approval.date.future")


def test_notice_lists_the_approved_entries_until_the_notice_window_closes() -> None:
    world = World()
    world.on_notice({"e1": ["92"], "e2": ["85"]})
    results = world.app._season_results(QC_SEASON.season_id)
    assert results.on_notice == ["e1", "e2"]
    assert results.notice_closes_at == WINDOWS["notice"].closes_at


def test_season_window_notice() -> None:
    world = World()
    world.graded("e1", ["90"], ["95"])
    world.approve()
    world.clock.now = datetime(2020, 8, 31, 23, tzinfo=CST)
    assert refused(world, world.open_notice) == (409, "season_id", "season.window.notice")


def test_notice_already_opened() -> None:
    world = World()
    world.on_notice({"e1": ["92"]})
    assert refused(world, world.open_notice) == (409, "season_id", "notice.already_opened")


def test_notice_no_entries() -> None:
    world = World()
    world.graded("e1", ["90"], ["95"])
    world.clock.now = ON_NOTICE
    assert refused(world, world.open_notice) == (409, "season_id", "notice.no_entries")


def test_objection_not_on_notice() -> None:
    world = World()
    world.on_notice({"e1": ["92"]})
    world.graded("e9", ["90"], ["90"], unit=3)
    world.clock.now = ON_NOTICE
    assert refused(world, lambda: world.object("e9")) == (409, "entry_id", "objection.not_on_notice")


def test_season_window_notice_for_objections() -> None:
    world = World()
    world.on_notice({"e1": ["92"]})
    world.clock.now = datetime(2020, 9, 7, 17, 0, 1, tzinfo=CST)
    assert refused(world, lambda: world.object("e1")) == (409, "season_id", "season.window.notice")


def test_an_objection_dismissed_changes_nothing() -> None:
    world = World()
    world.on_notice({"e1": ["92"]})
    assert world.object("e1")["objection_id"] == "o1"
    answer = world.resolve("e1")
    assert answer["events"] == ["ObjectionResolved"] and answer["grade"] == "benchmark"


def test_an_upheld_objection_regrades_with_a_compensating_event() -> None:
    world = World()
    world.on_notice({"e1": ["92"]})
    world.object("e1")
    answer = world.resolve("e1", outcome="upheld", remedy="regrade", grade="excellent",
                           finding="部分效果数据未经顾客确认，降为优秀级")
    assert answer["events"] == ["ObjectionResolved", "EntryRegraded"] and answer["grade"] == "excellent"
    event = history(world.app, world.app.entry_review(QC_SEASON.season_id, "e1").id)[-1]
    assert event.payload["previous_grade"] == "benchmark" and event.payload["objection_id"] == "o1"


def test_an_upheld_objection_withdraws_the_result() -> None:
    world = World()
    world.on_notice({"e1": ["92"], "e2": ["85"]})
    world.object("e2", grounds="该成果与另一单位2019年发表成果雷同")
    answer = world.resolve("e2", outcome="upheld", remedy="withdraw", finding="经查成果存在抄袭，撤销")
    assert answer["events"] == ["ObjectionResolved", "EntryResultWithdrawn"]
    assert world.app.entry_review(QC_SEASON.season_id, "e2").progress is ReviewProgress.RESULT_WITHDRAWN


def test_objection_resolved() -> None:
    world = World()
    world.on_notice({"e1": ["92"]})
    world.object("e1")
    world.resolve("e1")
    assert refused(world, lambda: world.resolve("e1")) == (409, "objection_id", "objection.resolved")


def test_objection_remedy_required() -> None:
    world = World()
    world.on_notice({"e1": ["92"]})
    world.object("e1")
    assert refused(world, lambda: world.resolve("e1", outcome="upheld")) == (422, "remedy", "objection.remedy.required")


def test_objection_remedy_without_upheld() -> None:
    world = World()
    world.on_notice({"e1": ["92"]})
    world.object("e1")
    assert refused(world, lambda: world.resolve("e1", remedy="withdraw")) == (
        422, "remedy", "objection.remedy.without_upheld")


def test_objection_grade_unknown() -> None:
    world = World()
    world.on_notice({"e1": ["92"]})
    world.object("e1")
    assert refused(world, lambda: world.resolve("e1", outcome="upheld", remedy="regrade", grade="gold")) == (
        422, "grade", "objection.grade.unknown")


def test_objection_regrade_band_mismatch() -> None:
    world = World()
    world.on_notice({"e1": ["92"]})
    world.object("e1")
    call = lambda: world.resolve("e1", outcome="upheld", remedy="regrade", grade="excellent",  # noqa: E731
                                 combined_score="91.00")
    assert refused(world, call) == (422, "grade", "objection.regrade.band_mismatch")


def test_a_regrade_by_a_corrected_score() -> None:
    world = World()
    world.on_notice({"e1": ["92"]})
    world.object("e1")
    answer = world.resolve("e1", outcome="upheld", remedy="regrade", combined_score="78.50")
    assert answer["grade"] == "advancing"


def test_objection_regrade_unchanged() -> None:
    world = World()
    world.on_notice({"e1": ["92"]})
    world.object("e1")
    assert refused(world, lambda: world.resolve("e1", outcome="upheld", remedy="regrade", grade="benchmark")) == (
        422, "grade", "objection.regrade.unchanged")


def test_objection_regrade_below_bands() -> None:
    world = World()
    world.on_notice({"e1": ["92"]})
    world.object("e1")
    assert refused(world, lambda: world.resolve("e1", outcome="upheld", remedy="regrade", combined_score="50")) == (
        422, "combined_score", "objection.regrade.below_bands")


def test_objection_grade_without_regrade() -> None:
    world = World()
    world.on_notice({"e1": ["92"]})
    world.object("e1")
    assert refused(world, lambda: world.resolve("e1", outcome="upheld", remedy="withdraw", grade="excellent")) == (
        422, "grade", "objection.grade.without_regrade")


def test_objection_result_withdrawn() -> None:
    world = World()
    world.on_notice({"e1": ["92"]})
    world.object("e1")
    world.resolve("e1", outcome="upheld", remedy="withdraw", finding="撤销")
    assert refused(world, lambda: world.object("e1")) == (409, "entry_id", "objection.result_withdrawn")


# ---------------------------------------------------------------- publication and the national level


def test_publication_with_sequential_certificate_numbers_in_grade_order() -> None:
    world = World()
    world.on_notice({"e1": ["85"], "e2": ["93"], "e3": ["75"], "e4": ["91"]})
    world.clock.now = PUBLISHING
    answer = world.publish()
    assert [(item["entry_id"], item["certificate_no"]) for item in answer["certificates"]] == [
        ("e2", "2020-QC-0001"), ("e4", "2020-QC-0002"), ("e1", "2020-QC-0003"), ("e3", "2020-QC-0004"),
    ]
    assert refused(world, world.publish) == (409, "season_id", "publication.nothing_to_publish")


def test_publication_no_notice() -> None:
    world = World(now=PUBLISHING)
    assert refused(world, world.publish) == (409, "season_id", "publication.no_notice")


def test_publication_notice_open() -> None:
    world = World()
    world.on_notice({"e1": ["92"]})
    assert refused(world, world.publish) == (409, "season_id", "publication.notice_open")


def test_season_window_publication() -> None:
    world = World()
    world.on_notice({"e1": ["92"]})
    world.clock.now = datetime(2021, 1, 1, tzinfo=CST)
    assert refused(world, world.publish) == (409, "season_id", "season.window.publication")


def test_publication_objection_unresolved() -> None:
    world = World()
    world.on_notice({"e1": ["92"]})
    world.object("e1")
    world.clock.now = PUBLISHING
    assert refused(world, world.publish) == (409, "season_id", "publication.objection_unresolved")


def test_a_withdrawn_result_is_not_published_and_numbers_stay_sequential() -> None:
    world = World()
    world.on_notice({"e1": ["92"], "e2": ["85"], "e3": ["80"]})
    world.object("e2")
    world.resolve("e2", outcome="upheld", remedy="withdraw", finding="撤销")
    world.clock.now = PUBLISHING
    numbers = [item["certificate_no"] for item in world.publish()["certificates"]]
    assert numbers == ["2020-QC-0001", "2020-QC-0002"]


def test_objection_published() -> None:
    world = World()
    world.on_notice({"e1": ["92"]})
    world.object("e1")
    world.resolve("e1")
    world.clock.now = PUBLISHING
    world.publish()
    with pytest.raises(NotFound):
        world.resolve("e1", objection_id="o2")


# the national level: tests/unit/test_national_rules.py


# ---------------------------------------------------------------- idempotency


def test_a_retried_command_answers_its_first_result_and_stores_nothing_new() -> None:
    world = World()
    world.entry("e1")
    key = IdempotencyKey.for_request("rec-e1", "pudong-staff", "/x", {"a": 1})
    first = world.recommend("e1", idempotency=key)
    before = world.stored()
    again = world.recommend("e1", idempotency=key)
    assert again == first | {"replayed": True} and world.stored() == before


def test_idempotency_key_reused() -> None:
    world = World()
    world.entry("e1")
    world.entry("e2", unit=1)
    world.recommend("e1", idempotency=IdempotencyKey.for_request("k", "pudong-staff", "/x", {"a": 1}))
    reused = IdempotencyKey.for_request("k", "pudong-staff", "/x", {"a": 2})
    assert refused(world, lambda: world.recommend("e2", idempotency=reused)) == (
        422, "Idempotency-Key", "idempotency.key_reused")


def test_recommendation_owner_the_secretariat_revokes_only_what_it_accepted() -> None:
    world = World()
    world.entry("e1", recommender="direct")
    world.entry("e2", unit=1)
    world.accept_directly("e1")
    world.recommend("e2")
    revocation = Revocation(reason="会员资格复核未通过")
    assert world.app.revoke(Revoke(QC_SEASON, "e1", revocation), DIRECT_DESK)["event"] == "RecommendationRevoked"
    assert refused(world, lambda: world.app.revoke(Revoke(QC_SEASON, "e2", revocation), DIRECT_DESK)) == (
        403, "entry_id", "recommendation.owner")
    assert refused(world, lambda: world.app.revoke(Revoke(QC_SEASON, "e1", revocation), DIRECT_DESK)) == (
        409, "entry_id", "recommendation.revoke.not_recommended")
