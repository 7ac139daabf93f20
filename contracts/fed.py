"""The `fed` family: what the national platform records of provinces' feeds.

A province's platform sends its season in batches (NDJSON); each record is handled by the service
that owns its rules. Registrations and entries become the ordinary `registered` and `submitted`
events (with `source` naming the province, its external id, the record's version and the batch);
what has no event of its own at the national platform — the province's recommendations and results —
is recorded here, as are the records the platform refused (the quarantine) and each batch's report.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

from pydantic import Field, StringConstraints

from contracts.common import Payload
from contracts.registry import contract

FAMILY = "fed"

ExternalId = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[0-9A-Za-z][0-9A-Za-z_.:/-]*$")]


class Reason(Payload):
    """Why a record was refused: the field, the rule and a message, as an HTTP refusal gives them."""

    field: str = Field(max_length=200)
    rule: str = Field(max_length=100)
    message: str = Field(max_length=2000)


class RecordCounts(Payload):
    """One record type's line of a batch report: received (`in`) = accepted + duplicates + quarantined."""

    received: int = Field(ge=0)
    accepted: int = Field(ge=0)
    amendments: int = Field(ge=0, description="of the accepted: higher versions of records accepted before")
    duplicates: int = Field(ge=0)
    stale: int = Field(ge=0, description="of the duplicates: versions below the latest accepted one, not applied")
    quarantined: int = Field(ge=0)


class _OfABatch(Payload):
    """Which service recorded it, for which province, from which batch."""

    service: str
    province: str
    batch_id: str


@contract("FeedRecordQuarantined", family=FAMILY, version=1)
class FeedRecordQuarantined(_OfABatch):
    """A record (or a line that is not one) refused with every reason, kept with its raw text."""

    line: int = Field(ge=1)
    record_type: str | None = None
    external_id: str | None = None
    version: int | None = None
    season_id: str | None = None
    reasons: list[Reason] = Field(min_length=1)
    raw: str = Field(description="the line as the province sent it (truncated to 100,000 characters)")


@contract("FeedQuarantineResolved", family=FAMILY, version=1)
class FeedQuarantineResolved(_OfABatch):
    """A quarantined record was sent again (same or higher version) and accepted; `batch_id` is the accepting batch."""

    record_type: str
    external_id: str
    accepted_version: int = Field(ge=1)


@contract("FeedBatchReported", family=FAMILY, version=1)
class FeedBatchReported(_OfABatch):
    """What one batch brought to one service, per record type; recorded when the batch was complete."""

    content_sha256: str
    records: int = Field(ge=0)
    by_type: dict[str, RecordCounts]


# --- the province's recommendations and results of its entries -----------------------------


class ProvincialRecommendationForm(Payload):
    """A province's recommendation of one of its entries (its 推荐表 line) as its platform recorded it."""

    entry: ExternalId = Field(description="the province's external id of the entry")
    recommender_name: str = Field(min_length=2, max_length=100, description="推荐单位名称")
    rank: int | None = Field(default=None, ge=1, le=1000, description="排序")
    opinion: str = Field(min_length=2, max_length=2000, description="推荐意见")
    recommended_on: date = Field(description="填表日期")


class ProvincialResultForm(Payload):
    """A province's result of one of its entries: the grade band, score and certificate it published."""

    entry: ExternalId = Field(description="the province's external id of the entry")
    grade: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$", description="a grade band code of the season")
    score: Decimal = Field(ge=0, le=1000, decimal_places=2)
    certificate_no: str | None = Field(default=None, min_length=3, max_length=50)
    published_on: date


class _ProvincialRecommendation(ProvincialRecommendationForm):
    season_id: str
    entry_id: str
    province: str
    credit_code: str
    recommender_id: str | None = None


class _ProvincialResult(ProvincialResultForm):
    season_id: str
    entry_id: str
    province: str
    credit_code: str
    grade_label: str


@contract("ProvincialRecommendationRecorded", family=FAMILY, version=1)
class ProvincialRecommendationRecorded(_ProvincialRecommendation):
    """The province recommended the entry (provincial fact, not the national platform's own 推荐)."""


@contract("ProvincialRecommendationAmended", family=FAMILY, version=1)
class ProvincialRecommendationAmended(_ProvincialRecommendation):
    """A higher version of the province's recommendation replaces the earlier one."""


@contract("ProvincialResultRecorded", family=FAMILY, version=1)
class ProvincialResultRecorded(_ProvincialResult):
    """The province's published result of the entry, checked against the season's grade bands."""


@contract("ProvincialResultAmended", family=FAMILY, version=1)
class ProvincialResultAmended(_ProvincialResult):
    """A higher version of the province's result replaces the earlier one."""
