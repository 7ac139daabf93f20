"""The `published` family: public notice, publication with certificates, national recommendation."""

from __future__ import annotations

from pydantic import AwareDatetime, Field

from contracts.common import Payload
from contracts.registry import contract

FAMILY = "published"


@contract("NoticeOpened", family=FAMILY, version=1)
class NoticeOpened(Payload):
    season_id: str
    entry_ids: list[str]
    closes_at: AwareDatetime


@contract("EntryPublished", family=FAMILY, version=1)
class EntryPublished(Payload):
    season_id: str
    entry_id: str
    grade: str
    certificate_no: str = Field(min_length=1, max_length=50)


@contract("NationalRecommendationMade", family=FAMILY, version=1)
class NationalRecommendationMade(Payload):
    season_id: str
    entry_id: str
    national_season_id: str
