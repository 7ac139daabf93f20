"""Review's HTTP API: recommendations (推荐通道, and the secretariat for the direct channel), formal review,
judges' assignments by hand, scores, grades, the guiding units' approval, the public notice with its
objections, publication with certificates, national recommendation; and queries of review's own
projection.

Seasons, entries, recommending units and judges are read from review's read model (fed by
registration.events and submission.events) and handed to the synchronous commands as plain data;
review never calls another service.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import Field

from contracts import Actor
from contracts.codes import Channel, Role
from contracts.common import Payload
from contracts.published import Approval, NationalRecommendation, Objection, ObjectionDecision
from contracts.recommended import DirectAcceptance, FormalReviewDecision, RecommendationForm, Resubmission, Revocation
from contracts.scored import RoundCode, ScoreSheet
from infra.auth import AuthenticatedActor, require_org, require_role
from infra.errors import Conflict, NotFound, NotPermitted, RuleViolation
from infra.http import FULL_VIEW, Limit, PathId, Skip, execute, found
from services.review.adapters.read_model import ReviewReadModel
from services.review.entrypoints.feed_http import build_feed_router
from services.review.application import ReviewApplication
from services.review.domain.entry_review import ReviewProgress
from services.review.domain.views import EntryView, JudgeView, RecommenderView, SeasonView

SeasonId = PathId
EntryId = PathId
RecommenderPath = PathId
JudgePath = PathId
ObjectionPath = Annotated[str, Path(min_length=1, max_length=40)]
PERSONAL_KEYS = {"mobile", "email", "phone", "contact"}
ACTIVE = {ReviewProgress.RECOMMENDED.value, ReviewProgress.FORMAL_REVIEW_FAILED.value, ReviewProgress.RESUBMITTED.value,
          ReviewProgress.IN_REVIEW.value, ReviewProgress.GRADED.value, ReviewProgress.APPROVED.value,
          ReviewProgress.PUBLISHED.value, ReviewProgress.RESULT_WITHDRAWN.value}


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


def build_router() -> APIRouter:
    from services.review.entrypoints.rounds_http import build_rounds_router  # it uses this module's helpers

    router = APIRouter(tags=["review"])
    router.include_router(build_feed_router())
    router.include_router(build_rounds_router())

    # ------------------------------------------------------------ what review knows of a season

    @router.get("/seasons/{season_id}", summary="A season as review knows it, with its registered units count")
    async def get_season(season_id: SeasonId, request: Request, actor: AuthenticatedActor) -> dict[str, Any]:  # noqa: ARG001
        return found(await _read_model(request).season(season_id), f"season {season_id}")

    @router.get("/seasons/{season_id}/judges", summary="The season's judges as review knows them (no contacts)")
    async def judges(season_id: SeasonId, request: Request, actor: AuthenticatedActor) -> dict[str, Any]:
        require_role(actor, Role.ORGANIZER, Role.NATIONAL, Role.AUDITOR)
        await _organizer_reads(request, actor, season_id)
        keep = ("judge_id", "name", "work_unit", "work_unit_credit_code", "certificate_no", "recommender_id")
        items = [{key: item.get(key) for key in keep} for item in await _read_model(request).judges_of(season_id)]
        return {"total": len(items), "items": items}

    @router.get(
        "/seasons/{season_id}/entries/{entry_id}/submission",
        summary="An entry as review knows it from submission's events: unit, recommending unit, type, status, version",
    )
    async def submitted_entry(
        season_id: SeasonId, entry_id: EntryId, request: Request, actor: AuthenticatedActor
    ) -> dict[str, Any]:
        scope = await _read_scope(request, actor, season_id)
        entry = await _read_model(request).entry(season_id, entry_id)
        if entry is None or any(entry.get(key) != value for key, value in scope.items()):
            raise NotFound(f"entry {entry_id} of season {season_id}")
        return entry

    # ------------------------------------------------------------ recommendation (推荐通道)

    @router.post(
        "/seasons/{season_id}/entries/{entry_id}/recommendation",
        status_code=status.HTTP_201_CREATED,
        summary="Recommend an entry with the 推荐表 (推荐通道), within the recommending unit's quota",
    )
    async def recommend(
        season_id: SeasonId, entry_id: EntryId, body: RecommendationForm, request: Request, actor: AuthenticatedActor
    ) -> JSONResponse:
        require_role(actor, Role.RECOMMENDER)
        season = await _season(request, season_id)
        read_model = _read_model(request)
        recommender_document = await read_model.recommender(season_id, actor.org)
        if recommender_document is None:
            raise Conflict(
                "recommender_id", "recommendation.recommender.registered",
                f"{actor.org} is not a recommending unit of season {season_id} (registered recommending units reach "
                "review within seconds of their registration)",
            )
        entry = await _entry(request, season_id, entry_id)
        judges = {judge.certificate_no: judge for judge in await _judges(request, season_id)}
        return await execute(
            request, actor, Channel.RECOMMENDER, _application(request).recommend, season, entry,
            RecommenderView.from_document(recommender_document, await read_model.filed_by(season_id, actor.org)),
            await _unit_entries(request, entry), judges, body,
            body=body,
        )

    @router.post(
        "/seasons/{season_id}/entries/{entry_id}/direct-acceptance",
        status_code=status.HTTP_201_CREATED,
        summary="The secretariat accepts an entry of the direct channel (其他-市质协会员与质量推进部)",
    )
    async def accept_directly(
        season_id: SeasonId, entry_id: EntryId, body: DirectAcceptance, request: Request, actor: AuthenticatedActor
    ) -> JSONResponse:
        season = await _organizer_scope(request, actor, season_id)
        entry = await _entry(request, season_id, entry_id)
        direct = await _read_model(request).direct_recommender(season_id)
        return await execute(
            request, actor, Channel.DIRECT, _application(request).accept_directly, season, entry,
            RecommenderView.from_document(direct) if direct else None, await _unit_entries(request, entry), body,
            body=body,
        )

    @router.post(
        "/seasons/{season_id}/entries/{entry_id}/revocation",
        summary="Revoke a recommendation while the recommendation window is open; its quota is freed",
    )
    async def revoke(
        season_id: SeasonId, entry_id: EntryId, body: Revocation, request: Request, actor: AuthenticatedActor
    ) -> JSONResponse:
        season, channel = await _recommending_scope(request, actor, season_id)
        return await execute(request, actor, channel, _application(request).revoke, season, entry_id, body, body=body)

    # ------------------------------------------------------------ formal review

    @router.post(
        "/seasons/{season_id}/entries/{entry_id}/formal-review",
        summary="资料形式审查: passed (judges are then assigned) or failed with its reasons",
    )
    async def formal_review(
        season_id: SeasonId, entry_id: EntryId, body: FormalReviewDecision, request: Request, actor: AuthenticatedActor
    ) -> JSONResponse:
        season = await _organizer_scope(request, actor, season_id)
        entry = await _entry(request, season_id, entry_id)
        return await execute(request, actor, Channel.ORGANIZER, _application(request).decide_formal_review, season,
                             entry, body, body=body)

    @router.post(
        "/seasons/{season_id}/entries/{entry_id}/resubmission",
        summary="Send a failed entry back to formal review once its unit corrected it",
    )
    async def resubmit(
        season_id: SeasonId, entry_id: EntryId, body: Resubmission, request: Request, actor: AuthenticatedActor
    ) -> JSONResponse:
        season, channel = await _recommending_scope(request, actor, season_id)
        entry = await _entry(request, season_id, entry_id)
        return await execute(request, actor, channel, _application(request).resubmit, season, entry, body, body=body)

    # ------------------------------------------------------------ judges and scores

    @router.post(
        "/seasons/{season_id}/entries/{entry_id}/assignments",
        summary="The secretariat assigns an entry's judges for a stage by hand (JudgesAssigned)",
    )
    async def assign(
        season_id: SeasonId, entry_id: EntryId, body: AssignmentForm, request: Request, actor: AuthenticatedActor
    ) -> JSONResponse:
        season = await _organizer_scope(request, actor, season_id)
        entry = await _entry(request, season_id, entry_id)
        judges = {judge.judge_id: judge for judge in await _judges(request, season_id)}
        return await execute(request, actor, Channel.ORGANIZER, _application(request).assign_judges, season, entry,
                             body.stage, list(body.judge_ids), judges, body=body)

    @router.post(
        "/seasons/{season_id}/entries/{entry_id}/scores",
        status_code=status.HTTP_201_CREATED,
        summary="A judge's score by the season's rubric: one per judge per stage",
    )
    async def record_score(
        season_id: SeasonId, entry_id: EntryId, body: ScoreForm, request: Request, actor: AuthenticatedActor
    ) -> JSONResponse:
        season, entry, judge = await _scoring_scope(request, actor, season_id, entry_id, body)
        sheet = ScoreSheet(criteria=body.criteria, comment=body.comment)
        return await execute(request, actor, Channel.ORGANIZER, _application(request).record_score, season, entry,
                             judge, body.stage, sheet, body=body)

    @router.post(
        "/seasons/{season_id}/entries/{entry_id}/score-revisions",
        summary="Revise a judge's score, with the reason (ScoreRevised)",
    )
    async def revise_score(
        season_id: SeasonId, entry_id: EntryId, body: ScoreRevisionForm, request: Request, actor: AuthenticatedActor
    ) -> JSONResponse:
        season, entry, judge = await _scoring_scope(request, actor, season_id, entry_id, body)
        sheet = ScoreSheet(criteria=body.criteria, comment=body.comment)
        return await execute(request, actor, Channel.ORGANIZER, _application(request).revise_score, season, entry,
                             judge, body.stage, sheet, body.reason, body=body)

    @router.post(
        "/seasons/{season_id}/entries/{entry_id}/grade",
        summary="Grade an entry from its judges' scores: trimmed mean from 5 judges, weighted stages, grade band",
    )
    async def grade(season_id: SeasonId, entry_id: EntryId, request: Request, actor: AuthenticatedActor) -> JSONResponse:
        season = await _organizer_scope(request, actor, season_id)
        return await execute(request, actor, Channel.ORGANIZER, _application(request).grade, season, entry_id,
                             body=_Empty())

    # ------------------------------------------------------------ approval, notice, objections, publication

    @router.post("/seasons/{season_id}/approval", summary="指导单位审定: the guiding units approve the graded entries")
    async def approve(season_id: SeasonId, body: Approval, request: Request, actor: AuthenticatedActor) -> JSONResponse:
        season = await _organizer_scope(request, actor, season_id)
        graded = await _read_model(request).entry_ids(season_id, ReviewProgress.GRADED)
        return await execute(request, actor, Channel.ORGANIZER, _application(request).approve, season, body, graded,
                             body=body)

    @router.post(
        "/seasons/{season_id}/notice", status_code=status.HTTP_201_CREATED,
        summary="面向社会公示: the approved entries go on public notice for the season's notice window",
    )
    async def open_notice(season_id: SeasonId, request: Request, actor: AuthenticatedActor) -> JSONResponse:
        season = await _organizer_scope(request, actor, season_id)
        approved = await _read_model(request).entry_ids(season_id, ReviewProgress.APPROVED)
        return await execute(request, actor, Channel.ORGANIZER, _application(request).open_notice, season, approved,
                             body=_Empty())

    @router.post(
        "/seasons/{season_id}/entries/{entry_id}/objections", status_code=status.HTTP_201_CREATED,
        summary="File an objection (异议) to an entry on notice, during the notice period",
    )
    async def file_objection(
        season_id: SeasonId, entry_id: EntryId, body: Objection, request: Request, actor: AuthenticatedActor
    ) -> JSONResponse:
        require_role(actor, Role.ORGANIZER, Role.UNIT, Role.RECOMMENDER)
        season = await _season(request, season_id)
        channel = {Role.ORGANIZER: Channel.ORGANIZER, Role.UNIT: Channel.UNIT, Role.RECOMMENDER: Channel.RECOMMENDER}
        if actor.role is Role.ORGANIZER:
            require_org(actor, season.organizer, f"season {season_id}")
        return await execute(request, actor, channel[actor.role], _application(request).file_objection, season,
                             entry_id, body, body=body)

    @router.post(
        "/seasons/{season_id}/entries/{entry_id}/objections/{objection_id}/resolution",
        summary="Resolve an objection: dismissed, or upheld with a regrade or the result withdrawn",
    )
    async def resolve_objection(
        season_id: SeasonId, entry_id: EntryId, objection_id: ObjectionPath, body: ObjectionDecision, request: Request,
        actor: AuthenticatedActor,
    ) -> JSONResponse:
        season = await _organizer_scope(request, actor, season_id)
        return await execute(request, actor, Channel.ORGANIZER, _application(request).resolve_objection, season,
                             entry_id, objection_id, body, body=body)

    @router.post(
        "/seasons/{season_id}/publication",
        summary="发布: after the notice, the results are published with certificate numbers (e.g. 2024-QC-0001)",
    )
    async def publish(season_id: SeasonId, request: Request, actor: AuthenticatedActor) -> JSONResponse:
        season = await _organizer_scope(request, actor, season_id)
        return await execute(request, actor, Channel.ORGANIZER, _application(request).publish, season, body=_Empty())

    @router.post(
        "/seasons/{season_id}/entries/{entry_id}/national-recommendation",
        summary="推荐全国: send a graded entry of the organizer's choice (好中选优) to the national season as a national entry",
    )
    async def recommend_nationally(
        season_id: SeasonId, entry_id: EntryId, body: NationalRecommendation, request: Request, actor: AuthenticatedActor
    ) -> JSONResponse:
        season = await _organizer_scope(request, actor, season_id)
        entry = await _entry(request, season_id, entry_id)
        national = await _read_model(request).season(body.national_season_id)
        return await execute(
            request, actor, Channel.ORGANIZER, _application(request).recommend_nationally, season, entry, body,
            SeasonView.from_document(national) if national else None, body=body,
        )

    # ------------------------------------------------------------ queries of review's projection

    @router.get(
        "/seasons/{season_id}/recommenders/{recommender_id}/recommendations",
        summary="A recommending unit's recommendations against its quota, per participating unit",
    )
    async def recommendations(
        season_id: SeasonId, recommender_id: RecommenderPath, request: Request, actor: AuthenticatedActor
    ) -> dict[str, Any]:
        require_role(actor, Role.RECOMMENDER, Role.ORGANIZER, Role.NATIONAL, Role.AUDITOR)
        if actor.role is Role.RECOMMENDER:
            require_org(actor, recommender_id, f"recommending unit {recommender_id}")
        season = await _season(request, season_id)
        if actor.role is Role.ORGANIZER:
            require_org(actor, season.organizer, f"season {season_id}")
        read_model = _read_model(request)
        document = found(await read_model.recommender(season_id, recommender_id),
                         f"recommending unit {recommender_id} of season {season_id}")
        recommender = RecommenderView.from_document(document)
        quota = recommender.effective_quota(season)
        query: dict[str, Any] = {"season_id": season_id, "recommender_id": recommender_id}
        _, items = await read_model.find_reviews(query)
        units: dict[str, dict[str, Any]] = {}
        counted = []
        for item in items:
            entry = await read_model.entry(season_id, item["entry_id"])
            withdrawn = (entry or {}).get("status") == "withdrawn"
            item["entry_withdrawn"] = withdrawn
            if item["progress"] in (ReviewProgress.REVOKED.value, ReviewProgress.WITHDRAWN.value) or withdrawn:
                continue
            counted.append(item)
            unit = units.setdefault(item["credit_code"], {
                "credit_code": item["credit_code"], "unit_name": item["unit_name"], "recommended": 0,
                "per_type": {}, "team_types": [],
            })
            unit["recommended"] += 1
            if item.get("qc_type"):
                unit["per_type"][item["qc_type"]] = unit["per_type"].get(item["qc_type"], 0) + 1
            if item.get("team_type"):
                unit["team_types"].append(item["team_type"])
        for unit in units.values():
            unit["remaining"] = max(quota.per_unit_max - unit["recommended"], 0)
            unit["below_minimum"] = unit["recommended"] < quota.per_unit_min
        return {
            "season_id": season_id, "recommender_id": recommender_id, "name": recommender.name,
            "quota": quota.model_dump(mode="json"), "quota_raised": recommender.quota is not None,
            "cancellation": document.get("cancellation"),
            "recommended": len(counted),
            "total_team_size": sum(item.get("team_size") or 0 for item in counted),
            "units": sorted(units.values(), key=lambda unit: unit["credit_code"]),
            "items": [_masked_for(actor, item) for item in items],
        }

    @router.get("/seasons/{season_id}/entries", summary="Entries in review, by review stage (progress)")
    async def entries(
        season_id: SeasonId,
        request: Request,
        actor: AuthenticatedActor,
        progress: ReviewProgress | None = None,
        recommender_id: str | None = Query(default=None, max_length=64),
        credit_code: str | None = Query(default=None, max_length=64),
        skip: Skip = 0,
        limit: Limit = 50,
    ) -> dict[str, Any]:
        base = {"season_id": season_id} | await _read_scope(request, actor, season_id)
        filters = {"recommender_id": recommender_id, "credit_code": credit_code.upper() if credit_code else None}
        base |= {key: value for key, value in filters.items() if value is not None}
        query = base | ({"progress": progress.value} if progress else {})
        read_model = _read_model(request)
        total, items = await read_model.find_reviews(query, skip=skip, limit=limit)
        counts = await read_model.count_by_progress(base)
        return {
            "total": total, "skip": skip, "limit": limit,
            "items": [_masked_for(actor, item) for item in items],
            "by_progress": [{"progress": item.value, "label": item.label, "count": counts[item.value]}
                            for item in ReviewProgress],
        }

    @router.get("/seasons/{season_id}/entries/{entry_id}", summary="An entry's review as projected")
    async def entry_review(
        season_id: SeasonId, entry_id: EntryId, request: Request, actor: AuthenticatedActor
    ) -> dict[str, Any]:
        scope = await _read_scope(request, actor, season_id)
        review = await _read_model(request).review(season_id, entry_id)
        if review is None or any(review.get(key) != value for key, value in scope.items()):
            raise NotFound(f"entry {entry_id} in review of season {season_id}")
        return _masked_for(actor, review)

    @router.get("/seasons/{season_id}/entries/{entry_id}/scores", summary="An entry's scores, assignments and grade")
    async def entry_scores(
        season_id: SeasonId, entry_id: EntryId, request: Request, actor: AuthenticatedActor
    ) -> dict[str, Any]:
        read_model = _read_model(request)
        review = await read_model.review(season_id, entry_id)
        if review is None:
            raise NotFound(f"entry {entry_id} in review of season {season_id}")
        scores = await read_model.scores_of(season_id, entry_id)
        assignments = await read_model.assignments_of(season_id, entry_id)
        grade = {key: review.get(key) for key in ("combined_score", "grade", "grade_label", "result", "regrade")}
        if actor.role in FULL_VIEW:
            await _organizer_reads(request, actor, season_id)
            return {"entry_id": entry_id, "progress": review["progress"], "assignments": assignments,
                    "scores": scores, **grade}
        if actor.role is Role.JUDGE:
            return {"entry_id": entry_id, "progress": review["progress"],
                    "scores": [item for item in scores if item["judge_id"] == actor.org]}
        own = (actor.role is Role.UNIT and actor.org == review.get("credit_code")) or (
            actor.role is Role.RECOMMENDER and actor.org == review.get("recommender_id"))
        if not own:
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail=f"entry {entry_id} is not within {actor.org}'s scope")
        return {"entry_id": entry_id, "progress": review["progress"], **grade}

    @router.get("/judges/{judge_id}/queue", summary="A judge's queue: assigned entries and whether they are scored")
    async def judge_queue(
        judge_id: JudgePath, request: Request, actor: AuthenticatedActor,
        season_id: str | None = Query(default=None, max_length=64),
    ) -> dict[str, Any]:
        require_role(actor, Role.JUDGE, Role.ORGANIZER, Role.AUDITOR)
        if actor.role is Role.JUDGE:
            require_org(actor, judge_id, f"judge {judge_id}")
        items = await _read_model(request).queue(judge_id, season_id)
        if actor.role is Role.ORGANIZER:
            items = [item for item in items if item["season_id"].startswith(f"{actor.org}-")]
        return {"judge_id": judge_id, "total": len(items), "to_score": sum(not item["scored"] for item in items),
                "items": items}

    @router.get("/seasons/{season_id}/results", summary="The season's results: grades, notice, certificates")
    async def results(season_id: SeasonId, request: Request, actor: AuthenticatedActor) -> dict[str, Any]:
        read_model = _read_model(request)
        season = await _season(request, season_id)
        notice = await read_model.results(season_id)
        shown = [ReviewProgress.APPROVED.value, ReviewProgress.PUBLISHED.value]
        if actor.role in FULL_VIEW:
            await _organizer_reads(request, actor, season_id)
            shown = [*shown, ReviewProgress.GRADED.value, ReviewProgress.RESULT_WITHDRAWN.value]
        _, items = await read_model.find_reviews({"season_id": season_id, "progress": {"$in": shown}})
        if actor.role not in FULL_VIEW:
            public_ids = set((notice or {}).get("on_notice") or [])
            items = [item for item in items if item["entry_id"] in public_ids]
        keep = ("entry_id", "unit_name", "entry_name", "kind", "qc_type", "team_type", "recommender_id",
                "combined_score", "grade", "grade_label", "progress", "progress_label", "certificate_no", "national")
        return {
            "season_id": season_id,
            "notice": {key: (notice or {}).get(key) for key in ("on_notice", "opens_at", "closes_at")} if notice else None,
            "last_publication": (notice or {}).get("last_publication"),
            "items": [{key: item.get(key) for key in keep} for item in by_grade(season, items)],
        }

    return router


class _Empty(Payload):
    """The body of a command that takes none (the Idempotency-Key fingerprints the route alone)."""


def _application(request: Request) -> ReviewApplication:
    return request.app.state.application


def _read_model(request: Request) -> ReviewReadModel:
    return request.app.state.read_model


async def _season(request: Request, season_id: str) -> SeasonView:
    document = await _read_model(request).season(season_id)
    if document is None:
        raise NotFound(f"season {season_id}")
    return SeasonView.from_document(document)


async def _entry(request: Request, season_id: str, entry_id: str) -> EntryView:
    read_model = _read_model(request)
    document = await read_model.entry(season_id, entry_id)
    if document is None:
        raise NotFound(f"entry {entry_id} of season {season_id} (submitted entries reach review within seconds)")
    unit = await read_model.unit(season_id, document["credit_code"])
    return EntryView.from_document(document, unit)


async def _unit_entries(request: Request, entry: EntryView) -> dict[str, EntryView]:
    read_model = _read_model(request)
    unit = await read_model.unit(entry.season_id, entry.credit_code)
    documents = await read_model.entries_of_unit(entry.season_id, entry.credit_code)
    return {item["entry_id"]: EntryView.from_document(item, unit) for item in documents}


async def _judges(request: Request, season_id: str) -> list[JudgeView]:
    return [JudgeView.from_document(item) for item in await _read_model(request).judges_of(season_id)]


async def _organizer_scope(request: Request, actor: Actor, season_id: str) -> SeasonView:
    require_role(actor, Role.ORGANIZER)
    season = await _season(request, season_id)
    require_org(actor, season.organizer, f"season {season_id}")
    return season


async def _organizer_reads(request: Request, actor: Actor, season_id: str) -> None:
    if actor.role is Role.ORGANIZER:
        require_org(actor, (await _season(request, season_id)).organizer, f"season {season_id}")


async def _recommending_scope(request: Request, actor: Actor, season_id: str) -> tuple[SeasonView, Channel]:
    """A recommending unit acts through 推荐通道; the secretariat for the direct channel."""
    require_role(actor, Role.RECOMMENDER, Role.ORGANIZER)
    season = await _season(request, season_id)
    if actor.role is Role.ORGANIZER:
        require_org(actor, season.organizer, f"season {season_id}")
        return season, Channel.DIRECT
    return season, Channel.RECOMMENDER


async def _scoring_scope(
    request: Request, actor: Actor, season_id: str, entry_id: str, body: ScoreForm
) -> tuple[SeasonView, EntryView, JudgeView]:
    """A judge scores as himself or herself; the secretariat enters a judge's paper score sheet, naming the judge."""
    require_role(actor, Role.JUDGE, Role.ORGANIZER)
    season = await _season(request, season_id)
    if actor.role is Role.JUDGE:
        if body.judge_id is not None and body.judge_id != actor.org:
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                detail=f"a judge scores as himself or herself; the token is judge {actor.org}")
        judge_id = actor.org
    else:
        require_org(actor, season.organizer, f"season {season_id}")
        if body.judge_id is None:
            raise RuleViolation("judge_id", "score.judge_id.required",
                                "the secretariat entering a judge's score sheet names the judge (judge_id)")
        judge_id = body.judge_id
    document = await _read_model(request).judge(season_id, judge_id)
    if document is None:
        raise NotPermitted("judge_id", "score.judge.registered", f"{judge_id} is not a judge of season {season_id}")
    entry = await _entry(request, season_id, entry_id)
    return season, entry, JudgeView.from_document(document)


