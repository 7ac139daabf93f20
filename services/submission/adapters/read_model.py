"""Submission's projection: seasons and registered units (from registration.events), and its own
entries, statistics tables and work summaries (from submission.events).

Only the subset of MongoDB that FerretDB supports: finds, counts, indexes and version-guarded
updates; no aggregation lookups, no transactions, no keys with dots or a leading $.
"""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from contracts import Envelope
from contracts.submitted import EntryStatus
from contracts.season_profile import adjusted_profile_fields
from infra.feeds import FEED_ROUTES, create_feed_indexes
from infra.mongo import DocumentProjection, payload_fields, public
from services.submission.adapters.documents import registered_unit_from_document, season_from_document
from services.submission.domain.season import RegisteredUnit, SeasonView


def _window_change(_: Envelope, data: dict[str, Any]) -> dict[str, Any]:
    return {f"windows.{data['stage']}": data["window"]}


def _team_name_suffix(_: Envelope, data: dict[str, Any]) -> dict[str, Any]:
    return {f"team_name_suffixes.{data['suffix']}": {"reason": data["reason"]}}


def _unit(_: Envelope, data: dict[str, Any]) -> dict[str, Any]:
    # Only what submission checks entries against: identity, names, recommending unit.
    keep = ("season_id", "credit_code", "unit_name", "short_name", "member", "recommender_id", "intents")
    return {key: data.get(key) for key in keep}


def _recommender(_: Envelope, data: dict[str, Any]) -> dict[str, Any]:
    # Which recommending units a season has; their contacts stay with registration.
    return {key: data.get(key) for key in ("season_id", "recommender_id", "name", "category")}


def _actor(envelope: Envelope) -> dict[str, Any]:
    return {
        "actor": envelope.actor.model_dump(mode="json"),
        "channel": envelope.channel.value,
        "at": envelope.occurred_at,
        "recorded_at": envelope.recorded_at,
    }


def _entry_form(envelope: Envelope, data: dict[str, Any]) -> dict[str, Any]:
    form = data["form"]
    summary = {
        "season_id": data["season_id"],
        "entry_id": data["entry_id"],
        "organizer": envelope.organizer,
        "kind": form["kind"],
        "qc_type": form.get("qc_type"),
        "credit_code": form["credit_code"],
        "unit_name": form["unit_name"],
        "recommender_id": form.get("recommender_id"),
        "name": form.get("team_name") or form.get("group_name"),
        "topic": form.get("topic"),
        "team_type": form.get("team_type"),
        "form": form,
        "status": EntryStatus.SUBMITTED.value,
        "status_label": EntryStatus.SUBMITTED.label,
        "confirmation": None,
    }
    if envelope.type == "EntrySubmitted":
        return summary | {"submitted": _actor(envelope), "submitted_at": envelope.occurred_at, "withdrawal": None}
    return summary | {"last_amendment": _actor(envelope) | {"changed": data["changed"]}}


def _withdrawn(envelope: Envelope, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "status": EntryStatus.WITHDRAWN.value,
        "status_label": EntryStatus.WITHDRAWN.label,
        "withdrawal": _actor(envelope) | {"reason": data["reason"]},
    }


def _confirmed(envelope: Envelope, data: dict[str, Any]) -> dict[str, Any]:
    keep = ("self_evaluation", "self_score", "opinion", "sealed_form", "sealed_on")
    return {
        "status": EntryStatus.CONFIRMED.value,
        "status_label": EntryStatus.CONFIRMED.label,
        "confirmation": _actor(envelope) | {key: data.get(key) for key in keep},
    }


def _filing(envelope: Envelope, data: dict[str, Any]) -> dict[str, Any]:
    period = data["form"]["period"]
    moment = "filed" if envelope.type.endswith("Filed") else "amended"
    return data | {
        "organizer": envelope.organizer,
        "period": f"{period['first_month']}..{period['last_month']}",
        moment: _actor(envelope),
    }


