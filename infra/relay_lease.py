"""Only one relay per event store publishes at a time: a PostgreSQL advisory lock, or a file lock for SQLite."""

from __future__ import annotations

import fcntl
import hashlib
import logging
from pathlib import Path
from typing import IO, Protocol

import psycopg

from infra.settings import ServiceSettings

log = logging.getLogger(__name__)


class RelayLease(Protocol):
    def try_acquire(self) -> bool:
        """True while this process holds the lease (taking it if it is free)."""

    def release(self) -> None: ...


class FileLease:
    """For SQLite event stores: the workers that share the file share this machine, so flock suffices."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.handle: IO[bytes] | None = None

    def try_acquire(self) -> bool:
        if self.handle is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("ab")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self.handle = handle
        return True

    def release(self) -> None:
        if self.handle is not None:
            fcntl.flock(self.handle, fcntl.LOCK_UN)
            self.handle.close()
            self.handle = None


class PostgresLease:
    """For PostgreSQL event stores: a session advisory lock, released by the server if this process dies."""

    def __init__(self, settings: ServiceSettings, name: str) -> None:
        self.conninfo = postgres_conninfo(settings)
        self.key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        self.connection: psycopg.Connection | None = None

    def try_acquire(self) -> bool:
        try:
            if self.connection is not None:
                self.connection.execute("SELECT 1")
                return True
            connection = psycopg.connect(self.conninfo, autocommit=True)
            row = connection.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()
            if row and row[0]:
                self.connection = connection
                return True
            connection.close()
            return False
        except psycopg.Error as error:
            log.warning("relay lease lost or not taken: %s", error)
            self.release()
            return False

    def release(self) -> None:
        if self.connection is not None:
            try:
                self.connection.close()
            finally:
                self.connection = None


def postgres_conninfo(settings: ServiceSettings) -> str:
    """A connection string to the service's PostgreSQL event store, for the relay's own sessions."""
    env = settings.eventsourcing_env()
    return psycopg.conninfo.make_conninfo(
        host=env["POSTGRES_HOST"], port=env["POSTGRES_PORT"], dbname=env["POSTGRES_DBNAME"],
        user=env["POSTGRES_USER"], password=env["POSTGRES_PASSWORD"], connect_timeout=5,
    )


def lease_for(settings: ServiceSettings, topic: str) -> RelayLease:
    if settings.event_store == "postgres":
        return PostgresLease(settings, f"relay:{topic}")
    return FileLease(settings.sqlite_dir / f"{settings.service}.relay.lock")
