"""Outbox relay: the event store's notification log, in order, to the service's Kafka topic."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from eventsourcing.persistence import Tracking

from infra.eventstore import EventStoreApplication
from infra.kafka import PublishBatch
from infra.metrics import ServiceMetrics
from infra.relay_lease import RelayLease

log = logging.getLogger(__name__)

# Fault injection for the crash test: SIGKILL between the broker's acknowledgement
# and recording the position, the window the outbox design must survive.
CRASH_AFTER_PUBLISH_ENV = "QCP_FAULT_RELAY_CRASH_AFTER_PUBLISH"


class OutboxRelay:
    """Publishes stored events from the last recorded position; records the position only after Kafka acknowledged."""

    def __init__(
        self,
        application: EventStoreApplication,
        topic: str,
        publish_batch: PublishBatch,
        metrics: ServiceMetrics,
        *,
        lease: RelayLease | None = None,
        batch_size: int = 500,
        poll_interval: float = 0.2,
        retry_backoff: float = 1.0,
    ) -> None:
        self.application = application
        self.topic = topic
        self.publish_batch = publish_batch
        self.metrics = metrics
        self.lease = lease
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.retry_backoff = retry_backoff
        self.tracking_name = f"relay:{topic}"
        self.last_error: str | None = None

    async def position(self) -> int:
        return await asyncio.to_thread(self.application.relay_tracking.max_tracking_id, self.tracking_name) or 0

    async def publish_pending(self) -> int:
        """One batch: read after the position, publish, await acks, record. Returns how many were published."""
        position = await self.position()
        envelopes, last = await asyncio.to_thread(
            self.application.envelopes_after, position, self.batch_size
        )
        if not envelopes:
            await self._update_lag(position)
            return 0
        await self.publish_batch(self.topic, envelopes)
        if os.environ.get(CRASH_AFTER_PUBLISH_ENV) == "1":
            os.kill(os.getpid(), signal.SIGKILL)
        await asyncio.to_thread(
            self.application.relay_tracking.insert_tracking, Tracking(self.tracking_name, last)
        )
        self.metrics.events_relayed.labels(self.metrics.service, self.topic).inc(len(envelopes))
        await self._update_lag(last)
        return len(envelopes)

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until stopped; Kafka being away only delays publication, it loses nothing.

        With several workers, the one holding the lease publishes and the others stand by.
        """
        try:
            await self._relay_while_leading(stop)
        finally:
            if self.lease is not None:
                await asyncio.to_thread(self.lease.release)

    async def _relay_while_leading(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            if self.lease is not None:
                leading = await asyncio.to_thread(self.lease.try_acquire)
                self.metrics.relay_leader.labels(self.metrics.service).set(1 if leading else 0)
                if not leading:
                    await _sleep_unless_stopped(stop, self.retry_backoff)
                    continue
            try:
                published = await self.publish_pending()
                self.last_error = None
            except Exception as error:  # noqa: BLE001 - any failure is retried from the recorded position
                self.last_error = f"{type(error).__name__}: {error}"
                log.warning("relay to %s failed, retrying: %s", self.topic, self.last_error)
                await _sleep_unless_stopped(stop, self.retry_backoff)
                continue
            if published < self.batch_size:
                await _sleep_unless_stopped(stop, self.poll_interval)

    async def _update_lag(self, position: int) -> None:
        newest = await asyncio.to_thread(self.application.recorder.max_notification_id) or 0
        self.metrics.relay_lag.labels(self.metrics.service).set(newest - position)
        self.metrics.relay_position.labels(self.metrics.service).set(position)


async def _sleep_unless_stopped(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass
