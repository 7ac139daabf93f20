"""On PostgreSQL the relay is told when events are stored (LISTEN/NOTIFY from a trigger on the events table):
a stored event is published on the notification, not on the fallback poll; with the notifications lost it
is still published, by the fallback poll; and the listener comes back after its session is ended."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import psycopg
import pytest
import pytest_asyncio
from psycopg import sql

from contracts.registered import UnitRegistrationForm
from infra.bootstrap import build_relay
from infra.idempotency import IdempotencyKey
from infra.metrics import ServiceMetrics
from infra.relay import OutboxRelay
from infra.relay_lease import postgres_conninfo
from infra.relay_wakeups import NOTIFY, POLL, TRIGGER, PostgresNotifications
from infra.settings import ServiceSettings
from qcp.demo import demo_registration
from services.registration.application import RegistrationApplication
from tests.harness import eventually, isolated_settings, new_namespace, on_postgres, read_topic
from tests.integration.test_outbox_relay import SECRETARIAT, store_season_with_units

pytestmark = pytest.mark.own_event_store  # PostgreSQL's notifications: the first pass runs it, not twice


@dataclass
class RunningRelay:
    settings: ServiceSettings
    app: RegistrationApplication
    relay: OutboxRelay
    season_id: str

    @property
    def listener(self) -> PostgresNotifications:
        assert isinstance(self.relay.wakeups, PostgresNotifications)
        return self.relay.wakeups

    async def idle_and_listening(self, connections: int = 1) -> None:
        """The listener connected (this many times) and the relay read after that and waits: only a
        notification (or the fallback poll) wakes it now."""
        async def ready() -> bool:
            return (self.listener.listening and self.listener.connections >= connections
                    and not self.listener.pending and self.relay.waiting)
        await eventually(ready, timeout=30)

    def register(self, index: int) -> None:
        form = UnitRegistrationForm.model_validate(demo_registration(index))
        self.app.register_unit(self.season_id, form, SECRETARIAT)

    async def on_kafka(self, expect: int) -> int:
        """How many events are on the topic once `expect` are, and the relay has recorded its position past them."""
        async def settled() -> bool:
            return self.relay.waiting and await self.relay.position() == self.app.recorder.max_notification_id()

        records = await read_topic(self.settings.kafka_bootstrap, self.settings.own_topic, expect=expect, timeout=60)
        await eventually(settled, timeout=30)
        return len(records)

    def execute(self, statement: sql.Composable) -> None:
        with psycopg.connect(postgres_conninfo(self.settings), autocommit=True) as connection:
            connection.execute(statement)


async def start_relay(stack, tmp_path, fallback: float) -> AsyncIterator[RunningRelay]:  # noqa: ANN001
    settings = isolated_settings(stack, "registration", tmp_path, new_namespace(), relay_fallback_poll_seconds=fallback)
    settings = on_postgres(stack, settings)
    app = RegistrationApplication(settings)
    season_id = store_season_with_units(app, 1)
    relay = build_relay(settings, app, ServiceMetrics("registration"))
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    try:
        running = RunningRelay(settings, app, relay, season_id)
        await running.idle_and_listening()
        assert await running.on_kafka(expect=2) == 2  # the season and the unit stored before it started
        yield running
    finally:
        stop.set()
        await task
        app.close()


@pytest_asyncio.fixture(loop_scope="session")
async def told(stack, tmp_path) -> AsyncIterator[RunningRelay]:
    # a fallback poll far beyond the test: whatever the relay publishes here, a notification told it to
    async for running in start_relay(stack, tmp_path, fallback=600.0):
        yield running


@pytest_asyncio.fixture(loop_scope="session")
async def deaf(stack, tmp_path) -> AsyncIterator[RunningRelay]:
    async for running in start_relay(stack, tmp_path, fallback=1.0):
        yield running


async def test_a_stored_event_is_published_on_the_notification_of_its_commit(told: RunningRelay) -> None:
    before = told.relay.published_after.copy()

    told.register(1)

    assert await told.on_kafka(expect=3) == 3
    assert told.relay.published_after - before == {NOTIFY: 1}
    assert told.relay.wakes[POLL] == 0


async def test_with_the_notifications_lost_the_fallback_poll_still_publishes(deaf: RunningRelay) -> None:
    deaf.execute(sql.SQL("ALTER TABLE {} DISABLE TRIGGER {}").format(
        sql.Identifier(deaf.listener.schema, deaf.listener.table), sql.Identifier(TRIGGER)))
    wakes_by_notify = deaf.relay.wakes[NOTIFY]

    deaf.register(1)

    assert await deaf.on_kafka(expect=3) == 3
    assert deaf.relay.published_after[POLL] == 1
    assert deaf.relay.wakes[NOTIFY] == wakes_by_notify


async def test_the_listener_reconnects_after_its_session_is_ended_and_is_told_again(told: RunningRelay) -> None:
    ended = told.listener.backend_pid
    told.execute(sql.SQL("SELECT pg_terminate_backend({})").format(sql.Literal(ended)))
    await told.idle_and_listening(connections=2)
    before = told.relay.published_after.copy()

    told.register(1)

    assert await told.on_kafka(expect=3) == 3
    assert told.listener.backend_pid != ended
    assert told.relay.published_after - before == {NOTIFY: 1}


async def test_the_trigger_is_installed_once_however_many_relays_start(stack, tmp_path) -> None:  # noqa: ANN001
    settings = on_postgres(stack, isolated_settings(stack, "registration", tmp_path, new_namespace()))
    app = RegistrationApplication(settings)
    schema, table = app.recorder.datastore.schema, app.recorder.events_table_name  # type: ignore[attr-defined]
    listeners = [PostgresNotifications(postgres_conninfo(settings), schema, table) for _ in range(2)]
    try:
        for listener in listeners:
            await listener.start()

        async def all_listening() -> bool:
            return all(item.listening for item in listeners)

        await eventually(all_listening, timeout=30)
        with psycopg.connect(postgres_conninfo(settings), autocommit=True) as connection:
            rows = connection.execute(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal", (f"{schema}.{table}",)
            ).fetchall()
        assert rows == [(TRIGGER,)]
    finally:
        for listener in listeners:
            await listener.close()
        app.close()


async def test_a_backlog_with_bookkeeping_among_its_events_is_published_without_waiting_for_a_wake(
    stack, tmp_path  # noqa: ANN001
) -> None:
    """Commands with idempotency keys store a bookkeeping event beside each domain event: a whole batch of
    notifications publishes fewer events than the batch size, and the relay must still read on at once."""
    settings = on_postgres(stack, isolated_settings(stack, "registration", tmp_path, new_namespace(),
                                                    relay_fallback_poll_seconds=3600, relay_batch_size=4))
    app = RegistrationApplication(settings)
    season_id = store_season_with_units(app, 1)
    for index in range(1, 5):
        form = UnitRegistrationForm.model_validate(demo_registration(index))
        app.register_unit(season_id, form, SECRETARIAT,
                          IdempotencyKey.for_request(f"key-{index}", SECRETARIAT.actor.id, "/registrations", index))
    relay = build_relay(settings, app, ServiceMetrics("registration"))
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    try:
        records = await read_topic(settings.kafka_bootstrap, settings.own_topic, expect=6, timeout=60)
        assert len(records) == 6  # the season and five units; none of the four bookkeeping events
    finally:
        stop.set()
        await task
        app.close()
