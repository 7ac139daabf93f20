"""Review's projection: what it learns from registration and submission, and its own review of each entry.

From registration.events: seasons (windows, quota, rubrics, grade bands, stage weights), units,
recommending units (with a raised quota, or cancelled) and judges. From submission.events: entries (unit,
recommending unit, kind, 课题类型 / 班组类型, status, the form's version) and the recommending units' filings
(`filings`). From review.events: each entry's review (`reviews`), judges' scores (`scores`), assignments
(`assignments`) and the season's notice and publication (`season_results`). A national season's entries came from the provinces' recommendations
(`NationalEntryReceived`), not from submission: their reviews keep `national_entry`, and `entry()` answers
them as entries so that review's rules read them like any other.

Documents mirror aggregates and are written once per event version (`apply_versioned`). Only the
subset of MongoDB that FerretDB supports: finds, counts, indexes and version-guarded updates; no
aggregation lookups, no transactions. Scores and grades are exact decimals kept as strings, sorted here.
"""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from contracts import Envelope
from contracts.season_profile import adjusted_profile_fields
from contracts.submitted import EntryStatus
from infra.feeds import FEED_ROUTES, create_feed_indexes
from infra.mongo import DocumentProjection, payload_fields, public
from services.review.domain.entry_review import ReviewProgress


def _by(envelope: Envelope) -> dict[str, Any]:
    return {
        "actor": envelope.actor.model_dump(mode="json"),
        "channel": envelope.channel.value,
        "at": envelope.occurred_at,
        "recorded_at": envelope.recorded_at,
    }


def _progress(progress: ReviewProgress) -> dict[str, Any]:
    return {"progress": progress.value, "progress_label": progress.label}


# ---------------------------------------------------------------- registration


def _window_change(_: Envelope, data: dict[str, Any]) -> dict[str, Any]:
    if data.get("round"):  # a review round's own window, or 形式审查's (SeasonView applies it)
        return {f"round_windows.{data['round']}": data["window"]}
    return {f"windows.{data['stage']}": data["window"]}


def _unit(_: Envelope, data: dict[str, Any]) -> dict[str, Any]:
    # A judge never scores an entry of his or her own work unit: keep the names to compare.
    keep = ("season_id", "credit_code", "unit_name", "short_name", "recommender_id")
    # 会员单位, 单位性质 and 重点领域: who may use the direct channel
    return {key: data.get(key) for key in (*keep, "member", "unit_nature", "key_domain")}


def _recommender(_: Envelope, data: dict[str, Any]) -> dict[str, Any]:
    keep = ("season_id", "recommender_id", "name", "category", "region_code")
    return {key: data.get(key) for key in keep} | {"quota": None, "cancellation": None}


def _recommender_cancelled(envelope: Envelope, data: dict[str, Any]) -> dict[str, Any]:
    return {"cancellation": {"reason": data["reason"], "event_id": str(envelope.event_id)} | _by(envelope)}


def _filing(envelope: Envelope, data: dict[str, Any]) -> dict[str, Any]:
    """统计表 and 工作总结 a recommending unit filed with submission (基础性条件 for recommending)."""
    filing = "statistics" if envelope.type.startswith("Statistics") else "work_summary"
    period = data["form"]["period"]
    return {"season_id": data["season_id"], "recommender_id": data["recommender_id"], "filing": filing,
            "period": f"{period['first_month']}..{period['last_month']}", "filed": _by(envelope)}


def _quota_raise(envelope: Envelope, data: dict[str, Any]) -> dict[str, Any]:
    return {"quota": data["quota"], "quota_raise": {"previous": data["previous"], "reason": data["reason"]} | _by(envelope)}


# ---------------------------------------------------------------- submission


