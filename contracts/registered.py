"""The `registered` family: seasons, unit registrations, recommending units and judges."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from contracts.codes import ActivityKind, Channel, KeyDomain, RegistrationIntent, Stage, UnitNature
from contracts.common import Contact, Payload, Window
from contracts.identity import CreditCode, Email, Mobile, Postcode, RegionCode
from contracts.registry import contract, upcaster

FAMILY = "registered"


@contract("SeasonOpened", family=FAMILY, version=1)
class SeasonOpened(Payload):
    season_id: str = Field(pattern=r"^(\d{6}|CAQ)-\d{4}-(qc_group|team)$")
    organizer: RegionCode
    organizer_name: str = Field(min_length=2, max_length=100)
    year: int = Field(ge=2000, le=2100)
    kind: ActivityKind
    title: str = Field(min_length=2, max_length=200)
    time_zone: str = "Asia/Shanghai"
    windows: dict[Stage, Window]
    channels: list[Channel] = Field(min_length=1)


@contract("SeasonWindowChanged", family=FAMILY, version=1)
class SeasonWindowChanged(Payload):
    season_id: str
    stage: Stage
    window: Window
    reason: str = Field(min_length=2, max_length=500)


class Promoter(Contact):
    """The unit's promoter (推进者) of quality activities."""

    mobile: Mobile
    email: Email


class UnitRegistrationForm(Payload):
    """报名表: the registration form of a participating unit."""

    credit_code: CreditCode
    unit_name: str = Field(min_length=2, max_length=100, description="全称，与公章一致")
    short_name: str | None = Field(default=None, max_length=30)
    member: bool
    unit_nature: UnitNature
    unit_nature_other: str | None = Field(default=None, max_length=50)
    key_industries: list[str] = Field(default_factory=list)
    key_industry_other: str | None = Field(default=None, max_length=100)
    key_domain: KeyDomain
    address: str = Field(min_length=2, max_length=200)
    postcode: Postcode
    managing_department: str | None = Field(default=None, max_length=100)
    promoter: Promoter
    intents: list[RegistrationIntent] = Field(min_length=1)
    recommender_id: str | None = Field(default=None, max_length=64)

    @model_validator(mode="after")
    def check_other_text(self) -> "UnitRegistrationForm":
        if self.unit_nature is UnitNature.OTHER and not self.unit_nature_other:
            raise ValueError("unit_nature_other is required when unit_nature is 其他")
        return self


@contract("UnitRegistered", family=FAMILY, version=2)
class UnitRegistered(UnitRegistrationForm):
    season_id: str


@upcaster("UnitRegistered", from_version=1)
def unit_registered_v1_to_v2(payload: dict[str, Any]) -> dict[str, Any]:
    """Version 1 carried one key industry as a string; the form allows several."""
    data = dict(payload)
    single = data.pop("key_industry", None)
    data["key_industries"] = [single] if single else []
    return data


@contract("UnitRegistrationAmended", family=FAMILY, version=1)
class UnitRegistrationAmended(UnitRegistrationForm):
    season_id: str


@contract("RecommenderRegistered", family=FAMILY, version=1)
class RecommenderRegistered(Payload):
    season_id: str
    recommender_id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=2, max_length=100)
    category: str = Field(pattern=r"^(district|industry|group_company|direct)$")


@contract("JudgeRegistered", family=FAMILY, version=1)
class JudgeRegistered(Payload):
    season_id: str
    judge_id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=50)
    work_unit: str = Field(min_length=2, max_length=100)
    certificate_no: str = Field(min_length=1, max_length=50, description="TGQ 评委证书号")
    mobile: Mobile
    email: Email