class SubmissionReadModel(DocumentProjection):
    """Documents per season, registered unit, entry and filing, updated once per event version."""

    def __init__(self, database: AsyncDatabase) -> None:
        super().__init__(
            database,
            {
                "SeasonOpened": ("seasons", payload_fields),
                "SeasonWindowChanged": ("seasons", _window_change),
                "TeamNameSuffixApproved": ("seasons", _team_name_suffix),
                "SeasonProfileAdjusted": ("seasons", lambda _, data: adjusted_profile_fields(data)),
                "UnitRegistered": ("registered_units", _unit),
                "UnitRegistrationAmended": ("registered_units", _unit),
                "RecommenderRegistered": ("recommenders", _recommender),
                "EntrySubmitted": ("entries", _entry_form),
                "EntryAmended": ("entries", _entry_form),
                "EntryWithdrawn": ("entries", _withdrawn),
                "UnitConfirmed": ("entries", _confirmed),
                "StatisticsFiled": ("statistics", _filing),
                "StatisticsAmended": ("statistics", _filing),
                "WorkSummaryFiled": ("work_summaries", _filing),
                "WorkSummaryAmended": ("work_summaries", _filing),
                **FEED_ROUTES,
            },
        )
        self.seasons = database["seasons"]
        self.units = database["registered_units"]
        self.recommenders = database["recommenders"]
        self.entries = database["entries"]
        self.statistics = database["statistics"]
        self.work_summaries = database["work_summaries"]

    async def create_indexes(self) -> None:
        await create_feed_indexes(self.database)
        await self.seasons.create_index([("season_id", ASCENDING)])
        await self.units.create_index([("season_id", ASCENDING), ("credit_code", ASCENDING)])
        await self.recommenders.create_index([("season_id", ASCENDING), ("recommender_id", ASCENDING)])
        await self.entries.create_index([("season_id", ASCENDING), ("status", ASCENDING)])
        await self.entries.create_index([("season_id", ASCENDING), ("recommender_id", ASCENDING)])
        await self.entries.create_index([("credit_code", ASCENDING), ("season_id", ASCENDING)])
        await self.statistics.create_index([("season_id", ASCENDING), ("recommender_id", ASCENDING)])
        await self.work_summaries.create_index([("season_id", ASCENDING), ("recommender_id", ASCENDING)])

    async def season(self, season_id: str) -> dict[str, Any] | None:
        return public(await self.seasons.find_one({"season_id": season_id}))

    async def season_view(self, season_id: str) -> SeasonView | None:
        """The season as the commands check entries and filings against, with its recommending units."""
        document = await self.season(season_id)
        if document is None:
            return None
        return season_from_document(document, await self.recommender_ids(season_id))

    async def season_views(self, season_ids: list[str]) -> dict[str, SeasonView]:
        """The seasons submission knows of among these ids, as the commands check against."""
        seasons = {}
        for season_id in season_ids:
            season = await self.season_view(season_id)
            if season is not None:
                seasons[season_id] = season
        return seasons

    async def unit(self, season_id: str, credit_code: str) -> dict[str, Any] | None:
        return public(await self.units.find_one({"season_id": season_id, "credit_code": credit_code}))

    async def registered_unit(self, season_id: str, credit_code: str) -> RegisteredUnit | None:
        document = await self.unit(season_id, credit_code)
        return registered_unit_from_document(document) if document else None

    async def registered_units(self, season_ids: list[str], credit_codes: list[str]) -> dict[tuple[str, str], RegisteredUnit]:
        """The units of these seasons with these credit codes, by (season, credit code), in one query."""
        cursor = self.units.find({"season_id": {"$in": season_ids}, "credit_code": {"$in": credit_codes}})
        return {(item["season_id"], item["credit_code"]): registered_unit_from_document(item) async for item in cursor}

    async def find_recommenders(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        cursor = self.recommenders.find(query).sort("recommender_id", ASCENDING)
        return [public(item) async for item in cursor]  # type: ignore[misc]

    async def recommender_ids(self, season_id: str) -> frozenset[str]:
        cursor = self.recommenders.find({"season_id": season_id}, {"recommender_id": 1})
        return frozenset([item["recommender_id"] async for item in cursor])

    async def entry(self, query: dict[str, Any]) -> dict[str, Any] | None:
        return public(await self.entries.find_one(query))

    async def find_entries(self, query: dict[str, Any], *, skip: int, limit: int) -> tuple[int, list[dict[str, Any]]]:
        total = await self.entries.count_documents(query)
        cursor = (
            self.entries.find(query)
            .sort([("submitted_at", ASCENDING), ("entry_id", ASCENDING)])
            .skip(skip)
            .limit(limit)
        )
        return total, [public(item) async for item in cursor]  # type: ignore[misc]

    async def count_by_status(self, query: dict[str, Any]) -> dict[str, int]:
        return {status.value: await self.entries.count_documents(query | {"status": status.value}) for status in EntryStatus}

    async def filings(self, collection: str, query: dict[str, Any]) -> list[dict[str, Any]]:
        cursor = self.database[collection].find(query).sort("period", DESCENDING)
        return [public(item) async for item in cursor]  # type: ignore[misc]
