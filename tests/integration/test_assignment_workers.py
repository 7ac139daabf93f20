"""Two review workers on one PostgreSQL event store share a backlog of 1,000 entries passing formal review;
one is killed (SIGKILL) midway. Every entry is still assigned exactly once, no judge with a conflict of
interest is ever assigned, the loads in the read model equal the store's, and the spread is reported."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from benchmarks.review_backlog import JudgeSpec, Season, formal_review_passed, produce, shanghai_season
from contracts import Envelope
from infra.kafka import EVENT_TOPICS, ensure_topics
from infra.mongo import build_client
from infra.settings import ServiceSettings
from services.review.application import ReviewApplication
from services.review.assignment.domain import Judge, conflict_of
from services.review.assignment.read_model import AssignmentReadModel
from tests.harness import environment_for, eventually, group_caught_up, isolated_settings, new_namespace, on_postgres

ENTRIES = 1000
BLOCKED = 5
PARTITIONS = 4
STAGE = "material_review"


def big_season() -> Season:
    """100 units under 5 recommending units; 24 judges: 10 of the organizer's panel, 2 on each recommending
    unit's panel, 2 from entry units by credit code and 2 by name."""
    season = shanghai_season("310000-2024-qc_group", units=100, recommenders=5)
    units = season.units
    season.judges = [
        *(JudgeSpec(f"org{index}", f"上海市质量评审中心第{index}分中心") for index in range(10)),
        *(JudgeSpec(f"r{r}-{index}", f"推荐单位{r}专家组{index}", recommender_id=f"r{r}") for r in range(5) for index in range(2)),
        JudgeSpec("own-code-0", "某集团总部", work_unit_credit_code=units[0].credit_code),
        JudgeSpec("own-code-1", "另一集团总部", work_unit_credit_code=units[1].credit_code),
        JudgeSpec("own-name-2", units[2].unit_name.replace("质量", "质量 ")),
        JudgeSpec("own-name-3", units[3].short_name),
    ]
    return season


def short_season() -> Season:
    """Three judges for five entries: each is blocked."""
    season = shanghai_season("370000-2024-qc_group", units=5, recommenders=1, first_code=300)
    season.judges = [JudgeSpec(f"sd{index}", f"山东省质量评审中心{index}") for index in range(3)]
    return season


def start_worker(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "qcp.cli", "serve", "worker", "--service", "review"],
        env=os.environ | env,
        stdout=log_path.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def worker_environment(settings: ServiceSettings) -> dict[str, str]:
    return environment_for(settings) | {
        "QCP_POSTGRES_PORT": str(settings.postgres_port),
        "QCP_POSTGRES_DB": str(settings.postgres_db),
        "QCP_TOPIC_PARTITIONS": str(settings.topic_partitions),
    }


def outcomes(app: ReviewApplication) -> list[Envelope]:
    return [item for item in app.envelopes_after(0, 1_000_000)[0] if item.type in ("JudgesAssigned", "AssignmentBlocked")]


