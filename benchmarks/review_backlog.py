"""Envelopes of a review season as the other services would publish them, and a producer for backlogs.

Used by the review benchmark and by the assignment tests: a season opened, its units, its judges,
entries passing formal review, judges' scores. Every payload is validated by its contract first.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aiokafka import AIOKafkaProducer

from contracts import Envelope, latest_version, payload_model
from contracts.envelope import event_id_for
from contracts.identity import stable_uuid
from infra.kafka import encode
from qcp.demo import demo_credit_code, demo_registration, demo_season

ORGANIZER_ACTOR = {"id": "secretariat-1", "role": "organizer", "org": "310000"}


def envelope(
    type_: str, aggregate_id: uuid.UUID, payload: dict[str, Any], *, version: int = 1,
    recorded_at: datetime | None = None, season_id: str | None = None, organizer: str = "310000",
) -> Envelope:
    """An envelope as the relay publishes it; the payload is checked against its contract."""
    checked = payload_model(type_).model_validate(payload).model_dump(mode="json")
    now = recorded_at or datetime.now(UTC)
    return Envelope(
        event_id=event_id_for(aggregate_id, version), type=type_, schema_version=latest_version(type_),
        aggregate_id=aggregate_id, aggregate_version=version, season_id=season_id or payload.get("season_id"),
        organizer=organizer, occurred_at=now, recorded_at=now, actor=ORGANIZER_ACTOR, channel="organizer",
        source={}, trace_id=uuid.uuid4().hex, payload=checked,
    )


@dataclass(frozen=True)
class Unit:
    credit_code: str
    unit_name: str
    short_name: str
    recommender_id: str


@dataclass(frozen=True)
class JudgeSpec:
    judge_id: str
    work_unit: str
    work_unit_credit_code: str | None = None
    recommender_id: str | None = None


@dataclass
class Season:
    """A Shanghai QC season with units spread over recommending units, and judges."""

    season_id: str
    units: list[Unit] = field(default_factory=list)
    judges: list[JudgeSpec] = field(default_factory=list)

    @property
    def year(self) -> int:
        return int(self.season_id.split("-")[1])

    def opened(self) -> Envelope:
        payload = demo_season(self.year, datetime.now(UTC)) | {"season_id": self.season_id}
        return envelope("SeasonOpened", stable_uuid("bench-season", self.season_id), payload)

    def registered_units(self) -> list[Envelope]:
        result = []
        for index, unit in enumerate(self.units):
            form = demo_registration(index % 5) | {
                "credit_code": unit.credit_code, "unit_name": unit.unit_name, "short_name": unit.short_name,
                "recommender_id": unit.recommender_id, "season_id": self.season_id,
            }
            result.append(envelope("UnitRegistered", stable_uuid("bench-unit", self.season_id, unit.credit_code), form))
        return result

    def registered_judges(self) -> list[Envelope]:
        return [judge_registered(self.season_id, index, spec) for index, spec in enumerate(self.judges)]

    def registration_events(self) -> list[Envelope]:
        return [self.opened(), *self.registered_units(), *self.registered_judges()]


def judge_registered(season_id: str, index: int, spec: JudgeSpec) -> Envelope:
    payload = {
        "season_id": season_id, "judge_id": spec.judge_id, "name": f"评委{index:03d}", "work_unit": spec.work_unit,
        "work_unit_credit_code": spec.work_unit_credit_code, "certificate_no": f"TGQ-2024-{index:05d}",
        "address": "上海市徐汇区漕溪北路1号", "mobile": f"1380000{index % 10000:04d}",
        "email": f"judge{index}@example.com", "recommender_id": spec.recommender_id,
    }
    return envelope("JudgeRegistered", stable_uuid("bench-judge", season_id, spec.judge_id), payload)


def shanghai_season(season_id: str, *, units: int, recommenders: int, first_code: int = 100) -> Season:
    """`units` units, unit i recommended by recommending unit r(i mod recommenders)."""
    return Season(
        season_id,
        units=[
            Unit(demo_credit_code(first_code + index), f"上海第{index}号质量示范有限公司", f"示范{index}号",
                 f"r{index % recommenders}")
            for index in range(units)
        ],
    )


def formal_review_passed(season: Season, entry_id: str, unit: Unit) -> Envelope:
    payload = {
        "season_id": season.season_id, "entry_id": entry_id, "credit_code": unit.credit_code,
        "recommender_id": unit.recommender_id, "kind": "qc_group",
    }
    return envelope("FormalReviewPassed", stable_uuid("bench-entry-review", season.season_id, entry_id), payload)


def judges_assigned(season_id: str, entry_id: str, judge_ids: list[str], stage: str = "material_review") -> Envelope:
    payload = {"season_id": season_id, "entry_id": entry_id, "stage": stage, "judge_ids": judge_ids,
               "assigned_by": "review.assignment"}
    return envelope("JudgesAssigned", stable_uuid("assignment", season_id, entry_id, stage), payload, version=2)


def score_recorded(season_id: str, entry_id: str, judge_id: str, index: int, stage: str = "material_review") -> Envelope:
    criteria = {"selection": Decimal(10 + index % 6), "analysis": Decimal("25.5"), "results": Decimal(30 + index % 10)}
    payload = {
        "season_id": season_id, "entry_id": entry_id, "judge_id": judge_id, "stage": stage,
        "rubric": "t_caq_10201_2020", "criteria": criteria, "total": sum(criteria.values()),
    }
    return envelope("ScoreRecorded", stable_uuid("bench-score", season_id, entry_id, judge_id, stage), payload)


async def produce(bootstrap: str, topic: str, envelopes: list[Envelope]) -> None:
    """Publish envelopes as the relay would (keyed by aggregate id, acks=all), without waiting per message."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        pending = []
        for item in envelopes:
            value, key, headers = encode(item)
            pending.append(await producer.send(
                topic, value, key=key, headers=[(name, text.encode()) for name, text in headers.items()]
            ))
        for future in pending:
            await future
    finally:
        await producer.stop()
