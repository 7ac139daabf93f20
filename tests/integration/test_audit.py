"""Audit on the real stack: an entry through submission and review, stats' journal filled from Kafka, its
history, its state as of several instants, digest chains that agree; then one stored event changed in stats'
journal and one in review's event store, and the check names exactly those events; a malformed message goes
to stats.journal.dlq while the journal keeps flowing; a redelivery changes nothing; unknown things answer 404
naming what was asked.

Registration, submission and review run in-process as in test_review_http; stats' API and worker (with its
journal process) run beside them in the same namespace.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from eventsourcing.postgres import PostgresAggregateRecorder

from contracts import parse_payload
from infra.kafka import decode
from qcp.audit_cli import DigestClient, run_check
from services.stats.audit.journal import Journal, JournalProcess, journal_collection
from tests.harness import eventually, read_topic
from tests.integration.test_review_http import (
    AUDITOR,
    CONFIRMATION,
    NOW,
    PUDONG,
    QC,
    REVIEW_OPEN,
    Calendar,
    ReviewServices,
    material,
    presentation,
    recommendation_form,
    running_review,
    set_up_season,
)
from tests.integration.test_stats_season import stats_beside
from tests.integration.test_submission_http import bearer, unit_token
from tests.unit.test_submission_forms import qc_form

STAGE_JUDGES = {"material_review": range(5), "presentation": range(4, 7)}


@dataclass
class AuditedSeason:
    services: ReviewServices
    stats: httpx.AsyncClient
    stats_api: Any
    settings: Any
    entry_id: str = ""

    async def stats_get(self, path: str, headers: dict[str, str] = AUDITOR, **params: Any) -> httpx.Response:
        return await self.stats.get(path, headers=headers, params=params)

    def digest_sources(self) -> tuple[list[DigestClient], DigestClient]:
        writers = [DigestClient(name, getattr(self.services, name), AUDITOR)
                   for name in ("registration", "submission", "review")]
        return writers, DigestClient("stats", self.stats, AUDITOR)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def audited(stack, tmp_path_factory) -> AsyncIterator[AuditedSeason]:
    calendar = Calendar(NOW)
    root = tmp_path_factory.mktemp("audit")
    async with running_review(stack, root, calendar) as running, stats_beside(stack, root, running) as stats:
        await set_up_season(running)
        yield AuditedSeason(running, stats.client, stats.api, stats.settings)


async def drive_an_entry(season: AuditedSeason) -> str:
    """Submitted, amended, confirmed, recommended, formally reviewed, judged, scored (one revision), graded;
    answers the grade reached."""
    services = season.services
    entry_id = await services.submit(0, confirm=False, topic="降低变压器装配不良率", qc_type="problem_solving")
    amendment = qc_form(0, topic="降低变压器装配不良率", qc_type="problem_solving", group_name="装配攻关QC小组")
    for path, body, reached in (
        (f"/seasons/{QC}/qc-achievements/{entry_id}/amendments", amendment, lambda item: item["form_version"] >= 2),
        (f"/seasons/{QC}/entries/{entry_id}/confirmation", CONFIRMATION, lambda item: item["status"] == "confirmed"),
    ):
        answer = await services.submission.post(path, json=body, headers=unit_token(0))
        assert answer.status_code == 200, answer.text
        await services.until(f"/seasons/{QC}/entries/{entry_id}/submission", reached)
    assert await _last_recorded(services.submission, entry_id) == 3
    await services.ok(f"/seasons/{QC}/entries/{entry_id}/recommendation", recommendation_form(1, ["TGQ-2026-0008"]),
                      PUDONG)
    await services.ok(f"/seasons/{QC}/entries/{entry_id}/formal-review", {"outcome": "passed"})
    for stage, judges in STAGE_JUDGES.items():
        await services.ok(f"/seasons/{QC}/entries/{entry_id}/assignments",
                          {"stage": stage, "judge_ids": [services.judge(index) for index in judges]})
    services.calendar.now = REVIEW_OPEN
    for stage, judges in STAGE_JUDGES.items():
        for index in judges:
            body = material("90") if stage == "material_review" else presentation("88")
            await services.ok(f"/seasons/{QC}/entries/{entry_id}/scores", body, services.judge_token(index))
    await services.ok(f"/seasons/{QC}/entries/{entry_id}/score-revisions",
                      material("92", reason="复核后更正活动过程得分"), services.judge_token(0))
    graded = await services.ok(f"/seasons/{QC}/entries/{entry_id}/grade")
    season.entry_id = entry_id
    return graded["grade"]


async def _last_recorded(submission: httpx.AsyncClient, entry_id: str) -> Any:
    answer = await submission.get(f"/audit/aggregates/{entry_id}/digests", headers=AUDITOR)
    assert answer.status_code == 200, answer.text
    return answer.json()["version"]


async def journaled(season: AuditedSeason, entry_id: str, expect: int, *, including: tuple[str, ...] = ()) -> dict[str, Any]:
    """The entry's history once at least `expect` events and every type named arrived: the journal reads
    several topics and partitions, so a count alone can be reached before a late event of another partition."""
    async def probe() -> dict[str, Any] | None:
        answer = await season.stats_get(f"/audit/entries/{entry_id}/history")
        if answer.status_code != 200 or answer.json()["total"] < expect:
            return None
        arrived = {item["type"] for item in answer.json()["events"]}
        return answer.json() if set(including) <= arrived else None

    return await eventually(probe, timeout=90)


async def test_history_state_as_of_and_agreeing_chains_then_tampering_is_named(audited: AuditedSeason) -> None:
    grade = await drive_an_entry(audited)
    entry_id = audited.entry_id
    # submitted, amended, confirmed (submission); recommended, passed, 2 assignments, 8 scores, 1 revision, graded (review)
    history = await journaled(audited, entry_id, expect=17, including=("ScoreRevised", "EntryGraded"))
    assert history["total"] == 17
    events = history["events"]
    types = [item["type"] for item in events]
    assert types[:2] == ["EntrySubmitted", "EntryAmended"] and types[-1] == "EntryGraded", types
    assert types.count("ScoreRecorded") == 8 and types.count("ScoreRevised") == 1
    for item in events:
        assert item["actor"]["id"] and item["actor"]["role"] and item["actor"]["org"], item
        assert item["channel"]["code"] and item["source"]["system"] == "qc-platform"
        assert item["recorded_at"]["utc"].endswith("Z") and item["recorded_at"]["shanghai"].endswith("+08:00")
        assert item["service"] in ("submission", "review") and item["topic"].endswith(f"{item['service']}.events")
    first = events[0]
    assert (first["actor"]["role"], first["channel"]["code"], first["type_label"]) == ("unit", "group", "成果申报")
    recommended = events[types.index("EntryRecommended")]
    assert (recommended["actor"]["role"], recommended["channel"]["code"]) == ("recommender", "recommender")

    # ---- as of several instants: before it existed, after submission, after the amendment, now
    def recorded(index: int) -> datetime:
        return datetime.fromisoformat(events[index]["recorded_at"]["utc"].replace("Z", "+00:00"))

    async def state_at(instant: datetime) -> dict[str, Any]:
        answer = await audited.stats_get(f"/audit/entries/{entry_id}/state", as_of=instant.isoformat())
        assert answer.status_code == 200, answer.text
        return answer.json()

    before = await state_at(recorded(0) - timedelta(microseconds=1))
    assert before["exists"] is False and before["state"] is None and "did not exist yet" in before["message"]
    submitted = await state_at(recorded(0))
    assert submitted["state"]["status"] == "submitted" and submitted["folded_from"]["events"] == 1
    assert submitted["state"]["form"]["group_or_team"] != "装配攻关QC小组"
    amended = await state_at(recorded(1))
    assert amended["state"]["status"] == "amended" and amended["state"]["form"]["group_or_team"] == "装配攻关QC小组"
    assert amended["state"]["recommendation"] is None
    assert (await state_at(recorded(2)))["state"]["status"] == "confirmed"
    now = await state_at(recorded(len(events) - 1) + timedelta(seconds=1))
    state = now["state"]
    assert state["recommendation"]["recommender_id"] == "pudong" and state["formal_review"]["outcome"] == "passed"
    assert len(state["judges"]["material_review"]["judge_ids"]) == 5
    assert state["scores"]["material_review"][audited.services.judge(0)]["total"] == "92"
    assert state["grade"]["grade"] == grade
    assert now["folded_from"]["events"] == len(events)

    # ---- the chains agree for the entry and for the whole season
    writers, stats = audited.digest_sources()
    checks = await run_check(writers, stats, aggregate=None, entry=entry_id, season=None)
    assert checks and all(item.ok for item in checks), [item.line() for item in checks]
    assert {item.service for item in checks} == {"submission", "review"}
    await eventually(lambda: _season_agrees(writers, stats), timeout=60)

    # ---- tamper with stats' journal: one score's payload
    score = events[types.index("ScoreRecorded") + 2]
    journal = journal_collection(audited.stats_api.state.read_model.database)
    document = await journal.find_one({"_id": score["event_id"]})
    envelope = json.loads(document["raw"])
    envelope["payload"]["total"] = "99"
    await journal.update_one({"_id": score["event_id"]}, {"$set": {"raw": json.dumps(envelope, ensure_ascii=False)}})
    checks = await run_check(writers, stats, aggregate=None, entry=entry_id, season=None)
    diverging = [item for item in checks if not item.ok]
    assert len(diverging) == 1, [item.line() for item in checks]
    found = diverging[0].divergence
    assert (diverging[0].aggregate_id, found.event_id, found.version, found.type) == (
        score["aggregate_id"], score["event_id"], score["aggregate_version"], "ScoreRecorded")
    assert found.ours and found.theirs and found.ours != found.theirs
    assert "DIVERGES" in diverging[0].line() and score["event_id"] in diverging[0].line()
    season_checks = await run_check(writers, stats, aggregate=None, entry=None, season=QC)
    assert [item.aggregate_id for item in season_checks if not item.ok] == [score["aggregate_id"]]

    # ---- tamper with review's event store: the recommendation's stored payload
    target = events[types.index("EntryRecommended")]
    changed = await asyncio.to_thread(_change_stored_payload, audited.services.application.recorder,
                                      target["aggregate_id"], target["aggregate_version"])
    assert changed == 1
    checks = await run_check(writers, stats, aggregate=target["aggregate_id"], entry=None, season=None)
    found = checks[0].divergence
    assert found is not None and (found.event_id, found.version) == (target["event_id"], target["aggregate_version"])
    assert checks[0].service == "review"


async def _season_agrees(writers: list[DigestClient], stats: DigestClient) -> bool:
    checks = await run_check(writers, stats, aggregate=None, entry=None, season=QC)
    return bool(checks) and all(item.ok for item in checks)


def _change_stored_payload(recorder: Any, aggregate_id: str, version: int) -> int:
    """What someone with write access to the database might do: edit one stored event in place
    (SQLite or PostgreSQL, whichever the event store is)."""
    table = recorder.events_table_name
    mark = "%s" if isinstance(recorder, PostgresAggregateRecorder) else "?"
    with recorder.datastore.transaction(commit=True) as cursor:
        cursor.execute(
            f"SELECT originator_id, state FROM {table} WHERE originator_version = {mark} AND "  # noqa: S608 - the library's table
            f"(originator_id = {mark} OR originator_id = {mark})",
            (version, aggregate_id, aggregate_id.replace("-", "")),
        )
        rows = [(row["originator_id"], row["state"]) for row in cursor.fetchall()]
        for originator_id, state in rows:
            data = json.loads(bytes(state))
            data["payload"]["opinion"] = "（已被改动）" + data["payload"]["opinion"]
            cursor.execute(f"UPDATE {table} SET state = {mark} WHERE originator_id = {mark} AND originator_version = {mark}",  # noqa: S608
                           (json.dumps(data, ensure_ascii=False).encode(), originator_id, version))
        return len(rows)


async def test_a_malformed_message_goes_to_the_journal_dead_letters_and_the_journal_keeps_flowing(
    audited: AuditedSeason,
) -> None:
    topic = audited.settings.topic("submission.events")
    producer = AIOKafkaProducer(bootstrap_servers=audited.settings.kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b'{"type": "EntrySubmitted", "not": "an envelope"', key=b"garbage")
    finally:
        await producer.stop()
    dead = await read_topic(audited.settings.kafka_bootstrap, audited.settings.topic("stats.journal.dlq"), expect=1)
    assert dead and dead[0].value.startswith(b'{"type": "EntrySubmitted"')
    headers = dict(dead[0].headers)
    assert headers["consumer_group"] == audited.settings.topic("stats.journal").encode()
    assert headers["reason"] == b"unreadable"
    calendar = audited.services.calendar
    calendar.now, then = NOW, calendar.now  # within the submission window
    try:
        later = await audited.services.submit(1, confirm=False, topic="提高灌装一次合格率", qc_type="problem_solving")
    finally:
        calendar.now = then
    history = await journaled(audited, later, expect=1)
    assert history["events"][0]["type"] == "EntrySubmitted"


async def test_unknown_things_answer_404_naming_them_and_bad_input_422(audited: AuditedSeason) -> None:
    missing = "0f0e0d0c-0b0a-4909-8807-060504030201"
    for path in (f"/audit/entries/{missing}/history", f"/audit/entries/{missing}/state"):
        answer = await audited.stats_get(path, as_of="2026-03-01T10:00:00+08:00")
        assert answer.status_code == 404 and answer.json()["detail"] == f"entry {missing} is not known to stats"
    for client, service in ((audited.stats, "stats"), (audited.services.submission, "submission")):
        answer = await client.get(f"/audit/aggregates/{missing}/digests", headers=AUDITOR)
        assert answer.status_code == 404 and missing in answer.json()["detail"] and service in answer.json()["detail"]
        season = await client.get("/audit/digests", headers=AUDITOR, params={"season_id": "999999-2099-team"})
        assert season.status_code == 404 and "season 999999-2099-team" in season.json()["detail"]
    entry_id = audited.entry_id
    assert entry_id, "the audited season has an entry"
    for bad in ("yesterday", "2026-03-01T10:00:00"):
        answer = await audited.stats_get(f"/audit/entries/{entry_id}/state", as_of=bad)
        assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == "query.as_of", answer.text
    answer = await audited.stats_get(f"/audit/entries/{entry_id}/history", headers=unit_token(0))
    assert answer.status_code == 403
    answer = await audited.stats_get(f"/audit/entries/{entry_id}/history",
                                     headers=bearer("organizer", "370000", "staff-sd"))
    assert answer.status_code == 404, "another province's organizer: an entry it may not know of"
    answer = await audited.services.review.get("/audit/aggregates/not-a-uuid/digests", headers=AUDITOR)
    assert answer.status_code == 422 and answer.json()["errors"]


async def test_a_redelivered_envelope_changes_nothing_in_the_journal(audited: AuditedSeason) -> None:
    journal = Journal(audited.stats_api.state.read_model.database)
    document = await eventually(lambda: journal.collection.find_one({"service": "registration"}), timeout=60)
    assert document["topic"] == audited.settings.topic("registration.events") and document["offset"] >= 0
    before = await journal.collection.count_documents({})
    envelope = decode(document["raw"].encode())
    process = JournalProcess(journal, audited.settings.topic_prefix)
    redelivered = await process.apply(envelope, parse_payload(envelope.type, envelope.schema_version, envelope.payload))
    assert redelivered is False
    assert await journal.collection.count_documents({}) == before
    assert await journal.collection.find_one({"_id": document["_id"]}) == document