@pytest.mark.timeout(300)
@pytest.mark.own_event_store  # on PostgreSQL in both passes: the PostgreSQL pass leaves it out
async def test_two_workers_one_killed_midway_assign_every_entry_exactly_once(stack, tmp_path) -> None:
    began = time.monotonic()
    settings = on_postgres(
        stack, isolated_settings(stack, "review", tmp_path, new_namespace(), topic_partitions=PARTITIONS)
    )
    season, short = big_season(), short_season()
    await ensure_topics(settings, [settings.topic(name) for name in EVENT_TOPICS])
    await produce(settings.kafka_bootstrap, settings.topic("registration.events"),
                  [*season.registration_events(), *short.registration_events()])
    backlog = [formal_review_passed(season, f"e{index:04d}", season.units[index % 100]) for index in range(ENTRIES)]
    backlog += [formal_review_passed(short, f"s{index}", short.units[index]) for index in range(BLOCKED)]
    await produce(settings.kafka_bootstrap, settings.topic("review.events"), backlog)

    app = ReviewApplication(settings)  # the workers' shared store, read here
    env = worker_environment(settings)
    workers = [start_worker(env, tmp_path / f"worker-{index}.log") for index in range(2)]
    mongo = build_client(settings)
    read_model = AssignmentReadModel(mongo[settings.database_name])
    try:
        def stored_outcomes() -> int:
            return (app.recorder.max_notification_id() or 0) // 2  # Opened + the outcome per entry

        await eventually(lambda: asyncio.to_thread(lambda: stored_outcomes() >= ENTRIES // 3), timeout=120)
        os.killpg(workers[0].pid, signal.SIGKILL)
        assert workers[0].wait(timeout=10) == -signal.SIGKILL
        killed_after = stored_outcomes()

        await eventually(lambda: asyncio.to_thread(lambda: len(outcomes(app)) >= ENTRIES + BLOCKED), timeout=150)
        for topic in ("review.events", "registration.events"):
            await eventually(
                lambda topic=topic: group_caught_up(
                    settings.kafka_bootstrap, settings.topic("review.assignment"), settings.topic(topic)
                ),
                timeout=120,
            )
        drained = time.monotonic() - began

        decided = outcomes(app)
        per_entry = Counter((item.payload["season_id"], item.payload["entry_id"], item.payload["stage"]) for item in decided)
        assert len(per_entry) == ENTRIES + BLOCKED and set(per_entry.values()) == {1}, "one outcome per entry and stage"
        assigned = [item for item in decided if item.type == "JudgesAssigned"]
        blocked = [item for item in decided if item.type == "AssignmentBlocked"]
        assert len(assigned) == ENTRIES and {item.payload["season_id"] for item in assigned} == {season.season_id}
        assert len(blocked) == BLOCKED and all(item.payload["judges_eligible"] == 3 for item in blocked)

        judges = {spec.judge_id: Judge(spec.judge_id, spec.work_unit, spec.work_unit_credit_code, spec.recommender_id)
                  for spec in season.judges}
        entry_units = {f"e{index:04d}": season.units[index % 100] for index in range(ENTRIES)}
        conflicts = []
        for item in assigned:
            unit = entry_units[item.payload["entry_id"]]
            entry = app.repository.get(item.aggregate_id).entry((unit.unit_name, unit.short_name))
            assert entry.credit_code == unit.credit_code and entry.recommender_id == unit.recommender_id
            assert len(set(item.payload["judge_ids"])) == 5
            conflicts += [(entry.entry_id, j) for j in item.payload["judge_ids"] if conflict_of(judges[j], entry)]
        assert conflicts == []

        store_loads = Counter(judge for item in assigned for judge in item.payload["judge_ids"])
        projected_loads = await read_model.loads(season.season_id, STAGE)
        assert projected_loads == dict(store_loads), "each assignment counted once in the loads, crash or not"
        assert await read_model.queue.count_documents({"season_id": season.season_id}) == 5 * ENTRIES
        assert await read_model.assignments.count_documents({"status": "blocked"}) == BLOCKED

        loads = sorted(store_loads.values())
        report = {
            "entries": ENTRIES, "judges": len(judges), "judges_per_entry": 5, "workers": 2,
            "killed_after_outcomes": killed_after, "seconds": round(drained, 1),
            "load_min": loads[0], "load_max": loads[-1], "load_spread": loads[-1] - loads[0],
            "load_mean": round(sum(loads) / len(loads), 1), "loads": dict(sorted(store_loads.items())),
        }
        print("assignment load spread:", json.dumps(report, ensure_ascii=False))  # noqa: T201
        assert report["load_spread"] <= 0.1 * report["load_mean"], "approximately balanced under concurrency"
    finally:
        for worker in workers:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGTERM)
                worker.wait(timeout=30)
        await mongo.drop_database(settings.database_name)
        await mongo.close()
        app.close()
