"""The national level as a flow, one test per rule: a province's recommendation becomes a national entry.

Through the platform (the province's organizer recommends a graded entry of its choice) and by the
province's feed (a `national_recommendation` record), on an in-memory event store with an injected clock.
Every refusal names its field and rule and stores nothing.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from typing import Any

from contracts import Actor
from contracts.codes import ActivityKind, QcAchievementType, Role
from contracts.registered import ProvinceQuota, SeasonOpened
from contracts.submitted import EntryStatus
from infra.feeds import content_batch_id, feed_aggregate_id, parse_batch
from qcp.demo import demo_credit_code, example_seasons, national_example_season
from services.review.adapters.read_model import _national_entry, national_entry_document
from services.review.domain.entry_review import ReviewProgress, entry_review_id
from services.review.domain.national import national_entry_id
from services.review.adapters.documents import entry_from_document, season_from_document
from services.review.domain.inbound import EntryView, SeasonView
from services.review.entrypoints.feed_http import intake_of
from tests.unit.test_registration_rules import SECRETARIAT as REGISTRATION_DESK
from tests.unit.test_registration_rules import application as registration
from tests.unit.test_registration_rules import refused as refused_by
from tests.unit.test_registration_rules import season_body
from tests.unit.test_review_rules import (
    CST,
    MATERIAL,
    NATIONAL_SEASON,
    ON_NOTICE,
    QC_SEASON,
    UNIT_NAMES,
    World,
    history,
    material,
    refused,
)

NATIONAL = NATIONAL_SEASON.season_id
NATIONAL_REVIEW = datetime(2020, 9, 20, 9, tzinfo=CST)


def national_id(entry_id: str, season: SeasonView = QC_SEASON) -> str:
    return national_entry_id(NATIONAL, season.season_id, entry_id)


def received(world: World, entry_id: str) -> Any:
    """The national entry's NationalEntryReceived envelope."""
    events = history(world.app, entry_review_id(NATIONAL, national_id(entry_id)))
    assert [item.type for item in events] == ["NationalEntryReceived"]
    return events[0]


# ---------------------------------------------------------------- through the platform


def test_the_organizer_recommends_graded_entries_of_any_band_before_publication() -> None:
    """好中选优: the organizer's choice among graded entries, not only the top band; results need not be published."""
    world = World()
    world.on_notice({"e1": ["92"], "e2": ["85"]})
    for entry_id in ("e1", "e2"):
        answer = world.recommend_nationally(entry_id)
        assert (answer["event"], answer["national_entry_id"]) == ("NationalRecommendationMade", national_id(entry_id))
    arrival = received(world, "e2")
    assert arrival.season_id == NATIONAL and arrival.organizer == "CAQ"
    assert arrival.payload.items() >= {
        "entry_id": national_id("e2"), "province": "310000", "provincial_season_id": QC_SEASON.season_id,
        "provincial_entry_id": "e2", "via": "platform", "provincial_grade": "excellent", "credit_code": demo_credit_code(1),
    }.items()
    assert (arrival.source.province, arrival.source.external_id) == ("310000", "e2"), "provenance on the envelope"
    made = [item for item in history(world.app, entry_review_id(QC_SEASON.season_id, "e2"))
            if item.type == "NationalRecommendationMade"]
    assert made[0].payload["national_entry_id"] == national_id("e2")
    assert world.app.entry_review(NATIONAL, national_id("e2")).progress is ReviewProgress.RECOMMENDED


def test_national_duplicate() -> None:
    world = World()
    world.on_notice({"e1": ["92"]})
    world.recommend_nationally("e1")
    assert refused(world, lambda: world.recommend_nationally("e1")) == (409, "entry_id", "national.duplicate")


def test_national_not_graded() -> None:
    world = World()
    world.in_review("e1")
    assert refused(world, lambda: world.recommend_nationally("e1")) == (409, "entry_id", "national.not_graded")
    world.graded("e2", ["60", "60", "60"], ["60", "60", "60"], unit=1)
    assert refused(world, lambda: world.recommend_nationally("e2")) == (409, "entry_id", "national.not_graded")
    assert "below every grade band" in world.last_message  # type: ignore[attr-defined]