def _entry(envelope: Envelope, data: dict[str, Any]) -> dict[str, Any]:
    form = data["form"]
    team = form["kind"] == "team"
    name = form["team_name"] if team else f"{form['group_name']}《{form['topic']}》"
    return {
        "season_id": data["season_id"],
        "entry_id": data["entry_id"],
        "organizer": envelope.organizer,
        "kind": form["kind"],
        "qc_type": form.get("qc_type"),
        "team_type": form.get("team_type"),
        "credit_code": form["credit_code"],
        "unit_name": form["unit_name"],
        "recommender_id": form.get("recommender_id"),
        "name": name,
        "team_size": form.get("team_size") if team else len(form.get("members") or []) or None,
        "status": EntryStatus.SUBMITTED.value,
        "form_version": envelope.aggregate_version,
        ("submitted" if envelope.type == "EntrySubmitted" else "amended"): _by(envelope),
    }


def _entry_withdrawn(envelope: Envelope, data: dict[str, Any]) -> dict[str, Any]:
    return {"status": EntryStatus.WITHDRAWN.value, "withdrawal": {"reason": data["reason"]} | _by(envelope)}


def _entry_confirmed(envelope: Envelope, _: dict[str, Any]) -> dict[str, Any]:
    return {"status": EntryStatus.CONFIRMED.value, "confirmed": _by(envelope)}


# ---------------------------------------------------------------- review: the entry's review


SUMMARY = ("season_id", "entry_id", "credit_code", "unit_name", "entry_name", "kind", "qc_type", "team_type",
           "team_size", "recommender_id")


def _recommended(envelope: Envelope, data: dict[str, Any]) -> dict[str, Any]:
    form = {key: value for key, value in data.items() if key not in SUMMARY}
    return {key: data.get(key) for key in SUMMARY} | _progress(ReviewProgress.RECOMMENDED) | {
        "organizer": envelope.organizer,
        "channel": envelope.channel.value,
        "direct": envelope.type == "EntryAcceptedDirectly",
        "recommendation": form | _by(envelope),
        "revocation": None,
        "formal_review": None,
    }


def _revoked(envelope: Envelope, data: dict[str, Any]) -> dict[str, Any]:
    return _progress(ReviewProgress.REVOKED) | {"revocation": {"reason": data["reason"]} | _by(envelope)}


def _withdrawn(envelope: Envelope, data: dict[str, Any]) -> dict[str, Any]:
    keep = ("reason", "previous_progress", "cause_event_id", "rule")
    return _progress(ReviewProgress.WITHDRAWN) | {"withdrawal": {key: data.get(key) for key in keep} | _by(envelope)}


def _formal_review(envelope: Envelope, data: dict[str, Any]) -> dict[str, Any]:
    if envelope.type == "FormalReviewPassed":
        return _progress(ReviewProgress.IN_REVIEW) | {"formal_review": {"outcome": "passed"} | _by(envelope)}
    if envelope.type == "FormalReviewFailed":
        decision = {"outcome": "failed", "reasons": data["reasons"], "entry_version": data["entry_version"]}
        return _progress(ReviewProgress.FORMAL_REVIEW_FAILED) | {"formal_review": decision | _by(envelope)}
    resubmission = {"note": data.get("note"), "entry_version": data["entry_version"]}
    return _progress(ReviewProgress.RESUBMITTED) | {"resubmission": resubmission | _by(envelope)}


def _graded(envelope: Envelope, data: dict[str, Any]) -> dict[str, Any]:
    keep = ("stages", "weights", "combined_score", "grade", "grade_label")
    return _progress(ReviewProgress.GRADED) | {
        "result": {key: data.get(key) for key in keep} | _by(envelope),
        "combined_score": data["combined_score"], "grade": data.get("grade"), "grade_label": data.get("grade_label"),
    }


def _approved(envelope: Envelope, data: dict[str, Any]) -> dict[str, Any]:
    keep = ("guiding_units", "approved_on", "note")
    return _progress(ReviewProgress.APPROVED) | {"approval": {key: data.get(key) for key in keep} | _by(envelope)}


def _objection(envelope: Envelope, data: dict[str, Any]) -> dict[str, Any]:
    key = f"objections.{data['objection_id']}"
    if envelope.type == "ObjectionFiled":
        filed = {name: data.get(name) for name in ("objection_id", "objector", "contact", "grounds")}
        return {key: filed | {"status": "open", "filed": _by(envelope)}}
    return {
        f"{key}.status": data["outcome"],
        f"{key}.finding": data["finding"],
        f"{key}.remedy": data.get("remedy"),
        f"{key}.resolved": _by(envelope),
    }


