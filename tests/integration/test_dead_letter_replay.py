"""`qcp dlq`: a message dead-lettered for a cause that is then fixed is replayed into the read model once,
whether the replay runs twice or is interrupted between handing a message back and marking it."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import dataclasses
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from click.testing import CliRunner
from pydantic import BaseModel

from contracts import Envelope
from contracts.envelope import event_id_for
from infra.bootstrap import build_worker
from infra.kafka import encode, ensure_topics
from infra.projection import Event, Outcome, apply_each
from infra.settings import ServiceSettings
from qcp.cli import cli
from qcp.demo import demo_registration
from qcp.dlq import DeadLetter, read_dead_letters, replay
from qcp.services import definition
from qcp.status import NOT_RUNNING, service_status
from services.registration.adapters.read_model import RegistrationReadModel
from tests.harness import environment_for, eventually, group_caught_up, isolated_settings, new_namespace

SEASON = "310000-2026-qc_group"
CAUSE = "the read model refuses this unit until its organizer's record is corrected"


def registration(index: int) -> Envelope:
    aggregate = uuid.uuid5(uuid.NAMESPACE_URL, f"dlq-replay-registration-{index}")
    now = datetime.now(UTC)
    return Envelope(
        event_id=event_id_for(aggregate, 1), type="UnitRegistered", schema_version=2, aggregate_id=aggregate,
        aggregate_version=1, season_id=SEASON, organizer="310000", occurred_at=now, recorded_at=now,
        actor={"id": "staff-1", "role": "organizer", "org": "310000"}, channel="organizer", source={},
        trace_id="trace", payload=demo_registration(index) | {"season_id": SEASON},
    )


POISON, HEALTHY = registration(0), registration(1)


class RefusingReadModel:
    """Registration's real read model, refusing one unit's event while `refusing` (the cause, fixed by the test)."""

    def __init__(self, inner: RegistrationReadModel) -> None:
        self.inner = inner
        self.refusing = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def apply(self, envelope: Envelope, payload: BaseModel) -> bool:
        if self.refusing and envelope.aggregate_id == POISON.aggregate_id:
            raise ValueError(CAUSE)
        return await self.inner.apply(envelope, payload)

    async def apply_batch(self, events: Sequence[Event]) -> list[Outcome]:
        """A batch event by event through `apply`, so the refusal applies to consumers taking batches too."""
        return await apply_each(self, events)


@dataclasses.dataclass
class Running:
    settings: ServiceSettings
    read_model: RefusingReadModel
    worker_url: str

    async def document(self) -> dict[str, Any] | None:
        return await self.read_model.inner.registrations.find_one({"_id": str(POISON.aggregate_id)})

    async def caught_up(self) -> bool:
        return await group_caught_up(self.settings.kafka_bootstrap, self.settings.consumer_group,
                                     self.settings.own_topic)

    async def qcp(self, *arguments: str) -> str:
        """The command line as an operator runs it (in a thread: it runs its own event loop)."""
        result = await asyncio.to_thread(CliRunner().invoke, cli, list(arguments), env=environment_for(self.settings),
                                         catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output


@pytest.fixture
async def dead_lettered(stack, tmp_path) -> AsyncIterator[Running]:
    """Registration's worker running, POISON dead-lettered for CAUSE, HEALTHY projected; the cause not yet fixed."""
    settings = isolated_settings(stack, "registration", tmp_path, new_namespace())
    await ensure_topics(settings, [settings.own_topic, settings.dead_letter_topic])
    models: list[RefusingReadModel] = []

    def build_read_model(database: Any) -> RefusingReadModel:
        models.append(RefusingReadModel(RegistrationReadModel(database)))
        return models[-1]

    worker = build_worker(dataclasses.replace(definition("registration"), build_read_model=build_read_model), settings)
    stop = asyncio.Event()
    port = free_port()
    task = asyncio.create_task(worker.run(stop, port=port))
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for envelope in (POISON, HEALTHY):
            value, key, _ = encode(envelope)
            await producer.send_and_wait(settings.own_topic, value, key=key)
    finally:
        await producer.stop()
    running = Running(settings, models[0], f"http://127.0.0.1:{port}")
    try:
        await eventually(lambda: running.read_model.inner.registrations.find_one({"_id": str(HEALTHY.aggregate_id)}),
                         timeout=90)
        await eventually(lambda: _waiting(settings), timeout=60)
        yield running
    finally:
        stop.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(task), timeout=20)
        if not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def _waiting(settings: ServiceSettings) -> list[DeadLetter]:
    return (await read_dead_letters(settings, settings.dead_letter_topic)).waiting


async def test_a_dead_letter_replayed_after_its_cause_is_fixed_is_applied_and_a_second_replay_changes_nothing(
    dead_lettered: Running,
) -> None:
    settings = dead_lettered.settings
    (letter,) = await _waiting(settings)
    assert (letter.headers["consumer_group"], letter.headers["reason"], letter.original_topic) == (
        settings.consumer_group, "unprojectable", settings.own_topic)
    assert CAUSE in letter.headers["error"] and letter.key == str(POISON.aggregate_id).encode()
    assert await dead_lettered.document() is None
    assert "1 waiting, 0 replayed" in await dead_lettered.qcp("dlq", "show", "--service", "registration")

    dead_lettered.read_model.refusing = False  # the cause fixed
    assert "1 replayed, 0 replayed before" in await dead_lettered.qcp(
        "dlq", "replay", "--service", "registration", "--reason", "unprojectable")
    document = await eventually(dead_lettered.document, timeout=60)
    assert (document["_version"], document["_applied_events"]) == (1, 1)

    assert "0 replayed, 1 replayed before" in await dead_lettered.qcp("dlq", "replay", "--service", "registration")
    await eventually(dead_lettered.caught_up, timeout=60)
    assert await dead_lettered.document() == document
    assert await _waiting(settings) == []


class Killed(Exception):
    """A replay stopped after handing a message back, before marking it replayed."""


async def test_a_replay_interrupted_after_handing_back_and_run_again_applies_the_message_once(
    dead_lettered: Running,
) -> None:
    settings = dead_lettered.settings
    dead_lettered.read_model.refusing = False

    def killed(_: DeadLetter) -> None:
        raise Killed

    with pytest.raises(Killed):
        await replay(settings, [settings.dead_letter_topic], hand_back=killed)
    await eventually(dead_lettered.document, timeout=60)
    assert len(await _waiting(settings)) == 1  # not marked: the next replay hands it back again

    report = await replay(settings, [settings.dead_letter_topic])
    assert report.replayed == {settings.dead_letter_topic: 1}
    await eventually(dead_lettered.caught_up, timeout=60)
    document = await dead_lettered.document()
    assert (document["_version"], document["_applied_events"]) == (1, 1)


async def test_the_status_row_shows_the_worker_ready_its_lag_and_the_dead_letter_waiting(dead_lettered: Running) -> None:
    settings = dead_lettered.settings

    async def measured() -> Any:  # the worker measures its lag every few seconds
        row = await service_status("registration", "http://127.0.0.1:9", dead_lettered.worker_url, settings)
        return row if row.consumer_lag == f"{settings.consumer_group} 0" and row.relay_lag != "-" else None

    row = await eventually(measured, timeout=60)
    assert (row.api, row.worker, row.relay_lag, row.consumer_lag, row.dead_letters) == (
        NOT_RUNNING, "ready", "0", f"{settings.consumer_group} 0", f"{settings.dead_letter_topic} 1")