def test_national_not_graded_after_a_withdrawn_result() -> None:
    world = World()
    world.on_notice({"e1": ["92"]})
    world.object("e1")
    world.resolve("e1", outcome="upheld", remedy="withdraw", finding="撤销")
    assert refused(world, lambda: world.recommend_nationally("e1")) == (409, "entry_id", "national.not_graded")


def test_national_season() -> None:
    world = World()
    world.on_notice({"e1": ["92"]})
    assert refused(world, lambda: world.recommend_nationally("e1", "CAQ-2020-team")) == (
        422, "national_season_id", "national.season")
    assert refused(world, lambda: world.recommend_nationally("e1", "CAQ-2021-qc_group")) == (
        422, "national_season_id", "national.season")


def test_national_season_unknown() -> None:
    world = World()
    world.on_notice({"e1": ["92"]})
    assert refused(world, lambda: world.recommend_nationally("e1", national_season=None)) == (
        409, "national_season_id", "national.season.unknown")


def test_season_window_recommendation_of_the_national_season() -> None:
    """CAQ's deadline for the provinces: one second late is refused, naming the window."""
    world = World()
    world.on_notice({"e1": ["92"]})
    world.clock.now = datetime(2020, 9, 15, 22, 0, 1, tzinfo=CST)
    assert refused(world, lambda: world.recommend_nationally("e1")) == (
        409, "national_season_id", "season.window.recommendation")
    assert "2020-09-15 22:00" in world.last_message  # type: ignore[attr-defined]
    assert NATIONAL in world.last_message  # type: ignore[attr-defined]
    world.clock.now = datetime(2020, 9, 15, 22, 0, tzinfo=CST)
    assert world.recommend_nationally("e1")["event"] == "NationalRecommendationMade", "the closing instant is in"


def test_national_quota_per_province() -> None:
    world = World()
    world.on_notice({"e1": ["92"], "e2": ["88"], "e3": ["86"]})
    national = replace(NATIONAL_SEASON, province_quota=ProvinceQuota(per_province=1, provinces={"310000": 2}))
    world.recommend_nationally("e1", national_season=national)
    world.recommend_nationally("e2", national_season=national)
    assert refused(world, lambda: world.recommend_nationally("e3", national_season=national)) == (
        409, "national_season_id", "national.quota.per_province")
    assert "全国推荐名额 2" in world.last_message  # type: ignore[attr-defined]
    assert world.app._find_review(NATIONAL, national_id("e3")) is None  # noqa: SLF001


def test_a_national_entry_is_reviewed_scored_and_graded_like_any_other() -> None:
    world = World()
    world.on_notice({"e1": ["92"]})
    world.recommend_nationally("e1")
    arrival = received(world, "e1")
    # review's projection keeps the national entry beside its review; its rules read it as an entry
    document = national_entry_document(
        {"season_id": NATIONAL, "entry_id": national_id("e1")} | _national_entry(arrival, arrival.payload))
    entry = entry_from_document(document)
    assert (entry.recommender_id, entry.status, entry.kind) == ("310000", EntryStatus.CONFIRMED, ActivityKind.QC_GROUP)
    nation = World(season=NATIONAL_SEASON)
    nation.app, nation.clock = world.app, world.clock
    nation.entries[entry.entry_id] = entry
    nation.clock.now = NATIONAL_REVIEW
    nation.formal_review(entry.entry_id)
    nation.assign(entry.entry_id, MATERIAL, "j1", "j2", "j3")
    for judge_id in ("j1", "j2", "j3"):
        nation.score(entry.entry_id, judge_id, material("90"))
    graded = nation.grade(entry.entry_id)
    assert graded["event"] == "EntryGraded"
    review = world.app.entry_review(NATIONAL, entry.entry_id)
    assert (review.grade, review.provenance["provincial_entry_id"]) == ("national_excellent", "e1")


