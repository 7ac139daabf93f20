"""The `national` family: a province's recommendation to the national level, received by a national season.

A national season (the national association's, CAQ-{year}-{kind}) takes each province's recommendations
(推荐全国优秀质量管理小组) as national entries of its own: an entry of the national season, reviewed, scored
and graded there like any other, that keeps where it came from (the province, its season and entry, and for
a feed the province's record). Sources: 中国质协字〔2024〕59号 (provinces submit by 08-31 on the national
platform) as forwarded by 藏质协字（2024）10号 (Tibet collects from its units by 08-20).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field

from contracts.common import Payload
from contracts.fed import ExternalId
from contracts.recommended import EntrySummary
from contracts.registry import contract

FAMILY = "national"

NationalSeasonId = Annotated[str, Field(pattern=r"^CAQ-[0-9]{4}-(qc_group|team)$", description="e.g. CAQ-2024-qc_group")]


class NationalRecommendationRecordForm(Payload):
    """A province's feed record `national_recommendation`: its entry (by the province's external id) to the national season."""

    entry: ExternalId = Field(description="the province's external id of the entry")
    national_season_id: NationalSeasonId
    recommended_on: date = Field(description="填表日期: when the province recommended it")
    note: str | None = Field(default=None, max_length=1000, title="推荐意见")


@contract("NationalEntryReceived", family=FAMILY, version=1)
class NationalEntryReceived(EntrySummary):
    """The national season received a province's recommendation as an entry of its own (`entry_id`).

    `season_id` is the national season. Provenance: the province, its season and its entry; `via` says whether
    the province recommended on this platform (its organizer's NationalRecommendationMade) or by its feed (the
    envelope's `source` then names the province's record, version and batch). The province's grade is what its
    own review gave, when it gave one before recommending.
    """

    province: str = Field(pattern=r"^[0-9]{6}$", description="GB/T 2260 code of the recommending province")
    provincial_season_id: str = Field(min_length=1, max_length=64)
    provincial_entry_id: str = Field(min_length=1, max_length=64)
    via: Literal["platform", "feed"]
    provincial_grade: str | None = Field(default=None, max_length=40)
    provincial_grade_label: str | None = Field(default=None, max_length=50)
    provincial_score: Decimal | None = Field(default=None, ge=0, le=1000)
    provincial_certificate_no: str | None = Field(default=None, max_length=50)
    recommended_on: date | None = None
    note: str | None = Field(default=None, max_length=1000)
