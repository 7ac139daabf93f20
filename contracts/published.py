"""The `published` family: the guiding units' approval (指导单位审定), the public notice (公示) with its
objections, publication with certificate numbers (发布), and recommendation to the national level."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field

from contracts.common import Payload
from contracts.registry import contract

FAMILY = "published"

GuidingUnit = Annotated[str, Field(min_length=2, max_length=100)]


class Approval(Payload):
    """指导单位审定: which guiding units approved the results, and when."""

    guiding_units: list[GuidingUnit] = Field(
        min_length=1, max_length=10, title="指导单位", description="e.g. 上海市市场监督管理局, 上海市总工会, 团市委, 上海市妇联"
    )
    approved_on: date = Field(title="审定日期")
    note: str | None = Field(default=None, max_length=1000)
    entry_ids: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = Field(
        default=None, max_length=5000, description="the entries approved; every graded entry when left out"
    )


@contract("GuidingUnitsApproved", family=FAMILY, version=1)
class GuidingUnitsApproved(Payload):
    season_id: str
    entry_id: str
    grade: str
    combined_score: Decimal
    guiding_units: list[GuidingUnit] = Field(min_length=1)
    approved_on: date
    note: str | None = None


@contract("NoticeOpened", family=FAMILY, version=1)
class NoticeOpened(Payload):
    """面向社会公示: the approved entries, public from opens_at to closes_at (the season's notice window)."""

    season_id: str
    entry_ids: list[str] = Field(min_length=1)
    opens_at: AwareDatetime
    closes_at: AwareDatetime


class Objection(Payload):
    """异议: who objects (a person or organization, as received by the secretariat) and on what grounds."""

    objector: str = Field(min_length=2, max_length=100, title="异议人（单位或个人）")
    contact: str | None = Field(default=None, max_length=100, title="联系方式")
    grounds: str = Field(min_length=10, max_length=5000, title="异议事实与理由")


@contract("ObjectionFiled", family=FAMILY, version=1)
class ObjectionFiled(Objection):
    season_id: str
    entry_id: str
    objection_id: str = Field(min_length=1, max_length=40)


class ObjectionDecision(Payload):
    """The secretariat's finding: dismissed, or upheld with its remedy (a regrade or the result withdrawn)."""

    outcome: Literal["upheld", "dismissed"]
    finding: str = Field(min_length=2, max_length=5000, title="调查结论")
    remedy: Literal["regrade", "withdraw"] | None = Field(default=None, description="for an upheld objection")
    grade: str | None = Field(default=None, max_length=40, description="regrade: the new grade band's code")
    combined_score: Decimal | None = Field(default=None, ge=0, le=1000, description="regrade: the corrected score, if any")


@contract("ObjectionResolved", family=FAMILY, version=1)
class ObjectionResolved(Payload):
    season_id: str
    entry_id: str
    objection_id: str = Field(min_length=1, max_length=40)
    outcome: Literal["upheld", "dismissed"]
    finding: str = Field(min_length=2, max_length=5000)
    remedy: Literal["regrade", "withdraw"] | None = None


@contract("EntryResultWithdrawn", family=FAMILY, version=1)
class EntryResultWithdrawn(Payload):
    """A compensating event: the entry's result is withdrawn (not published) after an upheld objection."""

    season_id: str
    entry_id: str
    objection_id: str = Field(min_length=1, max_length=40)
    reason: str = Field(min_length=2, max_length=5000)


@contract("EntryPublished", family=FAMILY, version=1)
class EntryPublished(Payload):
    season_id: str
    entry_id: str
    unit_name: str
    entry_name: str
    grade: str
    grade_label: str
    combined_score: Decimal
    certificate_no: str = Field(min_length=1, max_length=50, description="unique and sequential per season, e.g. 2024-QC-0001")


@contract("ResultsPublished", family=FAMILY, version=1)
class ResultsPublished(Payload):
    """The season's publication run: how many certificates, and their first and last numbers."""

    season_id: str
    certificates: int = Field(ge=1)
    first_certificate_no: str
    last_certificate_no: str


class NationalRecommendation(Payload):
    national_season_id: str = Field(pattern=r"^CAQ-[0-9]{4}-(qc_group|team)$", description="e.g. CAQ-2024-qc_group")
    note: str | None = Field(default=None, max_length=1000)


@contract("NationalRecommendationMade", family=FAMILY, version=1)
class NationalRecommendationMade(NationalRecommendation):
    """推荐全国: a graded entry the organizer chose (好中选优) recommended to the national association's season."""

    season_id: str
    entry_id: str
    certificate_no: str = Field(description="empty when the entry is recommended before its result is published")
    grade: str
    # --- national flow (issue 10): the entry the national season received; absent on events stored before it
    national_entry_id: str | None = Field(default=None, max_length=64)