# ---------------------------------------------------------------- by the province's feed (Tibet)

TIBET = replace(QC_SEASON, season_id="540000-2020-qc_group", organizer="540000")
FEED = Actor(id="feed-540000", role=Role.FEED, org="540000")


def fed_entry(external_id: str, unit: int) -> EntryView:
    return EntryView(
        season_id=TIBET.season_id, entry_id=str(feed_aggregate_id("entry", "540000", external_id)),
        credit_code=demo_credit_code(unit), unit_name=UNIT_NAMES[unit], name=f"{external_id}小组",
        kind=ActivityKind.QC_GROUP, version=1, qc_type=QcAchievementType.PROBLEM_SOLVING,
    )


ENTRIES = {item.entry_id: item for item in (fed_entry("XZ-E1", 0), fed_entry("XZ-E2", 1), fed_entry("XZ-E3", 2))}


def line(record_type: str, external_id: str, data: dict[str, Any], at: str = "2020-08-19T10:00:00+08:00") -> str:
    return json.dumps({"record_type": record_type, "province": "540000", "external_id": external_id, "version": 1,
                       "season": TIBET.season_id, "occurred_at": at, "data": data}, ensure_ascii=False)


def provincial(external_id: str, entry: str) -> str:
    return line("recommendation", external_id, {"entry": entry, "recommender_name": "西藏自治区质量协会秘书处", "rank": 1,
                                                 "opinion": "同意推荐参加全国优秀质量管理小组评选。",
                                                 "recommended_on": "2020-08-18"})


def national(external_id: str, entry: str, at: str = "2020-08-19T10:00:00+08:00") -> str:
    return line("national_recommendation", external_id,
                {"entry": entry, "national_season_id": NATIONAL, "recommended_on": "2020-08-19", "note": "藏质协推荐"}, at)


def post(world: World, national_season: SeasonView, *lines: str, batch_id: str = "b1") -> dict[str, Any]:
    text = "\n".join(lines).encode()
    intake = intake_of(world.app, {TIBET.season_id: TIBET, NATIONAL: national_season}, ENTRIES)
    return intake.receive(parse_batch(text), province="540000", batch_id=batch_id,
                          content_sha256=content_batch_id(text), actor=FEED, trace_id="t")


def quarantined_rules(world: World) -> list[str]:
    notifications = world.app.recorder.select_notifications(start=1, limit=1000)
    events = [world.app.mapper.to_domain_event(item) for item in notifications]
    return [reason["rule"] for item in events if type(item).__name__ == "FeedRecordQuarantined"
            for reason in item.payload["reasons"]]


def test_a_provinces_feed_sends_its_recommendations_to_the_national_season() -> None:
    world = World(now=ON_NOTICE)
    quota = replace(NATIONAL_SEASON, province_quota=ProvinceQuota(per_province=2))
    report = post(world, quota, provincial("XZ-R1", "XZ-E1"), national("XZ-N1", "XZ-E1"),
                  provincial("XZ-R3", "XZ-E3"), national("XZ-N3", "XZ-E3"))
    assert report["by_type"]["national_recommendation"]["accepted"] == 2
    entry_id = ENTRIES[str(feed_aggregate_id("entry", "540000", "XZ-E1"))].entry_id
    [arrival] = history(world.app, entry_review_id(NATIONAL, national_id(entry_id, TIBET)))
    assert arrival.type == "NationalEntryReceived" and arrival.payload["via"] == "feed"
    assert (arrival.source.system, arrival.source.province, arrival.source.external_id, arrival.source.batch_id) == (
        "feed", "540000", "XZ-N1", "b1")
    assert arrival.payload["provincial_entry_id"] == entry_id and arrival.payload["province"] == "540000"
    again = post(world, quota, national("XZ-N1", "XZ-E1"), batch_id="b2")
    assert again["total"]["duplicates"] == 1, "a record taken once is a duplicate when sent again"


