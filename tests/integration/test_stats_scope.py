"""Stats on the real stack answers each caller its own: a season's reports to its organizer's staff, its province's
feed and the platform-wide readers; the national view to the national association and auditors; a recommending
unit its own 统计表 row and 推荐表 summary; a unit its own entries' lines, the result only once public; contacts
masked for everyone but the organizer's staff and the owner, in JSON, CSV and XLSX; rebuilds to ops alone; a
province's audit digests narrowed to its own aggregates, never refused because another province's record was
filed under its season. Another province's season or entry answers 404 like an unknown one."""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest_asyncio
from openpyxl import load_workbook

from benchmarks.stats_events import REGISTERED, SeasonPlan, credit_code, season_events
from tests.harness import bearer, eventually
from tests.integration.stats_stack import RunningStats, running_stats

SHANGHAI = SeasonPlan(season_no=21, recommenders=2, units_per_recommender=1, entries_per_unit=2, judges=5)
SHANDONG = SeasonPlan(season_no=22, organizer="370000", recommenders=2, units_per_recommender=1, entries_per_unit=1,
                      judges=5)
# Shanghai's next season, graded and approved but not yet on notice nor published
UNPUBLISHED = SeasonPlan(season_no=23, year=2027, recommenders=1, units_per_recommender=1, entries_per_unit=2,
                         judges=5)
NOT_YET = ("NoticeOpened", "EntryPublished", "ResultsPublished")
JUDGE_MOBILE, JUDGE_EMAIL, FILLER_PHONE, STATISTICS_MOBILE = "13812345678", "judge9001@example.com", "021-12345678", "13912345670"

SH_STAFF = bearer("organizer", "310000", "staff-sh")
SD_STAFF = bearer("organizer", "370000", "staff-sd")
SH_FEED = bearer("feed", "310000", "feed-sh")
SD_FEED = bearer("feed", "370000", "feed-sd")
NATIONAL = bearer("national", "CAQ", "national-1")
AUDITOR = bearer("auditor", "audit", "auditor-1")
OPS = bearer("ops", "platform", "ops-1")
SH_R000 = bearer("recommender", "r000", "r000", organizer="310000")
SD_R000 = bearer("recommender", "r000", "r000", organizer="370000")
JUDGE = bearer("judge", "j0000", "j0000")
SH_UNIT_0 = bearer("unit", credit_code(SHANGHAI.season_no, 0), "unit-0")
SH_UNIT_1 = bearer("unit", credit_code(SHANGHAI.season_no, 1), "unit-1")
LATER_UNIT = bearer("unit", credit_code(UNPUBLISHED.season_no, 0), "unit-later")

SH, SD, LATER = SHANGHAI.season_id, SHANDONG.season_id, UNPUBLISHED.season_id
FOREIGN_RECORD = str(uuid.UUID("7a000000-0000-4000-8000-000000000370"))


