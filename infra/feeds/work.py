"""One chunk's unit of work over the service's event store: the aggregates it reads and changes, saved in one transaction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, project_aggregate
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresAggregateRecorder
from eventsourcing.sqlite import SQLiteAggregateRecorder
from psycopg.sql import SQL, Identifier

from infra.eventstore import CommandContext, EventStoreApplication
from infra.feeds.parsing import FeedRecord


class Work:
    """The aggregates one chunk reads and changes, saved together in one transaction."""

    def __init__(self, application: EventStoreApplication) -> None:
        self.application = application
        self.loaded: dict[UUID, Aggregate | None] = {}
        self.changed: dict[UUID, Aggregate] = {}

    def prefetch(self, aggregate_ids: Sequence[UUID]) -> None:
        """Load these aggregates in bulk (and learn which are not stored yet), so a chunk costs no lookup per record.

        On PostgreSQL their events are read in one query per 500 ids and each aggregate is rebuilt from them as the
        repository rebuilds it; elsewhere only the ones not stored are learnt in bulk, the others load when asked.
        """
        wanted = [item for item in dict.fromkeys(aggregate_ids) if item not in self.loaded]
        events = stored_events_among(self.application, wanted)
        if events is not None:
            mapper = self.application.mapper
            self.loaded |= {item: project_aggregate(None, map(mapper.to_domain_event, events.get(item, ())))
                            for item in wanted}
            return
        stored = stored_among(self.application, wanted)
        if stored is not None:
            self.loaded |= {item: None for item in wanted if item not in stored}

    def get(self, aggregate_id: UUID) -> Any:
        """The aggregate as this chunk left it, or None."""
        if aggregate_id not in self.loaded:
            try:
                self.loaded[aggregate_id] = self.application.repository.get(aggregate_id)
            except AggregateNotFoundError:
                self.loaded[aggregate_id] = None
        return self.loaded[aggregate_id]

    def add(self, *aggregates: Aggregate) -> None:
        for aggregate in aggregates:
            self.loaded[aggregate.id] = aggregate
            self.changed[aggregate.id] = aggregate

    def save(self) -> None:
        if self.changed:
            self.application.save(*self.changed.values())


def stored_among(application: EventStoreApplication, aggregate_ids: Sequence[UUID]) -> set[UUID] | None:
    """Which of these aggregates have stored events, in one query per 500 ids; None where the store cannot say."""
    recorder = application.recorder
    found: set[UUID] = set()
    for start in range(0, len(aggregate_ids), 500):
        part = list(aggregate_ids[start:start + 500])
        if isinstance(recorder, PostgresAggregateRecorder):
            statement = SQL("SELECT DISTINCT originator_id FROM {schema}.{table} WHERE originator_id = ANY(%s)").format(
                schema=Identifier(recorder.datastore.schema), table=Identifier(recorder.events_table_name))
            with recorder.datastore.get_connection() as connection, connection.cursor() as cursor:
                cursor.execute(statement, [part])
                found |= {UUID(str(row["originator_id"])) for row in cursor.fetchall()}
        elif isinstance(recorder, SQLiteAggregateRecorder):
            marks = ",".join("?" * len(part))
            with recorder.datastore.transaction(commit=False) as cursor:
                cursor.execute(f"SELECT DISTINCT originator_id FROM {recorder.events_table_name} "  # noqa: S608
                               f"WHERE originator_id IN ({marks})", [item.hex for item in part])
                found |= {UUID(str(row[0])) for row in cursor.fetchall()}
        else:
            return None
    return found


def stored_events_among(
    application: EventStoreApplication, aggregate_ids: Sequence[UUID]
) -> dict[UUID, list[StoredEvent]] | None:
    """The stored events of these aggregates, oldest first, in one query per 500 ids; None where the store is not
    PostgreSQL (the deployed one)."""
    recorder = application.recorder
    if not isinstance(recorder, PostgresAggregateRecorder):
        return None
    statement = SQL("SELECT originator_id, originator_version, topic, state FROM {schema}.{table} "
                    "WHERE originator_id = ANY(%s) ORDER BY originator_id, originator_version").format(
        schema=Identifier(recorder.datastore.schema), table=Identifier(recorder.events_table_name))
    found: dict[UUID, list[StoredEvent]] = {}
    for start in range(0, len(aggregate_ids), 500):
        with recorder.datastore.get_connection() as connection, connection.cursor() as cursor:
            cursor.execute(statement, [list(aggregate_ids[start:start + 500])])
            for row in cursor.fetchall():
                originator_id = UUID(str(row["originator_id"]))
                found.setdefault(originator_id, []).append(StoredEvent(
                    originator_id=originator_id, originator_version=row["originator_version"], topic=row["topic"],
                    state=bytes(row["state"])))
    return found


RecordHandler = Callable[[FeedRecord, Work, CommandContext], Aggregate]
"""Validates one record by the service's rules (RuleViolation or ValidationError) and returns the domain
aggregate it created or amended (its further aggregates added to the work)."""