def test_feed_national_not_recommended() -> None:
    world = World(now=ON_NOTICE)
    report = post(world, NATIONAL_SEASON, national("XZ-N2", "XZ-E2"))
    assert report["total"]["quarantined"] == 1
    assert quarantined_rules(world) == ["feed.national.not_recommended"]


def test_feed_national_quota_per_province() -> None:
    world = World(now=ON_NOTICE)
    quota = replace(NATIONAL_SEASON, province_quota=ProvinceQuota(per_province=1))
    report = post(world, quota, provincial("XZ-R1", "XZ-E1"), provincial("XZ-R2", "XZ-E2"),
                  national("XZ-N1", "XZ-E1"), national("XZ-N2", "XZ-E2"))
    assert report["by_type"]["national_recommendation"].items() >= {"accepted": 1, "quarantined": 1}.items()
    assert quarantined_rules(world) == ["national.quota.per_province"]
    second = ENTRIES[str(feed_aggregate_id("entry", "540000", "XZ-E2"))].entry_id
    assert world.app._find_review(NATIONAL, national_id(second, TIBET)) is None  # noqa: SLF001


def test_feed_season_window_recommendation_of_the_national_season() -> None:
    """A record the province made after the national deadline is refused, naming the window."""
    world = World(now=NATIONAL_REVIEW)
    report = post(world, NATIONAL_SEASON, provincial("XZ-R1", "XZ-E1"),
                  national("XZ-N1", "XZ-E1", at="2020-09-15T22:00:01+08:00"))
    assert report["by_type"]["national_recommendation"]["quarantined"] == 1
    assert quarantined_rules(world) == ["season.window.recommendation"]


# ---------------------------------------------------------------- the national season's settings (registration)


def test_season_province_quota_national_only() -> None:
    app = registration()
    quota = {"per_province": 2, "provinces": {"310000": 3}}
    violation = refused_by(app, lambda: app.open_season(
        SeasonOpened(season_id="310000-2026-qc_group", **season_body(province_quota=quota)), REGISTRATION_DESK))
    assert (violation.field, violation.rule) == ("province_quota", "season.province_quota.national_only")
    caq = Actor(id="caq-staff", role=Role.ORGANIZER, org="CAQ")
    national = SeasonOpened(season_id="CAQ-2026-qc_group",
                            **season_body(province_quota=quota, organizer="CAQ", organizer_name="中国质量协会"))
    assert app.open_season(national, replace(REGISTRATION_DESK, actor=caq))["event"] == "SeasonOpened"
    assert national.province_quota is not None and national.province_quota.of("540000") == 2
    assert national.province_quota.of("310000") == 3
    assert SeasonOpened(season_id="CAQ-2026-team", **season_body("team", organizer="CAQ",
                                                                  organizer_name="中国质量协会")).province_quota is None


def test_tibets_units_recommend_by_its_own_deadline_and_tibet_sends_to_the_nation_by_caqs() -> None:
    """藏质协字（2024）10号: Tibet collects from its units by 08-20; CAQ takes the provinces' by 08-31 (example seasons)."""
    examples = {f"{item['organizer']}-{item['year']}-{item['kind']}": item
                for item in [*example_seasons(), national_example_season()]}
    tibet = season_from_document(examples["540000-2026-qc_group"] | {"season_id": "540000-2026-qc_group"})
    caq = season_from_document(examples["CAQ-2026-qc_group"] | {"season_id": "CAQ-2026-qc_group"})
    world = World(season=tibet, now=datetime(2026, 8, 20, 22, 0, 1, tzinfo=CST))
    world.entry("t1")
    assert refused(world, lambda: world.recommend("t1")) == (409, "season_id", "season.window.recommendation")
    assert "2026-08-20 22:00" in world.last_message  # type: ignore[attr-defined]
    assert caq.windows["recommendation"].contains(datetime(2026, 8, 31, 23, 59, 59, tzinfo=CST))
    assert not caq.windows["recommendation"].contains(datetime(2026, 9, 1, tzinfo=CST))
    assert caq.province_quota is not None and (caq.province_quota.of("540000"), caq.province_quota.of("310000")) == (2, 3)
