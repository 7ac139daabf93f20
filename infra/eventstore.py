"""The write side's event store: an `eventsourcing` application whose events carry envelope metadata."""

from __future__ import annotations

import functools
import inspect
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar, cast

from eventsourcing.application import AggregateNotFoundError, Application, project_aggregate
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import ApplicationRecorder, IntegrityError, TrackingRecorder
from pydantic import BaseModel

from contracts import Actor, Envelope, Source, latest_version
from contracts.codes import Channel
from contracts.envelope import event_id_for
from infra.errors import RuleViolation
from infra.event_recorder import OneTripApplicationRecorder
from infra.events import StampedPayload
from infra.idempotency import CommandRecord, IdempotencyKey
from infra.settings import ServiceSettings


Clock = Callable[[], datetime]
CommandT = TypeVar("CommandT", bound=Callable[..., dict[str, Any]])


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class CommandContext:
    """Who runs a command, through which channel, from which source, under which trace."""

    actor: Actor
    channel: Channel
    source: Source = field(default_factory=Source)
    trace_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    occurred_at: datetime | None = None


def stamp(
    payload: BaseModel, context: CommandContext, *, season_id: str | None, organizer: str | None
) -> dict[str, Any]:
    """The keyword arguments of an aggregate's `@event` method: the contract payload and its metadata.

    The payload model's class name is the event type, so the schema version stored with
    the event is the one the payload was validated against when it was written.
    """
    type_ = type(payload).__name__
    return {
        "payload": StampedPayload(payload),
        "meta": {
            "schema_version": latest_version(type_),
            "actor": context.actor.model_dump(mode="json"),
            "channel": context.channel.value,
            "source": context.source.model_dump(mode="json"),
            "trace_id": context.trace_id,
            "occurred_at": (context.occurred_at or datetime.now(UTC)).isoformat(),
            "season_id": season_id,
            "organizer": organizer,
        },
    }


class InSeason(Protocol):
    """Anything a command acts on within a season: it knows the season and its organizer."""

    @property
    def season_id(self) -> str: ...

    @property
    def organizer(self) -> str: ...


def stamp_in_season(payload: BaseModel, context: CommandContext, season: InSeason, now: datetime) -> dict[str, Any]:
    """`stamp` for a command in a season, occurring at `now`: the instant its windows were checked against."""
    return stamp(payload, replace(context, occurred_at=now), season_id=season.season_id, organizer=season.organizer)


def to_envelope(domain_event: DomainEventProtocol[Any]) -> Envelope:
    """The envelope for a stored domain event; the same stored event always gives the same envelope."""
    meta = domain_event.meta  # type: ignore[attr-defined]
    return Envelope(
        event_id=event_id_for(domain_event.originator_id, domain_event.originator_version),
        type=type(domain_event).__name__,
        schema_version=meta["schema_version"],
        aggregate_id=domain_event.originator_id,
        aggregate_version=domain_event.originator_version,
        season_id=meta.get("season_id"),
        organizer=meta.get("organizer"),
        occurred_at=meta["occurred_at"],
        recorded_at=domain_event.timestamp,
        actor=meta["actor"],
        channel=meta["channel"],
        source=meta["source"],
        trace_id=meta["trace_id"],
        payload=domain_event.payload,  # type: ignore[attr-defined]
    )


def recorded(aggregate: Aggregate, event: str, **identity: str) -> dict[str, Any]:
    """What a command answers: whom it concerned, the aggregate, its new version and the event stored."""
    return identity | {
        "aggregate_id": str(aggregate.id),
        "version": aggregate.version,
        "event": event,
        "created": aggregate.version == 1,
    }


def idempotent(command: CommandT) -> CommandT:
    """A command that, called again with the same Idempotency-Key, answers its first result without running."""
    signature = inspect.signature(command)

    @functools.wraps(command)
    def run(self: "EventStoreApplication", *args: Any, **kwargs: Any) -> dict[str, Any]:
        bound = signature.bind(self, *args, **kwargs)
        previous = self.previous_result(bound.arguments.get("idempotency"))
        if previous is not None:
            return previous | {"replayed": True}
        return command(self, *args, **kwargs)

    return cast(CommandT, run)


