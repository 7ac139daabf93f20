"""The `submitted` family: entries, unit confirmations and statistics tables."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from contracts.codes import ActivityKind, QcAchievementType
from contracts.common import Payload
from contracts.identity import CreditCode
from contracts.registry import contract

FAMILY = "submitted"


@contract("EntrySubmitted", family=FAMILY, version=1)
class EntrySubmitted(Payload):
    season_id: str
    entry_id: str
    kind: ActivityKind
    credit_code: CreditCode
    unit_name: str = Field(min_length=2, max_length=100)
    recommender_id: str | None = None
    group_name: str = Field(min_length=1, max_length=100)
    title: str = Field(min_length=2, max_length=200)
    qc_type: QcAchievementType | None = None
    details: dict[str, Any] = Field(default_factory=dict)


@contract("EntryAmended", family=FAMILY, version=1)
class EntryAmended(Payload):
    season_id: str
    entry_id: str
    changes: dict[str, Any]


@contract("EntryWithdrawn", family=FAMILY, version=1)
class EntryWithdrawn(Payload):
    season_id: str
    entry_id: str
    reason: str = Field(min_length=2, max_length=500)


@contract("UnitConfirmed", family=FAMILY, version=1)
class UnitConfirmed(Payload):
    season_id: str
    entry_id: str
    credit_code: CreditCode
    self_evaluation: str = Field(min_length=2, max_length=5000)


@contract("StatisticsFiled", family=FAMILY, version=1)
class StatisticsFiled(Payload):
    season_id: str
    recommender_id: str
    kind: ActivityKind
    period: str = Field(pattern=r"^\d{4}(-\d{2})?(\.\.\d{4}(-\d{2})?)?$")
    figures: dict[str, Any]
