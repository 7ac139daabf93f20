"""Review's rules of the source documents added late: 取消推荐资格 (the compensating withdrawals), the filings
a season may ask for before recommending (基础性条件), and who may use the direct channel. One test per rule;
every refusal stores nothing."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from uuid import uuid4

from contracts import Actor, Envelope, Source
from contracts.codes import Channel, Role
from contracts.recommended import DirectAcceptance, DirectEligibility
from contracts.registered import RecommenderCancelled
from services.review.application.commands import AcceptDirectly
from services.review.cancellation import CancellationProcess, withdraw_recommendations
from services.review.domain.entry_review import ReviewProgress
from services.review.domain.quota import slate_id
from tests.unit.test_review_rules import (
    DIRECT_DESK,
    QC_SEASON,
    World,
    history,
    refused,
)

SEASON_ID = QC_SEASON.season_id
REASON = "向参与活动的企业收取推荐费用（违反推荐要求4）"
SYSTEM = CancellationProcess._context  # noqa: SLF001 - the context the process acts in


def cancellation(recommender_id: str = "pudong") -> tuple[RecommenderCancelled, Envelope]:
    payload = RecommenderCancelled(season_id=SEASON_ID, recommender_id=recommender_id, reason=REASON)
    envelope = Envelope(
        event_id=uuid4(), type="RecommenderCancelled", schema_version=1, aggregate_id=uuid4(), aggregate_version=2,
        season_id=SEASON_ID, organizer="310000", occurred_at=datetime.now(UTC), recorded_at=datetime.now(UTC),
        actor=Actor(id="staff-1", role=Role.ORGANIZER, org="310000"), channel=Channel.ORGANIZER, source=Source(),
        trace_id="trace-cancel", payload=payload.model_dump(mode="json"),
    )
    return payload, envelope


def cancel(world: World, recommender_id: str = "pudong") -> list[str]:
    payload, envelope = cancellation(recommender_id)
    return withdraw_recommendations(world.app, payload, envelope, SYSTEM(envelope))


def recommended_world() -> World:
    """pudong recommended e1 (then passed formal review) and e2; xuhui recommended e3."""
    world = World()
    world.entry("e1")
    world.entry("e2", qc_type="innovation")
    world.entry("e3", unit=3, recommender="xuhui")
    world.recommend("e1")
    world.recommend("e2")
    world.recommend("e3", "xuhui")
    world.formal_review("e1")
    return world


# ---------------------------------------------------------------- 取消推荐资格


def test_a_cancellation_withdraws_each_recommendation_of_the_unit_with_the_reason() -> None:
    world = recommended_world()
    assert cancel(world) == ["e1", "e2"]
    for entry_id, before in (("e1", "in_review"), ("e2", "recommended")):
        review = world.app.entry_review(SEASON_ID, entry_id)
        assert review.progress is ReviewProgress.WITHDRAWN
        event = history(world.app, review.id)[-1]
        assert event.type == "RecommendationWithdrawn" and event.actor.role is Role.SYSTEM
        assert event.payload["reason"] == REASON and event.payload["previous_progress"] == before
        assert event.payload["rule"] == "recommendation.recommender.cancelled" and event.trace_id == "trace-cancel"
    assert world.app.entry_review(SEASON_ID, "e3").progress is ReviewProgress.RECOMMENDED, "xuhui's stays"


def test_a_cancellation_frees_the_quota_and_closes_the_slate() -> None:
    world = recommended_world()
    cancel(world)
    slate = world.app.repository.get(slate_id(SEASON_ID, "pudong"))
    assert slate.active == {} and slate.closed == REASON


def test_a_cancellation_handled_again_records_nothing() -> None:
    world = recommended_world()
    cancel(world)
    stored = world.stored()
    assert cancel(world) == [] and world.stored() == stored


def test_a_cancellation_of_a_unit_that_recommended_nothing_closes_its_slate() -> None:
    world = World()
    assert cancel(world, "xuhui") == []
    world.entry("e3", unit=3, recommender="xuhui")
    assert refused(world, lambda: world.recommend("e3", "xuhui")) == (
        409, "recommender_id", "recommendation.recommender.cancelled")


def test_recommendation_recommender_cancelled_as_the_projection_knows_it() -> None:
    world = World()
    world.recommenders["pudong"] = replace(world.recommenders["pudong"], cancellation_reason=REASON)
    world.entry("e1")
    assert refused(world, lambda: world.recommend("e1")) == (409, "recommender_id", "recommendation.recommender.cancelled")
    assert REASON in world.last_message  # type: ignore[attr-defined]


def test_recommendation_recommender_cancelled_before_the_projection_knows_it() -> None:
    world = recommended_world()
    cancel(world)
    world.entry("e4", unit=1)
    assert refused(world, lambda: world.recommend("e4")) == (409, "recommender_id", "recommendation.recommender.cancelled")


# ---------------------------------------------------------------- 基础性条件: 统计表 and 工作总结


def test_recommendation_preconditions_filings_names_what_is_missing() -> None:
    world = World(season=replace(QC_SEASON, filings_before_recommending=True))
    world.entry("e1")
    assert refused(world, lambda: world.recommend("e1")) == (409, "recommender_id", "recommendation.preconditions.filings")
    assert "统计表 and 工作总结" in world.last_message  # type: ignore[attr-defined]
    world.recommenders["pudong"] = replace(world.recommenders["pudong"], filed=frozenset({"statistics"}))
    refused(world, lambda: world.recommend("e1"))
    assert "工作总结" in world.last_message and "统计表" not in world.last_message  # type: ignore[attr-defined]


def test_recommendation_preconditions_filings_met_once_both_are_filed() -> None:
    world = World(season=replace(QC_SEASON, filings_before_recommending=True))
    world.recommenders["pudong"] = replace(world.recommenders["pudong"], filed=frozenset({"statistics", "work_summary"}))
    world.entry("e1")
    assert world.recommend("e1")["event"] == "EntryRecommended"


def test_recommendation_preconditions_filings_not_asked_by_default() -> None:
    world = World()
    world.entry("e1")
    assert world.recommend("e1")["event"] == "EntryRecommended"


# ---------------------------------------------------------------- direct channel eligibility


def accept(world: World, entry_id: str, eligibility: DirectEligibility | None = None) -> dict:
    entry = world.entries[entry_id]
    acceptance = DirectAcceptance(opinion="市质协会员单位，经秘书处确认直接申报", eligibility=eligibility)
    return world.app.accept_directly(AcceptDirectly(world.season, entry, world.recommenders["direct"],
                                                    world.unit_entries(entry), acceptance), DIRECT_DESK)


def accepted_basis(world: World, entry_id: str) -> str:
    return history(world.app, world.app.entry_review(SEASON_ID, entry_id).id)[-1].payload["eligibility"]


def test_the_direct_channel_takes_foreign_invested_and_specialized_private_member_units() -> None:
    world = World()
    world.entry("e1", recommender="direct", unit_nature="joint_venture")
    world.entry("e2", unit=1, recommender=None, unit_nature="private", unit_key_domain="specialized_sme")
    accept(world, "e1")
    accept(world, "e2")
    assert accepted_basis(world, "e1") == "foreign_invested" and accepted_basis(world, "e2") == "specialized_private"


def test_the_direct_channel_takes_a_high_tech_private_unit_on_the_secretariats_word() -> None:
    world = World()
    world.entry("e1", recommender="direct", unit_nature="private", unit_key_domain="manufacturing")
    assert refused(world, lambda: accept(world, "e1")) == (409, "entry_id", "recommendation.direct.eligibility")
    accept(world, "e1", DirectEligibility.HIGH_TECH_PRIVATE)
    assert accepted_basis(world, "e1") == "high_tech_private"


def test_recommendation_direct_eligibility() -> None:
    world = World()
    world.entry("e1", recommender="direct", unit_nature="state_owned", unit_key_domain="manufacturing")
    assert refused(world, lambda: accept(world, "e1")) == (409, "entry_id", "recommendation.direct.eligibility")
    assert "国有" in world.last_message  # type: ignore[attr-defined]
    claimed = refused(world, lambda: accept(world, "e1", DirectEligibility.HIGH_TECH_PRIVATE))
    assert claimed == (409, "eligibility", "recommendation.direct.eligibility")


def test_recommendation_direct_member() -> None:
    world = World()
    world.entry("e1", recommender="direct", unit_member=False)
    assert refused(world, lambda: accept(world, "e1")) == (409, "entry_id", "recommendation.direct.member")
