"""The `recommended` family: recommendations by recommending units, their revocation, and formal review."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field

from contracts.codes import ActivityKind
from contracts.common import Payload
from contracts.identity import CreditCode
from contracts.registry import contract

FAMILY = "recommended"


class RecommendationJudge(Payload):
    name: str = Field(min_length=1, max_length=50)
    work_unit: str = Field(min_length=2, max_length=100)
    certificate_no: str = Field(min_length=1, max_length=50)


@contract("EntryRecommended", family=FAMILY, version=1)
class EntryRecommended(Payload):
    season_id: str
    entry_id: str
    recommender_id: str
    score: Decimal = Field(ge=0, le=100)
    rank: int = Field(ge=1)
    conformance: str = Field(min_length=1, max_length=2000)
    features: str = Field(min_length=1, max_length=2000)
    shortcomings: str = Field(min_length=1, max_length=2000)
    opinion: str = Field(min_length=1, max_length=2000)
    judges: list[RecommendationJudge] = Field(min_length=1)


@contract("RecommendationRevoked", family=FAMILY, version=1)
class RecommendationRevoked(Payload):
    season_id: str
    entry_id: str
    recommender_id: str
    reason: str = Field(min_length=2, max_length=500)


@contract("FormalReviewPassed", family=FAMILY, version=1)
class FormalReviewPassed(Payload):
    """资料形式审查 passed: the entry goes on to the expert panel (judge assignment starts from this event)."""

    season_id: str = Field(min_length=1, max_length=64)
    entry_id: str = Field(min_length=1, max_length=64)
    credit_code: CreditCode = Field(description="the entry's unit (conflicts of interest)")
    recommender_id: str | None = Field(default=None, max_length=64, description="the recommending unit, if any")
    kind: ActivityKind
