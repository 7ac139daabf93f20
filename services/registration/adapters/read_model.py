"""Registration's own projection of registration.events: seasons, unit registrations, recommending units, judges.

Documents mirror aggregates (infra.mongo.apply_versioned); coded values get their Chinese labels
beside them, so the API answers with what the forms print. Only the common MongoDB subset
FerretDB serves is used: equality filters, sort, skip, limit, count.
"""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from contracts import Envelope
from contracts.codes import (
    ActivityKind,
    Channel,
    KeyDomain,
    KeyIndustry,
    RecommenderCategory,
    RegistrationIntent,
    Stage,
    UnitNature,
)
from contracts.identity import region_label
from contracts.season_profile import adjusted_profile_fields, channel_label, season_profile
from infra.feeds import FEED_ROUTES, create_feed_indexes
from infra.mongo import DocumentProjection, public


def _by(envelope: Envelope) -> dict[str, Any]:
    return envelope.actor.model_dump(mode="json")


def _season(envelope: Envelope, data: dict[str, Any]) -> dict[str, Any]:
    profile = season_profile(data["kind"], data.get("profile"))
    return data | {
        "labels": {
            "kind": ActivityKind(data["kind"]).label,
            "organizer": region_label(data["organizer"]),
            "stages": {stage: Stage(stage).label for stage in data["windows"]},
            "channels": [channel_label(Channel(channel), profile) for channel in data["channels"]],
        },
        "profile": profile.ref.model_dump(mode="json"),
        "opened_at": envelope.recorded_at,
        "opened_by": _by(envelope),
    }


def _window_change(envelope: Envelope, data: dict[str, Any]) -> dict[str, Any]:
    if data.get("round"):  # a review round's own window, or 形式审查's: kept beside the declared rounds
        return {
            f"round_windows.{data['round']}": data["window"],
            "last_window_change": {
                "round": data["round"], "reason": data["reason"], "changed_at": envelope.recorded_at,
                "changed_by": _by(envelope),
            },
        }
    return {
        f"windows.{data['stage']}": data["window"],
        f"labels.stages.{data['stage']}": Stage(data["stage"]).label,
        "last_window_change": {
            "stage": data["stage"],
            "reason": data["reason"],
            "changed_at": envelope.recorded_at,
            "changed_by": _by(envelope),
        },
    }


def registration_labels(data: dict[str, Any]) -> dict[str, Any]:
    kind = data["season_id"].rsplit("-", 1)[-1]
    kind = kind if kind in {item.value for item in ActivityKind} else ActivityKind.QC_GROUP.value
    return {
        "unit_nature": UnitNature(data["unit_nature"]).label if data.get("unit_nature") else None,
        "key_domain": KeyDomain(data["key_domain"]).label if data.get("key_domain") else None,
        "key_industries": [
            {"code": item.value, "label": item.label, "group": item.group.value, "group_label": item.group.label}
            for item in map(KeyIndustry, data.get("key_industries") or [])
        ],
        "intents": [
            {"code": item.value, "label": item.label_for(kind)} for item in map(RegistrationIntent, data.get("intents") or [])
        ],
    }


def _registration(envelope: Envelope, data: dict[str, Any]) -> dict[str, Any]:
    moment, who = ("registered_at", "registered_by") if envelope.type == "UnitRegistered" else ("amended_at", "amended_by")
    return data | {
        "organizer": envelope.organizer,
        "labels": registration_labels(data),
        moment: envelope.recorded_at,
        who: _by(envelope),
        "channel": envelope.channel.value,
    }


def _recommender(envelope: Envelope, data: dict[str, Any]) -> dict[str, Any]:
    return data | {
        "organizer": envelope.organizer,
        "labels": {"category": RecommenderCategory(data["category"]).label},
        "quota": None,
        "registered_at": envelope.recorded_at,
        "registered_by": _by(envelope),
    }


def _quota_raise(envelope: Envelope, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "quota": data["quota"],
        "quota_raise": {
            "previous": data["previous"],
            "reason": data["reason"],
            "raised_at": envelope.recorded_at,
            "raised_by": _by(envelope),
        },
    }


def _cancelled(envelope: Envelope, data: dict[str, Any]) -> dict[str, Any]:
    cancellation = {"reason": data["reason"], "cancelled_at": envelope.recorded_at, "cancelled_by": _by(envelope)}
    return {"cancellation": cancellation}


def _team_name_suffix(envelope: Envelope, data: dict[str, Any]) -> dict[str, Any]:
    approval = {"reason": data["reason"], "approved_at": envelope.recorded_at, "approved_by": _by(envelope)}
    return {f"team_name_suffixes.{data['suffix']}": approval}


def _judge(envelope: Envelope, data: dict[str, Any]) -> dict[str, Any]:
    return data | {"organizer": envelope.organizer, "registered_at": envelope.recorded_at, "registered_by": _by(envelope)}


