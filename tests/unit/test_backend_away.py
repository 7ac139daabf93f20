"""A MongoDB error that says the read model's storage is away is told apart from one that says the request is wrong:
the first answers 503 and is retried by the consumers, the second is a failure (a 500, a dead letter)."""

from __future__ import annotations

from pymongo.errors import AutoReconnect, OperationFailure, WriteError

from infra.mongo import backend_away

SHUTDOWN = ("[msg_update.go:133 handler.(*Handler).updateDocument] FATAL: terminating connection due to administrator "
            "command (SQLSTATE 57P01)")
CANNOT_CONNECT = ("failed to connect to `user=qcp database=ferretdb`: 127.0.0.1:25632 (127.0.0.1): server error: "
                  "FATAL: the database system is shutting down (SQLSTATE 57P03)")


def test_ferretdb_losing_its_postgresql_is_the_backend_away() -> None:
    assert backend_away(OperationFailure(SHUTDOWN, code=1))


def test_ferretdb_failing_to_connect_to_its_postgresql_is_the_backend_away() -> None:
    assert backend_away(OperationFailure(CANNOT_CONNECT, code=1))


def test_a_lost_connection_to_mongodb_is_the_backend_away() -> None:
    assert backend_away(AutoReconnect("127.0.0.1:27018: connection closed"))


def test_a_refused_operation_is_not_the_backend_away() -> None:
    assert not backend_away(OperationFailure("unknown operator: $frobnicate", code=2))


def test_a_refused_write_is_not_the_backend_away() -> None:
    assert not backend_away(WriteError("Document failed validation", code=121))
