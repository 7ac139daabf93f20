"""The assignment read model: each judge's queue (and from it each judge's load), each entry's assignment.

Collections (review's MongoDB database):
- `judge_queue`: one document per (judge, entry, stage): `_id` "<judge_id>/<stage>/<entry_id>",
  season_id, entry_id, stage, judge_id, status (assigned → scored; withdrawn when a later assignment
  replaced the judge), assigned_at, total and scored_at once scored. The judge's queue is
  `find({"judge_id": j, "season_id": s, "stage": st, "status": "assigned"})`.
- `judge_assignments`: one document per Assignment aggregate (entry and stage): status assigned or
  blocked, the judges, or the reason.

Every write is idempotent: versions guard the assignment and score documents; a queue document is keyed
by judge, entry and stage, so an assignment applied twice writes the same documents again.
It also reads what review's projection keeps of registration: seasons, units and judges.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, cast
from uuid import UUID

from pydantic import BaseModel
from pymongo import ASCENDING, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from contracts import Envelope
from contracts.scored import AssignmentBlocked, JudgesAssigned, ScoreFields
from infra.mongo import apply_guarded_in_bulk, apply_versioned
from infra.projection import Outcome
from services.review.assignment.domain import Judge

HANDLED_TYPES = frozenset({"JudgesAssigned", "AssignmentBlocked", "ScoreRecorded", "ScoreRevised"})


def queue_id(judge_id: str, stage: str, entry_id: str) -> str:
    return f"{judge_id}/{stage}/{entry_id}"


def score_write(envelope: Envelope, score: ScoreFields) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """The queue document a score lands in, and the guarded filter and update that show the score once."""
    doc_id = queue_id(score.judge_id, score.stage, score.entry_id)
    query = {"_id": doc_id, "_score_version": {"$lt": envelope.aggregate_version}}
    update = {"$set": {
        "season_id": score.season_id, "entry_id": score.entry_id, "stage": score.stage, "judge_id": score.judge_id,
        "status": "scored", "total": str(score.total), "scored_at": envelope.recorded_at,
        "_score_version": envelope.aggregate_version, "_score_event_id": str(envelope.event_id),
        "_applied_at": datetime.now(UTC),
    }}
    return doc_id, query, update


class AssignmentReadModel:
    def __init__(self, database: AsyncDatabase) -> None:
        self.database = database
        self.queue = database["judge_queue"]
        self.assignments = database["judge_assignments"]
        # review's projection of registration.events
        self.seasons = database["seasons"]
        self.units = database["units"]
        self.judge_documents = database["judges"]
        self.reviews = database["reviews"]  # review's projection of its own events: the 推荐表's judges

    async def create_indexes(self) -> None:
        await self.queue.create_index([("judge_id", ASCENDING), ("season_id", ASCENDING), ("stage", ASCENDING)])
        await self.queue.create_index([("season_id", ASCENDING), ("entry_id", ASCENDING)])
        await self.queue.create_index([("season_id", ASCENDING), ("stage", ASCENDING), ("status", ASCENDING)])
        await self.assignments.create_index([("season_id", ASCENDING), ("status", ASCENDING)])

    # --- writes -------------------------------------------------------------------------------

    async def apply(self, envelope: Envelope, payload: BaseModel) -> bool:
        if envelope.type == "JudgesAssigned":
            assigned = cast(JudgesAssigned, payload)
            fields = {"status": "assigned", "assigned_by": assigned.assigned_by, "reason": None, "message": None}
            return await self._replace_judges(envelope, assigned.season_id, assigned.entry_id, assigned.stage,
                                              list(assigned.judge_ids), fields)
        if envelope.type == "AssignmentBlocked":
            blocked = cast(AssignmentBlocked, payload)
            fields = blocked.model_dump(mode="json", include={
                "reason", "message", "judges_required", "judges_eligible", "judges_conflicted"
            }) | {"status": "blocked"}
            return await self._replace_judges(envelope, blocked.season_id, blocked.entry_id, blocked.stage,
                                              [], fields)
        if envelope.type in ("ScoreRecorded", "ScoreRevised"):
            return await self._scored(envelope, cast(ScoreFields, payload))
        return False

    async def _replace_judges(
        self, envelope: Envelope, season_id: str, entry_id: str, stage: str, judge_ids: list[str],
        fields: dict[str, Any],
    ) -> bool:
        """The entry's judges become `judge_ids`: the queue documents first, the assignment document last,
        so an interrupted apply is completed by the next one (the document's version still lets it in)."""
        doc_id = str(envelope.aggregate_id)
        version = envelope.aggregate_version
        current = await self.assignments.find_one({"_id": doc_id}, {"_version": 1, "judge_ids": 1})
        if current is not None and current.get("_version", 0) >= version:
            return False
        previous = set((current or {}).get("judge_ids") or [])
        now = datetime.now(UTC)
        if judge_ids:
            await self.queue.bulk_write([
                UpdateOne(
                    {"_id": queue_id(judge, stage, entry_id)},
                    {
                        "$set": {
                            "season_id": season_id, "entry_id": entry_id, "stage": stage, "judge_id": judge,
                            "assigned_at": envelope.recorded_at, "assignment_version": version, "_applied_at": now,
                        },
                        "$setOnInsert": {"status": "assigned", "_score_version": 0},
                    },
                    upsert=True,
                )
                for judge in judge_ids
            ], ordered=False)
            back = [judge for judge in judge_ids if judge in previous]
            if back:
                await self.queue.update_many(
                    {"_id": {"$in": [queue_id(j, stage, entry_id) for j in back]}, "status": "withdrawn"},
                    {"$set": {"status": "assigned"}},
                )
        withdrawn = [queue_id(judge, stage, entry_id) for judge in previous - set(judge_ids)]
        if withdrawn:
            await self.queue.update_many(
                {"_id": {"$in": withdrawn}, "assignment_version": {"$lt": version}},
                {"$set": {"status": "withdrawn", "assignment_version": version, "_applied_at": now}},
            )
        document = {"season_id": season_id, "entry_id": entry_id, "stage": stage, "judge_ids": judge_ids} | fields
        return await apply_versioned(self.assignments, doc_id, envelope, document)

    async def _scored(self, envelope: Envelope, score: ScoreFields) -> bool:
        """The judge's queue document shows the score; the score's version guards against replays."""
        _, query, update = score_write(envelope, score)
        try:
            result = await self.queue.update_one(query, update, upsert=True)
        except DuplicateKeyError:
            return False
        return result.modified_count == 1 or result.upserted_id is not None

    async def apply_scores(self, scores: Sequence[tuple[int, Envelope, ScoreFields]], outcomes: list[Outcome]) -> None:
        """Many scores at once (index in outcomes, envelope, payload), each queue document's in order, in bulk."""
        writes = [(index, self.queue.name, *score_write(envelope, score), None) for index, envelope, score in scores]
        await apply_guarded_in_bulk(self.database, writes, outcomes)

    # --- reads --------------------------------------------------------------------------------

    async def assignment(self, aggregate_id: UUID) -> dict[str, Any] | None:
        return await self.assignments.find_one({"_id": str(aggregate_id)})

    async def blocked(self, season_id: str) -> list[dict[str, Any]]:
        cursor = self.assignments.find({"season_id": season_id, "status": "blocked"}).sort("_id", ASCENDING)
        return [document async for document in cursor]

    async def loads(self, season_id: str, stage: str) -> dict[str, int]:
        """How many entries of the season and stage each judge has been given (withdrawals not counted).

        Counted from the queue documents, each written once per judge and entry: a shared counter would
        be a document every worker updates at once, and MongoDB-compatible servers without atomic
        updates (FerretDB 1.x) lose such increments.
        """
        pipeline = [
            {"$match": {"season_id": season_id, "stage": stage, "status": {"$ne": "withdrawn"}}},
            {"$group": {"_id": "$judge_id", "load": {"$sum": 1}}},
        ]
        return {document["_id"]: int(document["load"]) async for document in await self.queue.aggregate(pipeline)}

    async def queue_of(
        self, judge_id: str, *, season_id: str | None = None, stage: str | None = None, status: str | None = None
    ) -> list[dict[str, Any]]:
        """A judge's queue: the entries given to the judge, oldest first."""
        query: dict[str, Any] = {"judge_id": judge_id}
        for key, value in (("season_id", season_id), ("stage", stage), ("status", status)):
            if value is not None:
                query[key] = value
        cursor = self.queue.find(query).sort([("assigned_at", ASCENDING), ("_id", ASCENDING)])
        return [document async for document in cursor]

    async def season(self, season_id: str) -> Mapping[str, Any] | None:
        return await self.seasons.find_one({"season_id": season_id})

    async def judges(self, season_id: str) -> list[Judge]:
        cursor = self.judge_documents.find(
            {"season_id": season_id},
            {"judge_id": 1, "work_unit": 1, "work_unit_credit_code": 1, "recommender_id": 1, "certificate_no": 1},
        )
        return [judge_from_document(document) async for document in cursor if document.get("judge_id")]

    async def recommendation_certificates(self, season_id: str, entry_id: str) -> tuple[str, ...]:
        """The TGQ certificates of the judges named on the entry's 推荐表 (empty for the direct channel)."""
        review = await self.reviews.find_one({"season_id": season_id, "entry_id": entry_id}, {"recommendation": 1})
        judges = ((review or {}).get("recommendation") or {}).get("judges") or []
        return tuple(sorted({judge["certificate_no"] for judge in judges if judge.get("certificate_no")}))

    async def unit_names(self, season_id: str, credit_code: str) -> tuple[str, ...]:
        """The entry unit's full and short names as registered for the season; empty if review never saw it."""
        unit = await self.units.find_one({"season_id": season_id, "credit_code": credit_code})
        if unit is None:
            return ()
        return tuple(name for name in (unit.get("unit_name"), unit.get("short_name")) if name)


def judge_from_document(document: Mapping[str, Any]) -> Judge:
    """A judge of the roster as assignment weighs conflicts of interest by."""
    return Judge(
        judge_id=document["judge_id"],
        work_unit=document.get("work_unit") or "",
        work_unit_credit_code=document.get("work_unit_credit_code"),
        recommender_id=document.get("recommender_id"),
        certificate_no=document.get("certificate_no"),
    )
