"""The PostgreSQL event store's recorder: a command reads its aggregates in one query and commits in one round trip."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID
from typing import Any

import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.utils import retry
from psycopg import pq
from psycopg.sql import SQL, Identifier


class OneTripApplicationRecorder(PostgresApplicationRecorder):
    """The library's recorder, with the COMMIT sent in the same pipeline as the table lock and the INSERT.

    The library waits for the INSERT's answer before it sends the COMMIT, so every insert holds the table's
    EXCLUSIVE lock (which keeps notification ids in commit order for the outbox relay) across a second round
    trip and across whatever keeps this Python thread from running again (the GIL, other requests). Here the
    lock, the NOTIFY, the INSERT and the COMMIT go in one pipeline and the lock is held only while PostgreSQL
    works. Nothing else changes: the same statements in the same transaction; a uniqueness violation (an
    aggregate's version already stored: optimistic concurrency, an idempotency record) aborts the pipeline
    before the COMMIT, rolls back and raises IntegrityError as before.

    The events go as four arrays (ids, versions, topics, states) in binary, which psycopg's C dumpers write
    directly, rather than as one array of the library's composite type, which psycopg dumps row by row in
    Python as text: the same rows, in the same order, so they get their notification ids in the same order.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.insert_columns_statement = SQL(
            "INSERT INTO {schema}.{table} (originator_id, originator_version, topic, state) "
            "SELECT * FROM unnest(%s::{id_type}[], %s::bigint[], %s::text[], %s::bytea[]) RETURNING notification_id"
        ).format(schema=Identifier(self.datastore.schema), table=Identifier(self.events_table_name),
                 id_type=SQL(self.datastore.originator_id_type))

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        if not stored_events:
            return super().insert_events(stored_events, **kwargs)
        with self.datastore.get_connection() as connection:
            try:
                with connection.pipeline() as pipeline:
                    inserting = connection.cursor()
                    with connection.transaction():  # its COMMIT is queued, not sent, at the end of the block
                        with connection.cursor() as cursor:
                            self._insert_events(cursor, stored_events, **kwargs)
                        self._insert_stored_events(inserting, stored_events, **kwargs)
                    pipeline.sync()
                    return self._fetch_ids_after_insert_events(inserting, stored_events, **kwargs)
            except psycopg.Error:
                # an aborted pipeline leaves the transaction open (and the table locked) until it is rolled back
                if connection.info.transaction_status != pq.TransactionStatus.IDLE:
                    connection.rollback()
                raise

    def _insert_stored_events(self, curs: Any, stored_events: Sequence[StoredEvent], **_: Any) -> None:
        self._lock_table(curs)
        self._notify_channel(curs)
        curs.execute(self.insert_columns_statement, (
            [item.originator_id for item in stored_events], [item.originator_version for item in stored_events],
            [item.topic for item in stored_events], [item.state for item in stored_events],
        ), binary=True)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def select_events_of(self, originator_ids: Sequence[UUID]) -> dict[UUID, list[StoredEvent]]:
        """The stored events of several aggregates, oldest first, in one query; an aggregate not stored is absent."""
        statement = SQL(
            "SELECT originator_id, originator_version, topic, state FROM {schema}.{table} "
            "WHERE originator_id = ANY(%s) ORDER BY originator_id, originator_version"
        ).format(schema=Identifier(self.datastore.schema), table=Identifier(self.events_table_name))
        events: dict[UUID, list[StoredEvent]] = {}
        with self.datastore.get_connection() as connection, connection.cursor() as cursor:
            cursor.execute(statement, [list(originator_ids)], prepare=True)
            for row in cursor.fetchall():
                events.setdefault(row["originator_id"], []).append(StoredEvent(
                    originator_id=row["originator_id"], originator_version=row["originator_version"],
                    topic=row["topic"], state=bytes(row["state"])))
        return events