def _regraded(envelope: Envelope, data: dict[str, Any]) -> dict[str, Any]:
    keep = ("objection_id", "previous_grade", "grade", "grade_label", "combined_score", "reason")
    return {
        "combined_score": data["combined_score"], "grade": data["grade"], "grade_label": data["grade_label"],
        "regrade": {key: data.get(key) for key in keep} | _by(envelope),
    }


def _result_withdrawn(envelope: Envelope, data: dict[str, Any]) -> dict[str, Any]:
    withdrawal = {"objection_id": data["objection_id"], "reason": data["reason"]}
    return _progress(ReviewProgress.RESULT_WITHDRAWN) | {"result_withdrawal": withdrawal | _by(envelope)}


def _published(envelope: Envelope, data: dict[str, Any]) -> dict[str, Any]:
    return _progress(ReviewProgress.PUBLISHED) | {
        "certificate_no": data["certificate_no"],
        "publication": {"certificate_no": data["certificate_no"], "grade": data["grade"]} | _by(envelope),
    }


def _gate(envelope: Envelope, data: dict[str, Any]) -> dict[str, Any]:
    """A gate's outcome for the entry, under rounds.<round code>; not advancing also ends its review (未晋级)."""
    keep = ("stage_label", "method", "score", "rank", "reason", "message", "next_stage", "next_stage_label")
    advanced = envelope.type == "EntryAdvanced"
    outcome = {"outcome": "advanced" if advanced else "not_advanced"} | {
        key: data[key] for key in keep if key in data} | _by(envelope)
    return {f"rounds.{data['stage']}": outcome} | ({} if advanced else _progress(ReviewProgress.NOT_ADVANCED))


def _national(envelope: Envelope, data: dict[str, Any]) -> dict[str, Any]:
    keep = ("national_season_id", "note", "national_entry_id")
    return {"national": {key: data.get(key) for key in keep} | _by(envelope)}


# ---------------------------------------------------------------- national flow (issue 10): a national season's entries

PROVENANCE = ("province", "provincial_season_id", "provincial_entry_id", "via", "provincial_grade",
              "provincial_grade_label", "provincial_score", "provincial_certificate_no", "recommended_on", "note")


def _national_entry(envelope: Envelope, data: dict[str, Any]) -> dict[str, Any]:
    """A national entry is recommended by its province; where it came from is kept beside its review."""
    return _recommended(envelope, data) | {
        "recommender_id": data["province"],
        "national_entry": {key: data.get(key) for key in PROVENANCE} | {"source": envelope.source.model_dump(mode="json")},
    }


def national_entry_document(review: dict[str, Any]) -> dict[str, Any]:
    """A national entry as review's rules read an entry: it has no submission of its own in the national season."""
    keep = ("season_id", "entry_id", "credit_code", "unit_name", "kind", "qc_type", "team_type", "team_size")
    return {key: review.get(key) for key in keep} | {
        "name": review.get("entry_name"), "recommender_id": review["national_entry"]["province"],
        "status": EntryStatus.CONFIRMED.value, "form_version": 1, "national_entry": review["national_entry"],
    }


# ---------------------------------------------------------------- review: scores, assignments, results


def _score(envelope: Envelope, data: dict[str, Any]) -> dict[str, Any]:
    keep = ("season_id", "entry_id", "judge_id", "stage", "rubric", "criteria", "total", "comment")
    fields = {key: data.get(key) for key in keep} | {"organizer": envelope.organizer}
    if envelope.type == "ScoreRecorded":
        return fields | {"recorded": _by(envelope), "revision": None}
    revision = {"reason": data["reason"], "previous_total": data["previous_total"]}
    return fields | {"revision": revision | _by(envelope)}


