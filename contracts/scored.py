"""The `scored` family: judges' scores per stage and the resulting grade."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field

from contracts.common import Payload
from contracts.registry import contract

FAMILY = "scored"


@contract("ScoreRecorded", family=FAMILY, version=1)
class ScoreRecorded(Payload):
    season_id: str
    entry_id: str
    judge_id: str
    stage: str = Field(pattern=r"^(material_review|presentation)$")
    criteria: dict[str, Decimal]
    total: Decimal = Field(ge=0)
    reason: str | None = Field(default=None, max_length=500)


@contract("EntryGraded", family=FAMILY, version=1)
class EntryGraded(Payload):
    season_id: str
    entry_id: str
    combined_score: Decimal = Field(ge=0)
    grade: str = Field(min_length=1, max_length=20)