class EventStoreApplication(Application):
    """Base of each write service's application: its store and notification log are the outbox."""

    def __init__(self, settings: ServiceSettings, clock: Clock = utc_now) -> None:
        super().__init__(env=settings.eventsourcing_env())
        self.clock = clock
        self.relay_tracking: TrackingRecorder = self.factory.tracking_recorder()
        self._bookkeeping_topics: set[str] = set()

    @property
    def notifications(self) -> ApplicationRecorder:
        return self.recorder

    def envelopes_after(self, position: int, limit: int) -> tuple[list[Envelope], int]:
        """Envelopes of the stored domain events after `position`, and the last notification id read.

        Bookkeeping events (idempotency records) are read past but not published.
        """
        notifications = self.recorder.select_notifications(
            start=position, limit=limit, inclusive_of_start=False
        )
        envelopes = []
        for item in notifications:
            # an event class has envelope metadata or not whatever its state, so a topic once seen to be
            # bookkeeping (a feed's ledger, an idempotency record: half of a feed's notifications) is not decoded
            if item.topic in self._bookkeeping_topics:
                continue
            event = self.mapper.to_domain_event(item)
            if hasattr(event, "meta"):
                envelopes.append(to_envelope(event))
            else:
                self._bookkeeping_topics.add(item.topic)
        last = notifications[-1].id if notifications else position
        return envelopes, last

    @property
    def loads_in_bulk(self) -> bool:
        """Whether `get_many` reads several aggregates in one query (PostgreSQL, no snapshots, no cache)."""
        return isinstance(self.recorder, OneTripApplicationRecorder) and not self.snapshots and not self.repository.cache

    def get_many(self, *aggregate_ids: uuid.UUID) -> list[Any]:
        """Aggregates as stored, None for one not stored; on PostgreSQL in one query rather than one per aggregate."""
        if not self.loads_in_bulk:
            return [self.get_or_none(item) for item in aggregate_ids]
        stored = self.recorder.select_events_of(aggregate_ids)
        return [project_aggregate(None, map(self.mapper.to_domain_event, stored.get(item, ())))
                for item in aggregate_ids]

    def get_or_none(self, aggregate_id: uuid.UUID) -> Any:
        """The aggregate as stored, or None when it is not."""
        try:
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None

    def previous_result(self, idempotency: IdempotencyKey | None) -> dict[str, Any] | None:
        """The stored result of an earlier command with this key, or None; a key reused for another request is refused."""
        if idempotency is None:
            return None
        record: CommandRecord | None = self.get_or_none(idempotency.record_id)  # one read, no existence check first
        if record is None:
            return None
        if record.request_hash != idempotency.request_hash:
            raise RuleViolation(
                "Idempotency-Key",
                "idempotency.key_reused",
                "this Idempotency-Key was already used for a different request; use a new key for a new request",
            )
        return record.result

    def save_once(
        self, aggregates: list[Aggregate], result: dict[str, Any], idempotency: IdempotencyKey | None
    ) -> dict[str, Any]:
        """Save the command's events, and its result under the key in the same transaction.

        When a concurrent retry saved first, its result is returned and nothing new is stored.
        """
        if idempotency is None:
            self.save(*aggregates)
            return result
        record = CommandRecord(idempotency.key, idempotency.actor_id, idempotency.request_hash, result)
        try:
            self.save(*aggregates, record)
        except IntegrityError:
            previous = self.previous_result(idempotency)
            if previous is None:
                raise
            return previous | {"replayed": True}
        return result

    def history(self, aggregate_id: uuid.UUID) -> list[Envelope]:
        """Every stored domain event of one aggregate, as envelopes, oldest first (bookkeeping events left out)."""
        return [to_envelope(item) for item in self.events.get(aggregate_id) if hasattr(item, "meta")]