def _assignment(envelope: Envelope, data: dict[str, Any]) -> dict[str, Any]:
    base = {key: data[key] for key in ("season_id", "entry_id", "stage")}
    if envelope.type == "JudgesAssigned":
        return base | {"status": "assigned", "judge_ids": data["judge_ids"], "assigned_by": data["assigned_by"],
                       "reason": None, "message": None, "assigned": _by(envelope)}
    return base | {"status": "blocked", "judge_ids": [], "reason": data["reason"], "message": data["message"],
                   "blocked": _by(envelope)}


def _notice(envelope: Envelope, data: dict[str, Any]) -> dict[str, Any]:
    return {"season_id": data["season_id"], "on_notice": data["entry_ids"], "opens_at": data["opens_at"],
            "closes_at": data["closes_at"], "publications": [], "notice": _by(envelope)}


def _results_published(envelope: Envelope, data: dict[str, Any]) -> dict[str, Any]:
    keep = ("certificates", "first_certificate_no", "last_certificate_no")
    return {"last_publication": {key: data[key] for key in keep} | _by(envelope)}


class ReviewReadModel(DocumentProjection):
    """Documents per season, unit, recommending unit, judge and entry (as review knows them), and per
    entry review, score, assignment and season's results."""

    def __init__(self, database: AsyncDatabase) -> None:
        super().__init__(
            database,
            {
                "SeasonOpened": ("seasons", payload_fields),
                "SeasonWindowChanged": ("seasons", _window_change),
                "SeasonProfileAdjusted": ("seasons", lambda _, data: adjusted_profile_fields(data)),
                "UnitRegistered": ("units", _unit),
                "UnitRegistrationAmended": ("units", _unit),
                "RecommenderRegistered": ("recommenders", _recommender),
                "RecommenderQuotaRaised": ("recommenders", _quota_raise),
                "RecommenderCancelled": ("recommenders", _recommender_cancelled),
                "StatisticsFiled": ("filings", _filing),
                "StatisticsAmended": ("filings", _filing),
                "WorkSummaryFiled": ("filings", _filing),
                "WorkSummaryAmended": ("filings", _filing),
                "JudgeRegistered": ("judges", payload_fields),
                "EntrySubmitted": ("entries", _entry),
                "EntryAmended": ("entries", _entry),
                "EntryWithdrawn": ("entries", _entry_withdrawn),
                "UnitConfirmed": ("entries", _entry_confirmed),
                "EntryRecommended": ("reviews", _recommended),
                "EntryAcceptedDirectly": ("reviews", _recommended),
                "RecommendationRevoked": ("reviews", _revoked),
                "RecommendationWithdrawn": ("reviews", _withdrawn),
                "FormalReviewPassed": ("reviews", _formal_review),
                "FormalReviewFailed": ("reviews", _formal_review),
                "FormalReviewResubmitted": ("reviews", _formal_review),
                "EntryGraded": ("reviews", _graded),
                "EntryAdvanced": ("reviews", _gate),
                "EntryNotAdvanced": ("reviews", _gate),
                "GuidingUnitsApproved": ("reviews", _approved),
                "ObjectionFiled": ("reviews", _objection),
                "ObjectionResolved": ("reviews", _objection),
                "EntryRegraded": ("reviews", _regraded),
                "EntryResultWithdrawn": ("reviews", _result_withdrawn),
                "EntryPublished": ("reviews", _published),
                "NationalRecommendationMade": ("reviews", _national),
                "NationalEntryReceived": ("reviews", _national_entry),
                "ScoreRecorded": ("scores", _score),
                "ScoreRevised": ("scores", _score),
                "JudgesAssigned": ("assignments", _assignment),
                "AssignmentBlocked": ("assignments", _assignment),
                "NoticeOpened": ("season_results", _notice),
                "ResultsPublished": ("season_results", _results_published),
                **FEED_ROUTES,
            },
        )
        self.seasons = database["seasons"]
        self.units = database["units"]
        self.recommenders = database["recommenders"]
        self.judges = database["judges"]
        self.entries = database["entries"]
        self.reviews = database["reviews"]
        self.scores = database["scores"]
        self.assignments = database["assignments"]
        self.season_results = database["season_results"]
        self.filings = database["filings"]

    async def create_indexes(self) -> None:
        await create_feed_indexes(self.database)
        await self.seasons.create_index([("season_id", ASCENDING)])
        await self.units.create_index([("season_id", ASCENDING), ("credit_code", ASCENDING)])
        await self.recommenders.create_index([("season_id", ASCENDING), ("recommender_id", ASCENDING)])
        await self.judges.create_index([("season_id", ASCENDING), ("judge_id", ASCENDING)])
        await self.entries.create_index([("season_id", ASCENDING), ("entry_id", ASCENDING)])
        await self.entries.create_index([("season_id", ASCENDING), ("credit_code", ASCENDING)])
        await self.reviews.create_index([("season_id", ASCENDING), ("entry_id", ASCENDING)])
        await self.reviews.create_index([("season_id", ASCENDING), ("progress", ASCENDING)])
        await self.reviews.create_index([("season_id", ASCENDING), ("recommender_id", ASCENDING)])
        await self.scores.create_index([("season_id", ASCENDING), ("entry_id", ASCENDING)])
        await self.assignments.create_index([("season_id", ASCENDING), ("entry_id", ASCENDING)])
        await self.assignments.create_index([("judge_ids", ASCENDING), ("season_id", ASCENDING)])
        await self.season_results.create_index([("season_id", ASCENDING)])
        await self.filings.create_index([("season_id", ASCENDING), ("recommender_id", ASCENDING)])

    # ------------------------------------------------------------ what review knows of the others

    async def season(self, season_id: str) -> dict[str, Any] | None:
        season = public(await self.seasons.find_one({"season_id": season_id}))
        if season is not None:
            season["units_registered"] = await self.units.count_documents({"season_id": season_id})
        return season

    async def unit(self, season_id: str, credit_code: str) -> dict[str, Any] | None:
        return public(await self.units.find_one({"season_id": season_id, "credit_code": credit_code}))

    async def recommender(self, season_id: str, recommender_id: str) -> dict[str, Any] | None:
        return public(await self.recommenders.find_one({"season_id": season_id, "recommender_id": recommender_id}))

    async def filed_by(self, season_id: str, recommender_id: str) -> frozenset[str]:
        """What the recommending unit filed for the season: statistics (统计表), work_summary (工作总结)."""
        cursor = self.filings.find({"season_id": season_id, "recommender_id": recommender_id}, {"filing": 1})
        return frozenset([item["filing"] async for item in cursor])

    async def direct_recommender(self, season_id: str) -> dict[str, Any] | None:
        return public(await self.recommenders.find_one({"season_id": season_id, "category": "direct"}))

    async def judges_of(self, season_id: str) -> list[dict[str, Any]]:
        cursor = self.judges.find({"season_id": season_id}).sort("judge_id", ASCENDING)
        return [public(item) async for item in cursor]  # type: ignore[misc]

    async def judge(self, season_id: str, judge_id: str) -> dict[str, Any] | None:
        return public(await self.judges.find_one({"season_id": season_id, "judge_id": judge_id}))

    async def entry(self, season_id: str, entry_id: str) -> dict[str, Any] | None:
        found = public(await self.entries.find_one({"season_id": season_id, "entry_id": entry_id}))
        if found is None:  # a national season's entry came from a province's recommendation, not a submission
            review = public(await self.reviews.find_one({"season_id": season_id, "entry_id": entry_id}))
            if review is not None and review.get("national_entry"):
                return national_entry_document(review)
        return found

    async def entries_with_ids(self, entry_ids: list[str]) -> list[dict[str, Any]]:
        """The entries with these ids, whatever their season (a feed batch names its province's entries)."""
        if not entry_ids:
            return []
        return [document async for document in self.entries.find({"entry_id": {"$in": entry_ids}})]

    async def entries_of_unit(self, season_id: str, credit_code: str) -> list[dict[str, Any]]:
        cursor = self.entries.find({"season_id": season_id, "credit_code": credit_code})
        return [public(item) async for item in cursor]  # type: ignore[misc]

    # ------------------------------------------------------------ review's own

    async def review(self, season_id: str, entry_id: str) -> dict[str, Any] | None:
        return public(await self.reviews.find_one({"season_id": season_id, "entry_id": entry_id}))

    async def find_reviews(self, query: dict[str, Any], *, skip: int = 0, limit: int = 10_000) -> tuple[int, list[dict[str, Any]]]:
        total = await self.reviews.count_documents(query)
        cursor = self.reviews.find(query).sort("entry_id", ASCENDING).skip(skip).limit(limit)
        return total, [public(item) async for item in cursor]  # type: ignore[misc]

    async def count_by_progress(self, query: dict[str, Any]) -> dict[str, int]:
        """How many of the reviews the query selects stand at each stage: one grouped read, not one per stage."""
        counts = dict.fromkeys((item.value for item in ReviewProgress), 0)
        grouped = await self.reviews.aggregate([{"$match": query}, {"$group": {"_id": "$progress", "count": {"$sum": 1}}}])
        async for item in grouped:
            if item["_id"] in counts:
                counts[item["_id"]] = int(item["count"])
        return counts

    async def round_outcome_counts(self, query: dict[str, Any], round_code: str) -> tuple[int, int]:
        """How many of the reviews the query selects advanced from the round, and how many did not."""
        outcome = f"rounds.{round_code}.outcome"
        return (await self.reviews.count_documents(query | {outcome: "advanced"}),
                await self.reviews.count_documents(query | {outcome: "not_advanced"}))

    async def entry_ids(self, season_id: str, progress: ReviewProgress) -> list[str]:
        cursor = self.reviews.find({"season_id": season_id, "progress": progress.value}, {"entry_id": 1})
        return sorted([item["entry_id"] async for item in cursor])

    async def scores_of(self, season_id: str, entry_id: str) -> list[dict[str, Any]]:
        cursor = self.scores.find({"season_id": season_id, "entry_id": entry_id})
        items = [public(item) async for item in cursor]
        return sorted(items, key=lambda item: (item["stage"], item["judge_id"]))  # type: ignore[index]

    async def assignments_of(self, season_id: str, entry_id: str) -> list[dict[str, Any]]:
        cursor = self.assignments.find({"season_id": season_id, "entry_id": entry_id})
        return sorted([public(item) async for item in cursor], key=lambda item: item["stage"])  # type: ignore[index,misc]

    async def queue(self, judge_id: str, season_id: str | None) -> list[dict[str, Any]]:
        """The judge's assigned entries, each with whether the judge has scored it."""
        query: dict[str, Any] = {"judge_ids": judge_id, "status": "assigned"} | ({"season_id": season_id} if season_id else {})
        assignments = [public(item) async for item in self.assignments.find(query)]
        scored = {
            (item["season_id"], item["entry_id"], item["stage"]): item
            async for item in self.scores.find({"judge_id": judge_id} | ({"season_id": season_id} if season_id else {}))
        }
        wanted = {(item["season_id"], item["entry_id"]) for item in assignments}  # type: ignore[index]
        reviews = {  # the assigned entries' reviews in one read, not one per entry
            (item["season_id"], item["entry_id"]): item
            async for item in self.reviews.find({"entry_id": {"$in": sorted({entry for _, entry in wanted})}})
            if (item["season_id"], item["entry_id"]) in wanted
        } if wanted else {}
        items = []
        for assignment in assignments:
            key = (assignment["season_id"], assignment["entry_id"], assignment["stage"])  # type: ignore[index]
            review = reviews.get((key[0], key[1]))
            score = scored.get(key)
            items.append({
                "season_id": key[0], "entry_id": key[1], "stage": key[2],
                "entry_name": (review or {}).get("entry_name"), "unit_name": (review or {}).get("unit_name"),
                "kind": (review or {}).get("kind"), "qc_type": (review or {}).get("qc_type"),
                "scored": score is not None, "total": score.get("total") if score else None,
                "assigned_at": (assignment.get("assigned") or {}).get("at"),  # type: ignore[union-attr]
            })
        return sorted(items, key=lambda item: (item["scored"], item["season_id"], item["stage"], item["entry_id"]))

    async def results(self, season_id: str) -> dict[str, Any] | None:
        return public(await self.season_results.find_one({"season_id": season_id}))

