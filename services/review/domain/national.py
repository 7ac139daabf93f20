"""The national level as a flow: a province's recommendations become entries of the national season.

A national season (the national association's, CAQ-{year}-{kind}) receives what each province recommends to
the national level (推荐全国优秀质量管理小组), either from the province's own review on this platform (its
organizer's NationalRecommendationMade) or from the province's feed (a `national_recommendation` record). Each
becomes a national entry: an `EntryReview` of the national season, opened by `NationalEntryReceived`, that the
national review then takes through formal review, judges, scores and a grade like any other entry.

Rules (rule id: source):
- `national.season.unknown`: the national season is opened first (中国质协字〔2024〕59号: 提交至服务平台).
- `season.window.recommendation` on the national season: provinces submit by its closing instant (CAQ 2024: 8月31日前;
  a province's own units recommend within the province's window, Tibet 2024: 8月20日前).
- `national.quota.per_province`: at most the national season's quota for the province (全国推荐名额).
- `national.not_graded` (platform): the province's review graded the entry in one of its bands and the result stands;
  which of them go on is the organizer's choice (好中选优), not only the top band. The Shanghai 2020 notice sends
  national materials by 09-15, before the city's results in December, so publication is not required.
- `feed.national.not_recommended` (feed): the province's own recommendation of the entry is on record.
- `national.duplicate`: an entry goes to the national level once.

The province's national entries are counted on a `ProvinceSlate` (bookkeeping, not published) saved in the same
transaction as the national entry, and the national entry's id is derived from the national season and the
provincial season and entry: two recommendations at the same moment collide in the event store, so neither a
quota nor exactly-once creation depends on timing.
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate, event

from contracts.identity import stable_uuid
from infra.errors import Conflict, RuleViolation
from services.review.domain.inbound import SeasonView


def national_entry_id(national_season_id: str, provincial_season_id: str, provincial_entry_id: str) -> str:
    """The national entry's id: the same provincial entry always becomes the same national entry."""
    return str(stable_uuid("national-entry", national_season_id, provincial_season_id, provincial_entry_id))


def province_slate_id(national_season_id: str, province: str) -> UUID:
    return stable_uuid("province-slate", national_season_id, province)


class ProvinceSlate(Aggregate):
    """The national entries one province has sent to one national season (its 全国推荐名额 used)."""

    @staticmethod
    def create_id(national_season_id: str, province: str) -> UUID:
        return province_slate_id(national_season_id, province)

    @event("ProvinceSlateOpened")
    def __init__(self, national_season_id: str, province: str) -> None:
        self.national_season_id = national_season_id
        self.province = province
        self.entries: list[str] = []

    @event("NationalEntryCounted")
    def add(self, national_entry_id: str) -> None:
        self.entries.append(national_entry_id)


def province_of(season_id: str) -> str:
    """Season ids begin with their organizer's code (a province's GB/T 2260 code)."""
    return season_id.split("-", 1)[0]


def check_national_season(
    national_season: SeasonView | None, national_season_id: str, provincial: SeasonView, field: str
) -> SeasonView:
    """The national season is known, of the provincial season's year and kind."""
    _, year, kind = national_season_id.split("-")
    if kind != provincial.kind.value or int(year) != provincial.year:
        raise RuleViolation(
            field, "national.season",
            f"a {provincial.year} {provincial.kind.label} entry goes to the national season "
            f"CAQ-{provincial.year}-{provincial.kind.value}, not {national_season_id}",
        )
    if national_season is None:
        raise Conflict(
            field, "national.season.unknown",
            f"the national season {national_season_id} is not open (yet): the national association opens it before "
            "the provinces submit their recommendations",
        )
    return national_season


def check_province_quota(national_season: SeasonView, slate: ProvinceSlate | None, province: str, field: str) -> None:
    """全国推荐名额: a province sends at most its quota of entries to the national season."""
    quota = national_season.province_quota
    if quota is None:
        return
    allowed = quota.of(province)
    used = len(slate.entries) if slate else 0
    if used >= allowed:
        raise Conflict(
            field, "national.quota.per_province",
            f"province {province} has sent {used} of its {allowed} recommendations to the national season "
            f"{national_season.season_id} (全国推荐名额 {allowed}); no further entry is taken",
        )
