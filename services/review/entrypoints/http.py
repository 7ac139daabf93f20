"""Review's HTTP API, its commands: recommendations (推荐通道, and the secretariat for the direct channel), formal
review, judges' assignments by hand, scores, grades, the guiding units' approval, the public notice with its
objections, publication with certificates, national recommendation.

Seasons, entries, recommending units and judges are read from review's read model (fed by registration.events and
submission.events) and handed to the synchronous commands as plain data; review never calls another service. Who
may call what is declared once, in `policy.py`; every route gets the caller's grant. The queries are in
`queries_http.py`, the review rounds in `rounds_http.py`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, status
from fastapi.responses import JSONResponse
from pydantic import Field

from contracts.codes import Channel, Role
from contracts.common import Payload
from contracts.published import Approval, NationalRecommendation, Objection, ObjectionDecision
from contracts.recommended import DirectAcceptance, FormalReviewDecision, RecommendationForm, Resubmission, Revocation
from contracts.scored import RoundCode, ScoreSheet
from infra.authorization import Grant
from infra.errors import Conflict, NotPermitted, RuleViolation
from infra.http import PathId, execute
from infra.http.openapi import link
from infra.http.security import Authorized
from services.review.adapters.read_model import ReviewReadModel
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
from services.review.adapters.documents import judge_from_document, recommender_from_document, season_from_document
from services.review.domain.entry_review import ReviewProgress
from services.review.domain.inbound import EntryView, JudgeView
from services.review.entrypoints.dependencies import (
    Application,
    ReadModel,
    entry_of,
    judges_of,
    season_of,
    unit_entries_of,
)

SeasonId = PathId
EntryId = PathId
ObjectionPath = Annotated[str, Path(min_length=1, max_length=40)]


class ScoreForm(ScoreSheet):
    """评分表: the stage, the judge (a judge's own token names it; the secretariat gives it), the points."""

    stage: RoundCode = Field(description="the review round, e.g. material_review (文审) or presentation (发表赛)")
    judge_id: str | None = Field(default=None, min_length=1, max_length=64)


class ScoreRevisionForm(ScoreForm):
    reason: str = Field(min_length=2, max_length=500, title="修改原因")


class AssignmentForm(Payload):
    """The secretariat's assignment by hand: the stage and its judges (replacing any earlier ones)."""

    stage: RoundCode = Field(description="the review round, e.g. material_review (文审) or presentation (发表赛)")
    judge_ids: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(min_length=1, max_length=50)


class Empty(Payload):
    """The body of a command that takes none (the Idempotency-Key fingerprints the route alone)."""


def channel_of(grant: Grant) -> Channel:
    """A recommending unit acts through 推荐通道; the secretariat for the direct channel."""
    return Channel.RECOMMENDER if grant.actor.role is Role.RECOMMENDER else Channel.DIRECT


# ---------------------------------------------------------------- recommendation (推荐通道)


async def recommend(season_id: SeasonId, entry_id: EntryId, body: RecommendationForm, request: Request,
                    grant: Authorized, application: Application, read_model: ReadModel) -> JSONResponse:
    season = await season_of(read_model, season_id)
    recommender_id = grant.actor.org
    recommender_document = await read_model.recommender(season_id, recommender_id)
    if recommender_document is None:
        raise Conflict(
            "recommender_id", "recommendation.recommender.registered",
            f"{recommender_id} is not a recommending unit of season {season_id} (registered recommending units reach "
            "review within seconds of their registration)",
        )
    entry = await entry_of(read_model, season_id, entry_id)
    judges = {judge.certificate_no: judge for judge in await judges_of(read_model, season_id)}
    recommender = recommender_from_document(recommender_document, await read_model.filed_by(season_id, recommender_id))
    command = Recommend(season, entry, recommender, await unit_entries_of(read_model, entry), judges, body)
    return await execute(request, grant.actor, Channel.RECOMMENDER, application.recommend, command, body=body)


async def accept_directly(season_id: SeasonId, entry_id: EntryId, body: DirectAcceptance, request: Request,
                          grant: Authorized, application: Application, read_model: ReadModel) -> JSONResponse:
    season = await season_of(read_model, season_id)
    entry = await entry_of(read_model, season_id, entry_id)
    direct = await read_model.direct_recommender(season_id)
    command = AcceptDirectly(season, entry, recommender_from_document(direct) if direct else None,
                             await unit_entries_of(read_model, entry), body)
    return await execute(request, grant.actor, Channel.DIRECT, application.accept_directly, command, body=body)


async def revoke(season_id: SeasonId, entry_id: EntryId, body: Revocation, request: Request, grant: Authorized,
                 application: Application, read_model: ReadModel) -> JSONResponse:
    season = await season_of(read_model, season_id)
    return await execute(request, grant.actor, channel_of(grant), application.revoke, Revoke(season, entry_id, body),
                         body=body)


# ---------------------------------------------------------------- formal review


async def formal_review(season_id: SeasonId, entry_id: EntryId, body: FormalReviewDecision, request: Request,
                        grant: Authorized, application: Application, read_model: ReadModel) -> JSONResponse:
    season = await season_of(read_model, season_id)
    entry = await entry_of(read_model, season_id, entry_id)
    return await execute(request, grant.actor, Channel.ORGANIZER, application.decide_formal_review,
                         DecideFormalReview(season, entry, body), body=body)


async def resubmit(season_id: SeasonId, entry_id: EntryId, body: Resubmission, request: Request, grant: Authorized,
                   application: Application, read_model: ReadModel) -> JSONResponse:
    season = await season_of(read_model, season_id)
    entry = await entry_of(read_model, season_id, entry_id)
    return await execute(request, grant.actor, channel_of(grant), application.resubmit, Resubmit(season, entry, body),
                         body=body)


# ---------------------------------------------------------------- judges and scores


async def assign(season_id: SeasonId, entry_id: EntryId, body: AssignmentForm, request: Request, grant: Authorized,
                 application: Application, read_model: ReadModel) -> JSONResponse:
    season = await season_of(read_model, season_id)
    entry = await entry_of(read_model, season_id, entry_id)
    judges = {judge.judge_id: judge for judge in await judges_of(read_model, season_id)}
    command = AssignJudges(season, entry, body.stage, list(body.judge_ids), judges)
    return await execute(request, grant.actor, Channel.ORGANIZER, application.assign_judges, command, body=body)


async def scoring_judge(read_model: ReviewReadModel, grant: Grant, season_id: str, body: ScoreForm) -> JudgeView:
    """A judge scores as himself or herself; the secretariat enters a judge's paper score sheet, naming the judge."""
    actor = grant.actor
    if actor.role is Role.JUDGE:
        if body.judge_id is not None and body.judge_id != actor.org:
            raise NotPermitted("judge_id", "score.judge.self",
                               f"a judge scores as himself or herself; the token is judge {actor.org}")
        judge_id = actor.org
    else:
        if body.judge_id is None:
            raise RuleViolation("judge_id", "score.judge_id.required",
                                "the secretariat entering a judge's score sheet names the judge (judge_id)")
        judge_id = body.judge_id
    document = await read_model.judge(season_id, judge_id)
    if document is None:
        raise NotPermitted("judge_id", "score.judge.registered", f"{judge_id} is not a judge of season {season_id}")
    return judge_from_document(document)


async def record_score(season_id: SeasonId, entry_id: EntryId, body: ScoreForm, request: Request, grant: Authorized,
                       application: Application, read_model: ReadModel) -> JSONResponse:
    season = await season_of(read_model, season_id)
    judge = await scoring_judge(read_model, grant, season_id, body)
    entry = await entry_of(read_model, season_id, entry_id)
    sheet = ScoreSheet(criteria=body.criteria, comment=body.comment)
    command = RecordScore(season, entry, judge, body.stage, sheet)
    return await execute(request, grant.actor, Channel.ORGANIZER, application.record_score, command, body=body)


async def revise_score(season_id: SeasonId, entry_id: EntryId, body: ScoreRevisionForm, request: Request,
                       grant: Authorized, application: Application, read_model: ReadModel) -> JSONResponse:
    season = await season_of(read_model, season_id)
    judge = await scoring_judge(read_model, grant, season_id, body)
    entry = await entry_of(read_model, season_id, entry_id)
    sheet = ScoreSheet(criteria=body.criteria, comment=body.comment)
    command = ReviseScore(season, entry, judge, body.stage, sheet, body.reason)
    return await execute(request, grant.actor, Channel.ORGANIZER, application.revise_score, command, body=body)


async def grade(season_id: SeasonId, entry_id: EntryId, request: Request, grant: Authorized,
                application: Application, read_model: ReadModel) -> JSONResponse:
    season = await season_of(read_model, season_id)
    return await execute(request, grant.actor, Channel.ORGANIZER, application.grade, Grade(season, entry_id),
                         body=Empty())


# ---------------------------------------------------------------- approval, notice, objections, publication


async def approve(season_id: SeasonId, body: Approval, request: Request, grant: Authorized,
                  application: Application, read_model: ReadModel) -> JSONResponse:
    season = await season_of(read_model, season_id)
    graded = await read_model.entry_ids(season_id, ReviewProgress.GRADED)
    return await execute(request, grant.actor, Channel.ORGANIZER, application.approve, Approve(season, body, graded),
                         body=body)


async def open_notice(season_id: SeasonId, request: Request, grant: Authorized, application: Application,
                      read_model: ReadModel) -> JSONResponse:
    season = await season_of(read_model, season_id)
    approved = await read_model.entry_ids(season_id, ReviewProgress.APPROVED)
    return await execute(request, grant.actor, Channel.ORGANIZER, application.open_notice,
                         OpenNotice(season, approved), body=Empty())


OBJECTION_CHANNELS = {Role.ORGANIZER: Channel.ORGANIZER, Role.UNIT: Channel.UNIT, Role.RECOMMENDER: Channel.RECOMMENDER}


async def file_objection(season_id: SeasonId, entry_id: EntryId, body: Objection, request: Request,
                         grant: Authorized, application: Application, read_model: ReadModel) -> JSONResponse:
    """An objection concerns an entry on public notice, so it may be another unit's: no ownership is asked."""
    season = await season_of(read_model, season_id)
    return await execute(request, grant.actor, OBJECTION_CHANNELS[grant.actor.role], application.file_objection,
                         FileObjection(season, entry_id, body), body=body)


async def resolve_objection(season_id: SeasonId, entry_id: EntryId, objection_id: ObjectionPath,
                            body: ObjectionDecision, request: Request, grant: Authorized, application: Application,
                            read_model: ReadModel) -> JSONResponse:
    season = await season_of(read_model, season_id)
    return await execute(request, grant.actor, Channel.ORGANIZER, application.resolve_objection,
                         ResolveObjection(season, entry_id, objection_id, body), body=body)


async def publish(season_id: SeasonId, request: Request, grant: Authorized, application: Application,
                  read_model: ReadModel) -> JSONResponse:
    season = await season_of(read_model, season_id)
    return await execute(request, grant.actor, Channel.ORGANIZER, application.publish, Publish(season),
                         body=Empty())


async def recommend_nationally(season_id: SeasonId, entry_id: EntryId, body: NationalRecommendation,
                               request: Request, grant: Authorized, application: Application,
                               read_model: ReadModel) -> JSONResponse:
    season = await season_of(read_model, season_id)
    entry: EntryView = await entry_of(read_model, season_id, entry_id)
    national = await read_model.season(body.national_season_id)
    command = RecommendNationally(season, entry, body, season_from_document(national) if national else None)
    return await execute(request, grant.actor, Channel.ORGANIZER, application.recommend_nationally, command,
                         body=body)


def register_routes(router: APIRouter) -> None:
    """Review's commands, each a module-level function above."""
    entry = "/seasons/{season_id}/entries/{entry_id}"
    created = status.HTTP_201_CREATED
    review_link = {created: {"links": {"review": link(
        "entry_review_seasons__season_id__entries__entry_id__get",
        season_id="$response.body#/season_id", entry_id="$response.body#/entry_id")}}}
    router.post(f"{entry}/recommendation", status_code=created, responses=review_link,
                summary="Recommend an entry with the 推荐表 (推荐通道), within the recommending unit's quota")(recommend)
    router.post(f"{entry}/direct-acceptance", status_code=created, responses=review_link,
                summary="The secretariat accepts an entry of the direct channel (其他-市质协会员与质量推进部)")(accept_directly)
    router.post(f"{entry}/revocation",
                summary="Revoke a recommendation while the recommendation window is open; its quota is freed")(revoke)
    router.post(f"{entry}/formal-review",
                summary="资料形式审查: passed (judges are then assigned) or failed with its reasons")(formal_review)
    router.post(f"{entry}/resubmission",
                summary="Send a failed entry back to formal review once its unit corrected it")(resubmit)
    router.post(f"{entry}/assignments",
                summary="The secretariat assigns an entry's judges for a stage by hand (JudgesAssigned)")(assign)
    router.post(f"{entry}/scores", status_code=created,
                summary="A judge's score by the season's rubric: one per judge per stage")(record_score)
    router.post(f"{entry}/score-revisions",
                summary="Revise a judge's score, with the reason (ScoreRevised)")(revise_score)
    router.post(f"{entry}/grade", summary="Grade an entry from its judges' scores: trimmed mean from 5 judges, "
                "weighted stages, grade band")(grade)
    router.post("/seasons/{season_id}/approval",
                summary="指导单位审定: the guiding units approve the graded entries")(approve)
    router.post("/seasons/{season_id}/notice", status_code=created,
                summary="面向社会公示: the approved entries go on public notice for the season's notice window")(open_notice)
    router.post(f"{entry}/objections",
                summary="File an objection (异议) to an entry on notice, during the notice period")(file_objection)
    router.post(f"{entry}/objections/{{objection_id}}/resolution",
                summary="Resolve an objection: dismissed, or upheld with a regrade or the result withdrawn")(resolve_objection)
    router.post("/seasons/{season_id}/publication",
                summary="发布: after the notice, the results are published with certificate numbers "
                "(e.g. 2024-QC-0001)")(publish)
    router.post(f"{entry}/national-recommendation", status_code=created,
                summary="推荐全国: send a graded entry of the organizer's choice (好中选优) to the national season as a "
                "national entry")(recommend_nationally)


def build_router() -> APIRouter:
    """Every route review answers (the shared digest, operations and health routes are added by infra)."""
    from services.review.entrypoints import queries_http, rounds_http
    from services.review.entrypoints.feed_http import build_feed_router

    router = APIRouter(tags=["review"])
    router.include_router(build_feed_router())
    router.include_router(rounds_http.build_rounds_router())
    register_routes(router)
    queries_http.register_routes(router)
    return router
