"""Provincial feeds on the real stack: registration, submission and review in-process, with their workers.

The three example feeds (feeds/examples: Shanghai, Shandong, Tibet gzipped) go through `qcp feed post`'s
core, in dependency order; every refusal of a whole batch stores nothing; bad records are quarantined
with their reasons, queryable, and taken when corrected; posting again changes nothing; a higher version
amends; a batch posted twice at once is taken once; the events on Kafka carry their source.
"""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest_asyncio

from qcp.feed_cli import post_feed, read_feed
from tests.harness import TOKENS, eventually
from tests.integration.test_review_http import ReviewServices, everything_on, running_review
from tests.integration.test_submission_http import Calendar, bearer

EXAMPLES = Path(__file__).resolve().parents[2] / "feeds" / "examples"
NOW = datetime(2026, 11, 1, 2, tzinfo=UTC)  # after the example seasons' dates
SHANGHAI, SHANDONG, TIBET = "310000", "370000", "540000"


def feed_token(province: str) -> str:
    return TOKENS.mint(f"feed-{province}", "feed", province)


def feed_headers(province: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {feed_token(province)}"} | extra


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def platform(stack, tmp_path_factory) -> AsyncIterator[ReviewServices]:
    async with running_review(stack, tmp_path_factory.mktemp("feeds"), Calendar(NOW)) as running:
        for season in json.loads((EXAMPLES / "seasons.json").read_text(encoding="utf-8")):
            answer = await running.registration.post(
                "/seasons", json=season, headers=bearer("organizer", season["organizer"], "staff"))
            assert answer.status_code == 201, answer.text
        for season_id in ("310000-2026-qc_group", "370000-2026-qc_group", "370000-2026-team", "540000-2026-qc_group"):
            await running.until(f"/seasons/{season_id}", headers=bearer("national", "CAQ", "caq"))
            await eventually(lambda season_id=season_id: _ok(running.submission, f"/seasons/{season_id}"))
        yield running


async def _ok(client: httpx.AsyncClient, path: str) -> bool:
    answer = await client.get(path, headers=bearer("national", "CAQ", "caq"))
    return answer.status_code == 200


def clients(platform: ReviewServices) -> dict[str, httpx.AsyncClient]:
    return {"registration": platform.registration, "submission": platform.submission, "review": platform.review}


def stored(platform: ReviewServices) -> tuple[int, ...]:
    applications = (platform.registration_application, platform.application,
                    platform.submission._transport.app.state.application)  # type: ignore[attr-defined]  # noqa: SLF001
    return tuple(application.recorder.max_notification_id() or 0 for application in applications)


async def quarantine(platform: ReviewServices, service: str, **query: Any) -> dict[str, Any]:
    answer = await clients(platform)[service].get("/feeds/quarantine", params=query,
                                                  headers=bearer("national", "CAQ", "caq"))
    assert answer.status_code == 200, answer.text
    return answer.json()


# ---------------------------------------------------------------- refusals of a whole batch


async def test_a_truncated_gzip_is_refused_and_nothing_is_stored(platform: ReviewServices) -> None:
    packed = (EXAMPLES / "tibet-2026.ndjson.gz").read_bytes()
    before = stored(platform)
    answer = await platform.registration.post("/feeds/batches", content=packed[:-40],
                                              headers=feed_headers(TIBET, **{"Content-Encoding": "gzip"}))
    assert answer.status_code == 400 and answer.json()["errors"][0]["rule"] == "feed.gzip.truncated", answer.text
    assert stored(platform) == before


async def test_an_oversize_batch_is_refused_with_413_before_anything_is_stored(platform: ReviewServices) -> None:
    line = json.dumps({"record_type": "registration", "province": SHANGHAI, "external_id": "X", "version": 1,
                       "season": "310000-2026-qc_group", "data": {}})
    before = stored(platform)
    answer = await platform.registration.post("/feeds/batches", content=gzip.compress(((line + "\n") * 50_001).encode()),
                                              headers=feed_headers(SHANGHAI))
    assert answer.status_code == 413 and answer.json()["errors"][0]["rule"] == "feed.batch.too_many_records"
    assert stored(platform) == before


async def test_an_unknown_province_or_another_role_is_refused_with_403(platform: ReviewServices) -> None:
    before = stored(platform)
    for headers in ({"Authorization": f"Bearer {TOKENS.mint('x', 'feed', '310100')}"},
                    {"Authorization": f"Bearer {TOKENS.mint('x', 'feed', '990000')}"},
                    bearer("organizer", SHANGHAI, "staff")):
        answer = await platform.submission.post("/feeds/batches", content=b"{}\n", headers=headers)
        assert answer.status_code == 403, answer.text
        assert answer.json()["detail"]
    assert stored(platform) == before


async def test_lines_that_are_not_json_and_another_provinces_records_are_quarantined(platform: ReviewServices) -> None:
    other = {"record_type": "registration", "province": SHANDONG, "external_id": "SD-X-1", "version": 1,
             "season": "370000-2026-qc_group", "data": {}}
    body = ("not json at all\n" + json.dumps(other) + "\n").encode()
    answer = await platform.registration.post("/feeds/batches", content=body, headers=feed_headers(SHANGHAI),
                                              params={"batch_id": "refusals-1"})
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["total"] | {} == {"in": 2, "accepted": 0, "amendments": 0, "duplicates": 0, "stale": 0,
                                    "quarantined": 2}
    page = await eventually(lambda: _quarantined(platform, "refusals-1", 2))
    rules = {item["line"]: item["reasons"][0]["rule"] for item in page["items"]}
    assert rules == {1: "feed.line.json", 2: "feed.province.mismatch"}


async def _quarantined(platform: ReviewServices, batch_id: str, count: int) -> dict[str, Any] | None:
    page = await quarantine(platform, "registration", batch_id=batch_id)
    return page if page["total"] == count else None


# ---------------------------------------------------------------- the example feeds, end to end


EXPECTED = {
    # Shanghai: 30 records and one line that is not JSON. Registrations: 5 + 1 amendment + 1 duplicate accepted,
    # the invalid credit code, the parent-prefixed name and Jiangsu's record quarantined. Entries: 6 + 1 amendment;
    # no 组长, and the unit whose registration was refused. Recommendations: 5; one dated in the future. Results: 4;
    # one whose score is below its grade.
    "shanghai-2026.ndjson": {
        "registration": {"in": 10, "accepted": 6, "amendments": 1, "duplicates": 1, "stale": 0, "quarantined": 3},
        "entry": {"in": 9, "accepted": 7, "amendments": 1, "duplicates": 0, "stale": 0, "quarantined": 2},
        "unreadable": {"in": 1, "accepted": 0, "amendments": 0, "duplicates": 0, "stale": 0, "quarantined": 1},
        "recommendation": {"in": 6, "accepted": 5, "amendments": 0, "duplicates": 0, "stale": 0, "quarantined": 1},
        "result": {"in": 5, "accepted": 4, "amendments": 0, "duplicates": 0, "stale": 0, "quarantined": 1},
    },
    # Shandong, on its own forms (profiles shandong-2024-qc and -team): no 报名, so its units' entries come without
    # registrations; the three registration lines are refused (no header; a 报名 record where the season has no 报名表;
    # a record for Shanghai's season). Entries: 4 QC and 5 team entries (附件4's fields only) + 1 amendment, a duplicate,
    # and the team named “…班组”. Results: the one whose entry was never recommended.
    "shandong-2026.ndjson": {
        "entry": {"in": 11, "accepted": 9, "amendments": 1, "duplicates": 1, "stale": 0, "quarantined": 1},
        "recommendation": {"in": 8, "accepted": 7, "amendments": 0, "duplicates": 1, "stale": 0, "quarantined": 0},
        "registration": {"in": 3, "accepted": 0, "amendments": 0, "duplicates": 0, "stale": 0, "quarantined": 3},
        "result": {"in": 7, "accepted": 6, "amendments": 1, "duplicates": 0, "stale": 0, "quarantined": 1},
    },
    # Tibet, on the national association's forms (caq-2024-qc): registrations without Shanghai's boxes; the invalid
    # credit code quarantined; an older entry version after a newer one is stale; one line is not JSON.
    "tibet-2026.ndjson.gz": {
        "entry": {"in": 4, "accepted": 3, "amendments": 0, "duplicates": 1, "stale": 1, "quarantined": 0},
        "recommendation": {"in": 2, "accepted": 2, "amendments": 0, "duplicates": 0, "stale": 0, "quarantined": 0},
        "registration": {"in": 4, "accepted": 3, "amendments": 0, "duplicates": 0, "stale": 0, "quarantined": 1},
        "result": {"in": 2, "accepted": 2, "amendments": 0, "duplicates": 0, "stale": 0, "quarantined": 0},
        "unreadable": {"in": 1, "accepted": 0, "amendments": 0, "duplicates": 0, "stale": 0, "quarantined": 1},
    },
}


async def test_the_three_example_feeds_go_end_to_end(platform: ReviewServices) -> None:
    reports = {}
    for name, province in (("shanghai-2026.ndjson", SHANGHAI), ("shandong-2026.ndjson", SHANDONG),
                           ("tibet-2026.ndjson.gz", TIBET)):
        text = read_feed(EXAMPLES / name)
        report = await post_feed(text, clients(platform), feed_token(province), wait_seconds=90, echo=print)
        reports[name] = report
        total = report["total"]
        assert total["in"] == total["accepted"] + total["duplicates"] + total["quarantined"]
        assert total["in"] == len([line for line in text.split(b"\n") if line.strip()])
    print(json.dumps({name: report["by_type"] for name, report in reports.items()}, ensure_ascii=False))
    for name, expected in EXPECTED.items():
        assert reports[name]["by_type"] == expected, name
    assert reports["tibet-2026.ndjson.gz"]["by_type"]["entry"]["stale"] == 1

    # The events on Kafka carry their source: province, external id, version and batch.
    registered = await eventually(lambda: _events(platform, "registration", "UnitRegistered", 5))
    source = registered[0]["source"]
    assert source["system"] == "feed" and source["province"] in {SHANGHAI, SHANDONG, TIBET}
    assert source["external_id"] and source["version"] >= 1 and source["batch_id"]
    amended = await eventually(lambda: _events(platform, "submission", "EntryAmended", 1))
    assert {item["source"]["version"] for item in amended} == {2}
    assert all(item["channel"] == "feed" and item["actor"]["role"] == "feed" for item in amended)
    results = await eventually(lambda: _events(platform, "review", "ProvincialResultRecorded", 5))
    assert {item["payload"]["grade_label"] for item in results} >= {"标杆级", "一等成果"}

    # Each service recorded each batch's report once it was complete.
    batch = reports["tibet-2026.ndjson.gz"]["batch_id"]
    recorded = await eventually(lambda: _batch_report(platform, f"{batch}-registration", TIBET))
    assert recorded["records"] == 5 and recorded["by_type"]["registration"]["quarantined"] == 1

    # Posting the same feed again changes nothing and answers the same totals, now as duplicates.
    before = stored(platform)
    again = await post_feed(read_feed(EXAMPLES / "shanghai-2026.ndjson"), clients(platform), feed_token(SHANGHAI),
                            wait_seconds=5)
    first = reports["shanghai-2026.ndjson"]["total"]
    assert again["total"]["in"] == first["in"] and again["total"]["accepted"] == 0
    assert again["total"]["quarantined"] == first["quarantined"]
    assert stored(platform) == before, "posting the same feed again stored something"
    assert all(answer["repeated"] for answer in again["by_service"].values())


async def test_the_shandong_feed_is_taken_on_shandongs_own_forms(platform: ReviewServices) -> None:
    """Run after the example feeds: what Shandong's feed had refused, and why, in each service's quarantine."""
    refused = {}
    for service in ("registration", "submission", "review"):
        page = await quarantine(platform, service, province=SHANDONG)
        refused |= {item.get("external_id") or f"line {item['line']}": item["reasons"][0]["rule"] for item in page["items"]}
    assert refused["SD-2026-QU006"] == "registration.not_offered"
    assert refused["SH-2026-U099"] == "feed.province.mismatch"
    assert refused["SD-2026-TE005"] == "entry.team_name.suffix"
    assert refused["SD-2026-TG003"] == "feed.result.not_recommended"
    assert not any(rule.startswith("profile.") for rule in refused.values()), refused
    entries = await platform.submission.get("/seasons/370000-2026-team/entries", headers=bearer("national", "CAQ", "caq"))
    forms = [item["form"] for item in entries.json()["items"]]
    assert forms and all(form["contact_name"] and form.get("member") is None and form.get("commitments") is None
                         for form in forms)


async def _batch_report(platform: ReviewServices, batch_id: str, province: str) -> dict[str, Any] | None:
    answer = await platform.registration.get(f"/feeds/batches/{batch_id}", params={"province": province},
                                             headers=feed_headers(province))
    return answer.json() if answer.status_code == 200 else None


async def _events(platform: ReviewServices, service: str, type_: str, at_least: int) -> list[dict[str, Any]] | None:
    topic = platform.settings.own_topic.replace("review.", f"{service}.")
    found = [item for item in await everything_on(platform.settings.kafka_bootstrap, topic)
             if item["type"] == type_ and item["source"]["system"] == "feed"]
    return found if len(found) >= at_least else None


async def test_a_quarantined_record_is_queryable_and_taken_when_corrected(platform: ReviewServices) -> None:
    record = _example("shanghai-2026.ndjson", "SH-2026-E007")
    first = await platform.submission.post("/feeds/batches", content=json.dumps(record, ensure_ascii=False).encode(),
                                           headers=feed_headers(SHANGHAI), params={"batch_id": "correction-1"})
    assert first.json()["total"]["in"] == 1
    page = await eventually(lambda: _page_with(platform, "SH-2026-E007", resolved=False))
    (item,) = page["items"]
    assert item["reasons"] == [{"field": "members", "rule": "entry.qc.leader",
                                "message": item["reasons"][0]["message"]}] and "组长" in item["reasons"][0]["message"]
    assert json.loads(item["raw"])["external_id"] == "SH-2026-E007" and item["line"] >= 1 and item["batch_id"]

    corrected = record | {"version": 2}
    corrected["data"] = record["data"] | {"members": [
        {"name": "邓超", "role": "leader", "job_title": "班长"}, *record["data"]["members"]]}
    second = await platform.submission.post("/feeds/batches", content=json.dumps(corrected, ensure_ascii=False).encode(),
                                            headers=feed_headers(SHANGHAI), params={"batch_id": "correction-2"})
    assert second.json()["total"]["accepted"] == 1, second.text
    resolved = await eventually(lambda: _page_with(platform, "SH-2026-E007", resolved=True))
    assert resolved["items"][0]["resolved_by_batch"] == "correction-2"
    scoped = await platform.submission.get("/feeds/quarantine", params={"province": SHANDONG},
                                           headers=feed_headers(SHANGHAI))
    # a province reads its own quarantine only: naming another province's selects nothing
    assert (scoped.status_code, scoped.json()["total"], scoped.json()["items"]) == (200, 0, []), scoped.text


async def _page_with(platform: ReviewServices, external_id: str, *, resolved: bool) -> dict[str, Any] | None:
    page = await quarantine(platform, "submission", province=SHANGHAI, record_type="entry", external_id=external_id,
                            resolved=str(resolved).lower())
    return page if page["total"] >= 1 else None


def _example(name: str, external_id: str) -> dict[str, Any]:
    for line in read_feed(EXAMPLES / name).split(b"\n"):
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("external_id") == external_id:
            return record
    raise AssertionError(f"{external_id} not in {name}")


async def test_one_batch_posted_twice_at_the_same_moment_is_taken_once(platform: ReviewServices) -> None:
    records = []
    for index in range(1, 4):
        record = _example("tibet-2026.ndjson.gz", f"XZ-2026-U{index:03d}")
        records.append(record | {"external_id": f"XZ-2026-C{index:03d}", "version": 1,
                                 "data": record["data"] | {"address": f"西藏自治区拉萨市城关区北京中路{index}号"}})
    body = "\n".join(json.dumps(item, ensure_ascii=False) for item in records).encode()
    answers = await asyncio.gather(*(
        platform.registration.post("/feeds/batches", content=body, headers=feed_headers(TIBET),
                                   params={"batch_id": "twice-at-once"})
        for _ in range(2)
    ))
    assert [answer.status_code for answer in answers] == [200, 200], [answer.text for answer in answers]
    totals = [answer.json()["total"] for answer in answers]
    assert sum(total["accepted"] for total in totals) == 3, totals
    assert all(total["accepted"] + total["duplicates"] == 3 for total in totals)
