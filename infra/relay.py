"""Outbox relay: the event store's notification log, in order, to the service's Kafka topic."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections import Counter
from typing import Protocol

from eventsourcing.persistence import Tracking

from contracts import Envelope
from infra.eventstore import EventStoreApplication
from infra.kafka_log import kafka_reachable
from infra.metrics import ServiceMetrics
from infra.relay_lease import RelayLease
from infra.relay_producer import needs_new_producer
from infra.relay_wakeups import BACKLOG, RETRY, STANDBY, START, STOP, Poll, Wakeups
from infra.stopping import sleep_unless_stopped

log = logging.getLogger(__name__)

# Fault injection for the crash test: SIGKILL between the broker's acknowledgement
# and recording the position, the window the outbox design must survive.
CRASH_AFTER_PUBLISH_ENV = "QCP_FAULT_RELAY_CRASH_AFTER_PUBLISH"


class Producer(Protocol):
    async def publish(self, topic: str, envelopes: list[Envelope]) -> None:
        """Every envelope acknowledged by Kafka, or an error once no send of the batch is pending."""

    async def replace(self, reason: str) -> None:
        """Give up the current producer; the next publish uses a new one."""

    async def close(self) -> None: ...


class OutboxRelay:
    """Publishes stored events from the last recorded position; records the position only after Kafka acknowledged.

    It reads the store when told (`wakeups`: PostgreSQL's notification that events were stored, with a
    fallback poll, or a short poll for SQLite), and at once again while its batches come back full.
    It cannot stay stuck: a producer that fails for good, or fails the same way again and again, is
    replaced; a leader that makes no progress with a backlog hands its lease to a standby; and how
    long it has made none is there for the liveness probe."""

    def __init__(
        self,
        application: EventStoreApplication,
        topic: str,
        producer: Producer,
        metrics: ServiceMetrics,
        *,
        lease: RelayLease | None = None,
        batch_size: int = 500,
        poll_interval: float = 0.2,
        retry_backoff: float = 1.0,
        replace_after_failures: int = 3,
        yield_lease_after: float = 60.0,
        publish_timeout: float = 60.0,
        wakeups: Wakeups | None = None,
    ) -> None:
        self.application = application
        self.topic = topic
        self.producer = producer
        self.metrics = metrics
        self.lease = lease
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.retry_backoff = retry_backoff
        self.replace_after_failures = replace_after_failures
        self.yield_lease_after = yield_lease_after
        self.publish_timeout = publish_timeout
        self.wakeups: Wakeups = wakeups if wakeups is not None else Poll(poll_interval)
        # why the relay read the store, and how many events it published on a read of each reason
        self.wakes: Counter[str] = Counter()
        self.published_after: Counter[str] = Counter()
        self.waiting = False  # between a read and the next wake
        self.tracking_name = f"relay:{topic}"
        self.last_error: str | None = None
        self.backlog = 0
        # whether the last read took a whole batch of notifications: more may wait (bookkeeping ones are read past,
        # so fewer published than the batch size does not mean the backlog is drained)
        self.read_whole_batch = False
        self._failures_in_a_row = 0
        self._failed_since_published = 0
        self._last_progress = time.monotonic()

    async def position(self) -> int:
        return await asyncio.to_thread(self.application.relay_tracking.max_tracking_id, self.tracking_name) or 0

    def stalled_seconds(self) -> float:
        """How long stored events have waited with nothing published; 0 while the relay keeps up."""
        return time.monotonic() - self._last_progress if self.backlog else 0.0

    async def publish_pending(self) -> int:
        """One batch: read after the position, publish, await acks, record. Returns how many were published."""
        position = await self.position()
        envelopes, last = await asyncio.to_thread(self.application.envelopes_after, position, self.batch_size)
        self.read_whole_batch = last - position >= self.batch_size
        if not envelopes:
            if last > position:  # bookkeeping only: read past it, or the next read would take the same again
                await asyncio.to_thread(self.application.relay_tracking.insert_tracking,
                                        Tracking(self.tracking_name, last))
            self._progressed()
            return 0
        # A producer can also hang without an error after a broker restart (seen under the fault suite):
        # a batch that takes this long is a failure, and the producer is replaced.
        await asyncio.wait_for(self.producer.publish(self.topic, envelopes), timeout=self.publish_timeout)
        kafka_reachable()
        if os.environ.get(CRASH_AFTER_PUBLISH_ENV) == "1":
            os.kill(os.getpid(), signal.SIGKILL)
        await asyncio.to_thread(self.application.relay_tracking.insert_tracking, Tracking(self.tracking_name, last))
        self.metrics.events_relayed.labels(self.metrics.service, self.topic).inc(len(envelopes))
        self._progressed()
        return len(envelopes)

    async def run(self, stop: asyncio.Event, *, topic_ready: asyncio.Event | None = None) -> None:
        """Relay until stopped; Kafka being away only delays publication, it loses nothing.

        With several workers, the one holding the lease publishes and the others stand by.
        """
        self._progressed()
        try:
            while topic_ready is not None and not topic_ready.is_set() and not stop.is_set():
                await self.measure_lag()
                await sleep_unless_stopped(stop, self.retry_backoff)
            await self.wakeups.start()
            await self._relay_while_leading(stop)
        finally:
            await self.wakeups.close()
            await self.producer.close()
            if self.lease is not None:
                await asyncio.to_thread(self.lease.release)

    async def _relay_while_leading(self, stop: asyncio.Event) -> None:
        reason = START
        while not stop.is_set():
            self._woken(reason)
            await self.measure_lag()
            if self.lease is not None and not await self._leading():
                self._progressed()  # a standby is not the one keeping events back
                await sleep_unless_stopped(stop, self.retry_backoff)
                reason = STANDBY
                continue
            self.wakeups.before_read()  # from here on, a notification wakes the next wait
            try:
                published = await self.publish_pending()
            except Exception as error:  # noqa: BLE001 - any failure is retried from the recorded position
                await self._failed(error)
                if await self._yielded_lease_while_stalled():
                    await sleep_unless_stopped(stop, self.retry_backoff * 3)
                else:
                    await sleep_unless_stopped(stop, self.retry_backoff)
                reason = RETRY
                continue
            self.published_after[reason] += published
            self._recovered()
            if not self.read_whole_batch:
                self.waiting = True
                reason = await self.wakeups.wait(stop)
                self.waiting = False
            else:
                reason = BACKLOG

    def _woken(self, reason: str) -> None:
        if reason != STOP:
            self.wakes[reason] += 1
            self.metrics.relay_wakes.labels(self.metrics.service, reason).inc()

    async def measure_lag(self) -> None:
        """Stored but unpublished notifications, read from the event store whatever Kafka is doing."""
        try:
            newest = await asyncio.to_thread(self.application.recorder.max_notification_id) or 0
            position = await self.position()
        except Exception as error:  # noqa: BLE001 - the store being away is reported by readiness
            log.debug("relay lag not measured: %s", error)
            return
        self.backlog = max(newest - position, 0)
        self.metrics.relay_lag.labels(self.metrics.service).set(self.backlog)
        self.metrics.relay_position.labels(self.metrics.service).set(position)
        self.metrics.relay_stalled.labels(self.metrics.service).set(self.stalled_seconds())

    async def _leading(self) -> bool:
        assert self.lease is not None
        leading = await asyncio.to_thread(self.lease.try_acquire)
        self.metrics.relay_leader.labels(self.metrics.service).set(1 if leading else 0)
        return leading

    async def _failed(self, error: Exception) -> None:
        self._failures_in_a_row += 1
        self._failed_since_published += 1
        self.last_error = f"{type(error).__name__}: {error}"
        # one line when it starts failing, and one when the producer is replaced (not one a retry)
        if self._failed_since_published == 1:
            log.warning("relay to %s failed, retrying from its position: %s", self.topic, self.last_error)
        else:
            log.debug("relay to %s failed (%d in a row): %s", self.topic, self._failed_since_published, self.last_error)
        hung = isinstance(error, TimeoutError)
        if hung or needs_new_producer(error) or self._failures_in_a_row >= self.replace_after_failures:
            await self.producer.replace(self.last_error)
            self.metrics.relay_producer_replacements.labels(self.metrics.service).inc()
            self._failures_in_a_row = 0

    async def _yielded_lease_while_stalled(self) -> bool:
        """A leader stalled too long lets a standby try; it competes for the lease again afterwards."""
        if self.lease is None or self.stalled_seconds() < self.yield_lease_after:
            return False
        log.warning("relay to %s made no progress for %.0f s: giving up the lease", self.topic, self.stalled_seconds())
        await self.producer.replace("lease given up while stalled")
        await asyncio.to_thread(self.lease.release)
        self.metrics.relay_leader.labels(self.metrics.service).set(0)
        self._progressed()
        return True

    def _recovered(self) -> None:
        if self._failed_since_published:
            log.warning("relay to %s publishes again after %d failed attempts", self.topic, self._failed_since_published)
        self.last_error = None
        self._failures_in_a_row = 0
        self._failed_since_published = 0

    def _progressed(self) -> None:
        self._last_progress = time.monotonic()