async def _read_scope(request: Request, actor: Actor, season_id: str) -> dict[str, Any]:
    """What an actor may read of entries in review: its unit's, its recommending unit's, or the season's."""
    if actor.role is Role.UNIT:
        return {"credit_code": actor.org}
    if actor.role is Role.RECOMMENDER:
        return {"recommender_id": actor.org}
    if actor.role is Role.ORGANIZER:
        await _organizer_reads(request, actor, season_id)
        return {}
    if actor.role in {Role.NATIONAL, Role.AUDITOR}:
        return {}
    if actor.role is Role.FEED:  # a province's platform reads its own entries (what its feed brought)
        return {"organizer": actor.org}
    raise HTTPException(status.HTTP_403_FORBIDDEN, detail=f"role {actor.role.value} may not read entries in review; "
                        "a judge reads his or her queue")


def by_grade(season: SeasonView, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Results as published: by grade band (from the highest), then combined score (exact decimals), then entry."""
    order = {band.code: position for position, band in enumerate(season.grade_bands)}
    return sorted(items, key=lambda item: (order.get(item.get("grade") or "", len(order)),
                                           -Decimal(item.get("combined_score") or "-1"), item["entry_id"]))


def _masked_for(actor: Actor, document: dict[str, Any]) -> dict[str, Any]:
    """Judges' mobiles and e-mails on the 推荐表 and objectors' contacts are personal data: organizers, the national
    association, auditors and the recommending unit itself see them; others see them masked."""
    if actor.role in FULL_VIEW or (actor.role is Role.RECOMMENDER and actor.org == document.get("recommender_id")):
        return document
    return _mask(document) | {"masked": True}


def _mask(value: Any, key: str | None = None) -> Any:
    if isinstance(value, dict):
        return {name: _mask(item, name) for name, item in value.items()}
    if isinstance(value, list):
        return [_mask(item) for item in value]
    if key in PERSONAL_KEYS and isinstance(value, str) and value:
        if "@" in value:
            name, _, domain = value.partition("@")
            return name[:1] + "***@" + domain
        return value[:3] + "****" + value[-4:] if len(value) > 7 else "****"
    return value