def _profile_adjusted(envelope: Envelope, data: dict[str, Any]) -> dict[str, Any]:
    return adjusted_profile_fields(data) | {"profile_adjusted_at": envelope.recorded_at, "profile_adjusted_by": _by(envelope)}


def _equal(filters: dict[str, Any] | None) -> dict[str, Any]:
    """Equality filters, those left empty (None) dropped."""
    return {key: value for key, value in (filters or {}).items() if value is not None}


class RegistrationReadModel(DocumentProjection):
    """Documents per season, unit registration, recommending unit and judge, updated once per event version."""

    def __init__(self, database: AsyncDatabase) -> None:
        super().__init__(
            database,
            {
                "SeasonOpened": ("seasons", _season),
                "SeasonWindowChanged": ("seasons", _window_change),
                "SeasonProfileAdjusted": ("seasons", _profile_adjusted),
                "UnitRegistered": ("unit_registrations", _registration),
                "UnitRegistrationAmended": ("unit_registrations", _registration),
                "RecommenderRegistered": ("recommenders", _recommender),
                "RecommenderQuotaRaised": ("recommenders", _quota_raise),
                "RecommenderCancelled": ("recommenders", _cancelled),
                "TeamNameSuffixApproved": ("seasons", _team_name_suffix),
                "JudgeRegistered": ("judges", _judge),
                **FEED_ROUTES,
            },
        )
        self.seasons = database["seasons"]
        self.registrations = database["unit_registrations"]
        self.recommenders = database["recommenders"]
        self.judges = database["judges"]

    async def create_indexes(self) -> None:
        await create_feed_indexes(self.database)
        await self.seasons.create_index([("season_id", ASCENDING)])
        await self.registrations.create_index([("season_id", ASCENDING), ("credit_code", ASCENDING)])
        await self.registrations.create_index([("credit_code", ASCENDING), ("season_id", ASCENDING)])
        await self.recommenders.create_index([("season_id", ASCENDING), ("recommender_id", ASCENDING)])
        await self.judges.create_index([("season_id", ASCENDING), ("certificate_no", ASCENDING)])

    async def season(self, season_id: str) -> dict[str, Any] | None:
        return public(await self.seasons.find_one({"season_id": season_id}))

    async def season_quota(self, season_id: str) -> dict[str, Any] | None:
        """The season's quota rule (推荐名额), which a recommending unit has unless the organizer raised its own."""
        return (await self.season(season_id) or {}).get("quota")

    async def registration(self, season_id: str, credit_code: str) -> dict[str, Any] | None:
        return public(await self.registrations.find_one({"season_id": season_id, "credit_code": credit_code}))

    async def registrations_of(
        self, season_id: str, *, skip: int, limit: int, filters: dict[str, Any] | None = None
    ) -> tuple[int, list[dict[str, Any]]]:
        """A season's registrations, by credit code; filters are equality on fields (an array field matches any element)."""
        query = {"season_id": season_id} | _equal(filters)
        return await self._page(self.registrations, query, "credit_code", skip, limit)

    async def registrations_of_unit(
        self, *, skip: int, limit: int, filters: dict[str, Any]
    ) -> tuple[int, list[dict[str, Any]]]:
        """One unit's registrations across seasons: `filters` name its credit code (and the caller's scope)."""
        return await self._page(self.registrations, _equal(filters), "season_id", skip, limit)

    async def recommender(self, season_id: str, recommender_id: str) -> dict[str, Any] | None:
        return public(await self.recommenders.find_one({"season_id": season_id, "recommender_id": recommender_id}))

    async def recommenders_of(
        self, season_id: str, *, skip: int, limit: int, filters: dict[str, Any] | None = None
    ) -> tuple[int, list[dict[str, Any]]]:
        """A season's recommending units, by id; filters as for registrations (e.g. `category`)."""
        query = {"season_id": season_id} | _equal(filters)
        return await self._page(self.recommenders, query, "recommender_id", skip, limit)

    async def judges_of(
        self, season_id: str, *, skip: int, limit: int, filters: dict[str, Any] | None = None
    ) -> tuple[int, list[dict[str, Any]]]:
        """A season's judges, by certificate number; filters as for registrations (e.g. `recommender_id`)."""
        query = {"season_id": season_id} | _equal(filters)
        return await self._page(self.judges, query, "certificate_no", skip, limit)

    @staticmethod
    async def _page(collection: Any, query: dict[str, Any], order: str, skip: int, limit: int) -> tuple[int, list[dict[str, Any]]]:
        total = await collection.count_documents(query)
        cursor = collection.find(query).sort([(order, ASCENDING), ("_id", ASCENDING)]).skip(skip).limit(limit)
        return total, [public(item) async for item in cursor]
