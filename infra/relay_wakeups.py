"""What wakes the outbox relay: PostgreSQL's notification when events are stored, or a short poll for SQLite."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Protocol

import psycopg
from psycopg import sql

from infra.stopping import sleep_unless_stopped

log = logging.getLogger(__name__)

# Why the relay looked at the event store again (the label of qcp_relay_wakes_total).
START = "start"  # the relay began
NOTIFY = "notify"  # a transaction that stored events committed
LISTEN = "listen"  # the listener (re)connected: what was stored while it was away is looked for
POLL = "poll"  # the interval passed with nothing heard (SQLite's short poll, PostgreSQL's fallback)
BACKLOG = "backlog"  # the last batch was full: more is waiting
RETRY = "retry"  # the last batch failed
STANDBY = "standby"  # another worker holds the lease
STOP = "stop"

TRIGGER = "qcp_outbox_notify"


class Wakeups(Protocol):
    """When the relay next reads the event store, and why."""

    listening: bool

    async def start(self) -> None: ...

    def before_read(self) -> None:
        """Called just before the relay reads: what is stored from here on wakes it again."""

    async def wait(self, stop: asyncio.Event) -> str:
        """Until the relay should read again (or stop); the reason."""

    async def close(self) -> None: ...


class Poll:
    """For SQLite, which cannot notify: the relay reads again after a short interval."""

    listening = False

    def __init__(self, interval: float) -> None:
        self.interval = interval

    async def start(self) -> None:
        return None

    def before_read(self) -> None:
        return None

    async def wait(self, stop: asyncio.Event) -> str:
        return STOP if await sleep_unless_stopped(stop, self.interval) else POLL

    async def close(self) -> None:
        return None


class PostgresNotifications:
    """LISTENs on the channel a trigger on the events table notifies.

    The trigger (installed here, once per table) fires for every statement that stores events, whoever the
    writer is, and PostgreSQL delivers its notification when that transaction commits, never before. A
    notification can still be missed (the listener's connection lost, PostgreSQL restarted), so the relay
    also reads every `fallback_interval` while it listens, and every `poll_interval` while it does not; the
    listener reconnects on its own and wakes the relay once it listens again."""

    def __init__(
        self,
        conninfo: str,
        schema: str,
        table: str,
        *,
        fallback_interval: float = 5.0,
        poll_interval: float = 0.2,
        reconnect_backoff: float = 1.0,
    ) -> None:
        self.conninfo = conninfo
        self.schema = schema
        self.table = table
        self.channel = f"qcp_outbox_{table}"[:63]
        self.fallback_interval = fallback_interval
        self.poll_interval = poll_interval
        self.reconnect_backoff = reconnect_backoff
        self.listening = False
        self.connections = 0  # how many times the listener connected (1 + its reconnections)
        self.backend_pid: int | None = None  # the listening session, for operators (and a test that ends it)
        self._pending = asyncio.Event()
        self._reason = NOTIFY
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._listen(), name=f"relay listener {self.channel}")

    def before_read(self) -> None:
        self._pending.clear()

    @property
    def pending(self) -> bool:
        """Whether a wake-up waits for the relay's next wait (a notification, or the listener back)."""
        return self._pending.is_set()

    async def wait(self, stop: asyncio.Event) -> str:
        timeout = self.fallback_interval if self.listening else self.poll_interval
        waiters = [asyncio.ensure_future(self._pending.wait()), asyncio.ensure_future(stop.wait())]
        try:
            await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        if stop.is_set():
            return STOP
        return self._reason if self._pending.is_set() else POLL

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        self.listening = False

    def _wake(self, reason: str) -> None:
        self._reason = reason
        self._pending.set()

    async def _listen(self) -> None:
        failures = 0
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True) as connection:
                    await self._install_trigger(connection)
                    await connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
                    self.listening, self.backend_pid = True, connection.info.backend_pid
                    self.connections += 1
                    if failures:
                        log.warning("relay listens again on %s after %d failed attempts", self.channel, failures)
                    failures = 0
                    self._wake(LISTEN)
                    while True:
                        async for _ in connection.notifies(timeout=self.fallback_interval):
                            self._wake(NOTIFY)
                        # nothing heard for a while: a connection that died without a word is found here
                        await connection.execute("SELECT 1")
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - PostgreSQL away or restarted: polled meanwhile, then again
                self.listening = False
                failures += 1
                if failures == 1:
                    log.warning("relay stopped listening on %s, polling every %s s until it listens again: %s",
                                self.channel, self.poll_interval, error)
                await asyncio.sleep(self.reconnect_backoff)

    async def _install_trigger(self, connection: psycopg.AsyncConnection) -> None:
        """The events table's notify trigger, created once; workers starting together take turns."""
        table = sql.Identifier(self.schema, self.table)
        function = sql.Identifier(self.schema, TRIGGER)
        lock = int.from_bytes(hashlib.sha256(f"{TRIGGER}:{self.table}".encode()).digest()[:8], "big", signed=True)
        async with connection.transaction():
            await connection.execute("SELECT pg_advisory_xact_lock(%s)", (lock,))
            cursor = await connection.execute(
                "SELECT 1 FROM pg_trigger WHERE tgrelid = %s::regclass AND tgname = %s",
                (f"{self.schema}.{self.table}", TRIGGER),
            )
            if await cursor.fetchone() is not None:
                return
            await connection.execute(sql.SQL(
                "CREATE OR REPLACE FUNCTION {}() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN PERFORM pg_notify(TG_ARGV[0], ''); RETURN NULL; END $$"
            ).format(function))
            # once per statement, and PostgreSQL folds equal notifications of one transaction into one
            await connection.execute(sql.SQL(
                "CREATE TRIGGER {} AFTER INSERT ON {} FOR EACH STATEMENT EXECUTE FUNCTION {}({})"
            ).format(sql.Identifier(TRIGGER), table, function, sql.Literal(self.channel)))
            log.info("relay notify trigger installed on %s.%s (channel %s)", self.schema, self.table, self.channel)