def with_contacts(envelopes: Iterator[tuple[str, dict[str, Any]]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """The season's envelopes, its recommendations naming a judge with a mobile and an e-mail."""
    for topic, envelope in envelopes:
        if envelope["type"] == "EntryRecommended":
            judges = [judge | {"mobile": JUDGE_MOBILE, "email": JUDGE_EMAIL} for judge in envelope["payload"]["judges"]]
            envelope = envelope | {"payload": envelope["payload"] | {"judges": judges}}
        yield topic, envelope


def foreign_quarantine() -> dict[str, Any]:
    """A record of Shandong's feed that named Shanghai's season, quarantined there: Shandong's, filed under SH."""
    now = "2026-06-01T00:00:00+00:00"
    return {
        "event_id": str(uuid.uuid5(uuid.UUID(FOREIGN_RECORD), "1")), "type": "FeedRecordQuarantined",
        "schema_version": 1, "aggregate_id": FOREIGN_RECORD, "aggregate_version": 1, "season_id": SH,
        "organizer": "370000", "occurred_at": now, "recorded_at": now,
        "actor": {"id": "feed-sd", "role": "feed", "org": "370000"}, "channel": "feed",
        "source": {"system": "feed", "province": "370000", "external_id": "sd-unit-1", "version": 1, "batch_id": "b1"},
        "trace_id": "t1",
        "payload": {"service": "registration", "province": "370000", "batch_id": "b1", "line": 1, "record_type": "unit",
                    "external_id": "sd-unit-1", "version": 1, "season_id": SH, "raw": "{}",
                    "reasons": [{"field": "season_id", "rule": "feed.season.province",
                                 "message": "the season is another province's"}]},
    }


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stats(stack, tmp_path_factory) -> AsyncIterator[RunningStats]:
    async with running_stats(stack, tmp_path_factory.mktemp("stats-scope")) as running:
        for plan in (SHANGHAI, SHANDONG):
            for topic, envelope in with_contacts(season_events(plan)):
                await running.publish(topic, envelope)
        for topic, envelope in with_contacts(season_events(UNPUBLISHED)):
            if envelope["type"] not in NOT_YET:
                await running.publish(topic, envelope)
        await running.publish(REGISTERED, foreign_quarantine())
        await running.report(f"/seasons/{SH}/overview", lambda page: page["certificates"] > 0, SH_STAFF)
        await running.report(f"/seasons/{SD}/overview", lambda page: page["certificates"] > 0, SD_STAFF)
        await running.report(f"/seasons/{LATER}/overview", lambda page: page["feeds"]["quarantined_open"] == 0
                             and any(row["count"] for row in page["grades"]), SH_STAFF)
        await running.report(f"/seasons/{SH}/overview", lambda page: page["feeds"]["quarantined_open"] == 1, SH_STAFF)
        yield running


async def status(stats: RunningStats, path: str, headers: dict[str, str], **params: Any) -> int:
    return (await stats.get(path, headers, **params)).status_code


async def test_the_national_view_is_the_national_associations_and_the_auditors(stats: RunningStats) -> None:
    for path in ("/national/2026/overview", "/national/2026/statistics"):
        assert await status(stats, path, NATIONAL) == 200
        assert await status(stats, path, AUDITOR) == 200
        for caller in (SH_UNIT_0, SH_STAFF, SH_FEED, SH_R000, JUDGE, OPS):
            assert await status(stats, path, caller) == 403, (path, caller)


async def test_a_season_answers_its_organizers_staff_its_feed_and_the_platform_wide_readers(stats: RunningStats) -> None:
    for path in (f"/seasons/{SD}/overview", f"/seasons/{SD}/statistics", f"/seasons/{SD}/judge-workload"):
        for caller in (SD_STAFF, SD_FEED, NATIONAL, AUDITOR):
            assert await status(stats, path, caller) == 200, (path, caller)
        # another province's season answers as an unknown one
        assert await status(stats, path, SH_STAFF) == 404, path
        assert await status(stats, path, SH_FEED) == 404, path
        assert await status(stats, path.replace(SD, "370000-1999-qc_group"), SD_STAFF) == 404, path
        for caller in (SH_UNIT_0, JUDGE, OPS):
            assert await status(stats, path, caller) == 403, (path, caller)
    assert await status(stats, f"/seasons/{SD}/statistics", SH_STAFF, format="xlsx") == 404
    assert await status(stats, f"/seasons/{SH}/overview", SH_R000) == 403, "a recommending unit reads its own tables"


async def test_a_recommending_unit_reads_its_own_row_and_its_own_summary(stats: RunningStats) -> None:
    own = await stats.get(f"/seasons/{SH}/statistics", SH_R000, recommender="r000")
    assert own.status_code == 200 and own.json()["recommender_id"] == "r000"
    assert own.json()["texts"]["contact"]["mobile"] == STATISTICS_MOBILE, "its own contacts, as it gave them"
    narrowed = await stats.get(f"/seasons/{SH}/statistics", SH_R000)
    assert narrowed.status_code == 200 and narrowed.json() == own.json(), "its scope names its own row"
    assert await status(stats, f"/seasons/{SH}/statistics", SH_R000, recommender="r001") == 404
    summary = await stats.get(f"/seasons/{SH}/recommendation-summary", SH_R000, recommender="r000")
    assert summary.status_code == 200 and summary.json()["phone"] == FILLER_PHONE
    assert summary.json()["judges"][0]["mobile"] == JUDGE_MOBILE
    assert await status(stats, f"/seasons/{SH}/recommendation-summary", SH_R000, recommender="r001") == 404
    # Shandong's r000 is another recommending unit: Shanghai's season is not one it may know
    assert await status(stats, f"/seasons/{SH}/recommendation-summary", SD_R000, recommender="r000") == 404
    assert await status(stats, f"/seasons/{SH}/statistics", SD_R000, recommender="r000") == 404
    assert await status(stats, f"/seasons/{SD}/statistics", SD_R000, recommender="r000") == 200


async def test_judges_contacts_and_the_fillers_phone_are_masked_but_for_the_organizers_staff(stats: RunningStats) -> None:
    path = f"/seasons/{SH}/recommendation-summary"
    staff = (await stats.get(path, SH_STAFF, recommender="r000")).json()
    assert (staff["phone"], staff["judges"][0]["mobile"], staff["judges"][0]["email"]) == (
        FILLER_PHONE, JUDGE_MOBILE, JUDGE_EMAIL) and "masked" not in staff
    for caller in (NATIONAL, AUDITOR, SH_FEED):
        seen = (await stats.get(path, caller, recommender="r000")).json()
        assert (seen["phone"], seen["judges"][0]["mobile"], seen["judges"][0]["email"], seen["masked"]) == (
            "021****5678", "138****5678", "j***@example.com", True), caller
    for caller in (SH_UNIT_0, JUDGE):
        assert await status(stats, path, caller, recommender="r000") == 403
    assert await status(stats, path, SD_STAFF, recommender="r000") == 404
    for fmt in ("csv", "xlsx"):
        export = await stats.get(path, AUDITOR, recommender="r000", format=fmt)
        text = export.text if fmt == "csv" else cells(export.content)
        assert export.status_code == 200 and "138****5678" in text and "021****5678" in text, fmt
        assert JUDGE_MOBILE not in text and JUDGE_EMAIL not in text and FILLER_PHONE not in text, fmt
    assert JUDGE_MOBILE in (await stats.get(path, SH_STAFF, recommender="r000", format="csv")).text


async def test_the_statistics_contacts_are_masked_in_every_format(stats: RunningStats) -> None:
    path = f"/seasons/{SH}/statistics"
    assert STATISTICS_MOBILE in (await stats.get(path, SH_STAFF, format="csv")).text
    table = (await stats.get(path, NATIONAL)).json()
    assert table["masked"] is True and table["recommenders"][0]["texts"]["contact"]["mobile"] == "139****5670"
    for params in ({"format": "csv"}, {"format": "xlsx"}, {"format": "csv", "recommender": "r001"}):
        export = await stats.get(path, AUDITOR, **params)
        text = export.text if params["format"] == "csv" else cells(export.content)
        assert export.status_code == 200 and "139****5670" in text and STATISTICS_MOBILE not in text, params
        assert "stats@example.com" not in text, params


async def test_a_unit_reads_its_own_entries_lines_and_the_result_once_public(stats: RunningStats) -> None:
    path = f"/seasons/{SH}/entries/e0000000"
    staff = (await stats.get(path, SH_STAFF)).json()
    assert "published" in staff["progress"] and staff["grade"] is not None
    own = await stats.get(path, SH_UNIT_0)
    assert own.status_code == 200 and own.json() == staff, "published: the unit sees its result"
    other = await stats.get(path, SH_UNIT_1)
    unknown = await stats.get(f"/seasons/{SH}/entries/e9999999", SH_UNIT_1)
    assert (other.status_code, other.json()) == (404, {"detail": f"entry e0000000 in season {SH} is not known to stats"})
    assert unknown.status_code == 404
    recommender_other = bearer("recommender", "r001", "r001", organizer="310000")
    assert (await stats.get(path, recommender_other)).status_code == 404
    assert (await stats.get(path, SH_R000)).json() == staff
    assert await status(stats, path, SD_STAFF) == 404 and await status(stats, path, JUDGE) == 403

    later = f"/seasons/{LATER}/entries/e0000000"
    graded = (await stats.get(later, SH_STAFF)).json()
    assert graded["grade"] is not None and "approved" in graded["progress"] and "on_notice" not in graded["progress"]
    before = (await stats.get(later, LATER_UNIT)).json()
    assert before["grade"] is None and "rounds" not in before and before["result_public"] is False
    assert before["progress"] == graded["progress"], "its progress, not its result"
    assert await status(stats, later, SH_UNIT_0) == 404


async def test_rebuilds_are_the_ops_roles_alone(stats: RunningStats) -> None:
    for caller in (SH_STAFF, AUDITOR, NATIONAL, SH_FEED):
        for switch in ("if_equal", "always"):
            refused = await stats.api.post("/rebuilds", headers=caller, params={"switch": switch})
            assert refused.status_code == 403, (caller, switch)
    started = await stats.api.post("/rebuilds", headers=OPS, params={"switch": "if_equal"})
    assert started.status_code == 202, started.text
    rebuild_path = f"/rebuilds/{started.json()['rebuild_id']}"
    assert await status(stats, rebuild_path, OPS) == 200
    assert await status(stats, rebuild_path, AUDITOR) == 403 and await status(stats, rebuild_path, SH_STAFF) == 403
    outcome = await eventually(lambda: finished(stats, rebuild_path), timeout=120, interval=0.2)
    assert outcome["status"] == "switched", outcome


async def finished(stats: RunningStats, path: str) -> dict[str, Any] | None:
    view = (await stats.get(path, OPS)).json()
    return view if view["status"] not in ("requested", "running") else None


async def test_a_provinces_digests_are_narrowed_to_its_own_aggregates_never_refused(stats: RunningStats) -> None:
    async def journaled() -> dict[str, Any] | None:
        page = (await stats.get("/audit/digests", NATIONAL, season_id=SH, limit=500)).json()
        return page if FOREIGN_RECORD in {item["aggregate_id"] for item in page.get("aggregates", [])} else None

    everyone = await eventually(journaled, timeout=60)
    own = await stats.get("/audit/digests", SH_STAFF, season_id=SH, limit=500)
    assert own.status_code == 200, own.text
    ids = {item["aggregate_id"] for item in own.json()["aggregates"]}
    assert FOREIGN_RECORD not in ids and own.json()["total"] == everyone["total"] - 1
    assert ids == {item["aggregate_id"] for item in everyone["aggregates"]} - {FOREIGN_RECORD}
    foreign = await stats.get(f"/audit/aggregates/{FOREIGN_RECORD}/digests", SH_STAFF)
    unknown = await stats.get("/audit/aggregates/0f0e0d0c-0b0a-4909-8807-060504030201/digests", SH_STAFF)
    assert (foreign.status_code, unknown.status_code) == (404, 404)
    assert foreign.json()["detail"] == f"aggregate {FOREIGN_RECORD} is not known to the stats service"
    assert await status(stats, f"/audit/aggregates/{FOREIGN_RECORD}/digests", SD_STAFF) == 200
    assert await status(stats, f"/audit/aggregates/{next(iter(ids))}/digests", SH_STAFF) == 200
    assert await status(stats, "/audit/digests", SD_STAFF, season_id=SH) == 404
    assert await status(stats, "/audit/digests", SH_UNIT_0, season_id=SH) == 403


def cells(content: bytes) -> str:
    """Every cell of a workbook, as one text."""
    workbook = load_workbook(io.BytesIO(content))
    return "\n".join(str(cell.value) for sheet in workbook for row in sheet.iter_rows() for cell in row
                     if cell.value is not None)
