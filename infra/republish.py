"""Disaster recovery without the broker's data: every stored event of a service published again
from its event store, with the same event ids, in the notification log's order."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from infra.eventstore import EventStoreApplication
from infra.kafka import ensure_topics
from infra.relay import Producer
from infra.settings import ServiceSettings


@dataclass(frozen=True)
class RepublishReport:
    """What a republish sent: the notification positions it covered and the events published."""

    service: str
    topic: str
    from_position: int
    to_position: int
    events: int
    seconds: float

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


async def republish(
    settings: ServiceSettings,
    application: EventStoreApplication,
    producer: Producer,
    *,
    from_position: int = 0,
    batch_size: int = 500,
    progress: Callable[[int, int], None] | None = None,
) -> RepublishReport:
    """Publish every stored event after `from_position` up to the newest stored when it starts.

    The relay's recorded position is left alone: events stored meanwhile are the relay's, and
    consumers recognise the copies they already applied by aggregate version or event id. The
    notification log is in storage order, so each aggregate's events keep their order on its key."""
    started = time.perf_counter()
    topic = settings.own_topic
    await ensure_topics(settings, [topic])  # a wiped broker has lost the topic and its configuration
    end = await asyncio.to_thread(application.recorder.max_notification_id) or 0
    position, published = from_position, 0
    try:
        while position < end:
            envelopes, last = await asyncio.to_thread(application.envelopes_after, position, min(batch_size, end - position))
            if last == position:
                break
            if envelopes:
                await producer.publish(topic, envelopes)
                published += len(envelopes)
            position = last
            if progress is not None:
                progress(position, end)
    finally:
        await producer.close()
    return RepublishReport(settings.service, topic, from_position, position, published, time.perf_counter() - started)
