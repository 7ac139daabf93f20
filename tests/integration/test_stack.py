"""The local stack (`qcp stack`): up, idempotent up, usable servers, taken ports, down.

Runs a second stack in its own state folder on free, non-default ports, so the
default stack (`.qcp`, ports 15432/27018/19092) is left alone. Downloads and
builds come from the shared cache, so after the first run on a machine this
takes a few seconds.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from qcp.stack import KAFKA_VERSION, PortTaken, StackConfig, create_database, down, status, up
from qcp.stack.cli import stack as stack_cli

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


def _free_port(*, with_next: bool = False) -> int:
    """A port nobody listens on (and, if asked, the next one too)."""
    for _ in range(50):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port >= 65000:
            continue
        if with_next:
            with socket.socket() as sock:
                try:
                    sock.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
        return port
    raise RuntimeError("no free port found")


def _state_dir() -> Path:
    # Not under pytest's tmp_path: that is private to root (0700), and PostgreSQL
    # runs as the `postgres` account when the tests run as root.
    path = Path(tempfile.mkdtemp(prefix="qcp-stack-test-"))
    path.chmod(0o755)
    return path


@pytest.fixture(scope="module")
def config() -> Iterator[StackConfig]:
    cfg = StackConfig(
        state_dir=_state_dir(),
        kafka_port=_free_port(with_next=True),
        postgres_port=_free_port(),
        mongo_port=_free_port(),
    )
    try:
        yield cfg
    finally:
        down(cfg, echo=lambda _: None)
        shutil.rmtree(cfg.state_dir, ignore_errors=True)


def test_up_brings_every_component_to_healthy(config: StackConfig) -> None:
    messages: list[str] = []
    states = up(config, echo=messages.append)

    assert [s.name for s in states] == ["postgres", "ferretdb", "kafka"]
    assert all(s.healthy for s in states), states
    by_name = {s.name: s for s in status(config)}
    assert all(s.healthy and s.detail.startswith("healthy:") and s.pid for s in by_name.values()), by_name
    assert f"Kafka {KAFKA_VERSION} broker answering on 127.0.0.1:{config.kafka_port}" in by_name["kafka"].detail
    assert by_name["postgres"].port == config.postgres_port
    assert any(m.startswith("kafka: starting") for m in messages), messages
    assert config.kafka_bootstrap == f"127.0.0.1:{config.kafka_port}"
    assert config.mongo_url == f"mongodb://127.0.0.1:{config.mongo_port}/"
    assert config.postgres_dsn == f"postgresql://qcp:qcp@127.0.0.1:{config.postgres_port}/qcp"


def test_up_again_is_a_no_op(config: StackConfig) -> None:
    pids = {s.name: s.pid for s in status(config)}
    messages: list[str] = []
    states = up(config, echo=messages.append)

    assert {s.name: s.pid for s in states} == pids
    assert [m for m in messages if "already running and healthy" in m and "nothing to do" in m] == messages
    assert len(messages) == 3


async def test_the_servers_are_usable(config: StackConfig) -> None:
    import psycopg
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from pymongo import AsyncMongoClient

    # PostgreSQL: the qcp superuser, and more databases on demand.
    assert create_database(config, "extra_db") is True
    assert create_database(config, "extra_db") is False
    with psycopg.connect(config.postgres_dsn_for("extra_db")) as conn:
        assert conn.execute("SELECT current_user, current_database()").fetchone() == ("qcp", "extra_db")

    # FerretDB through PyMongo's async client: insert, find, update, create_index.
    client: AsyncMongoClient = AsyncMongoClient(config.mongo_url, serverSelectionTimeoutMS=5000)
    try:
        coll = client["stack_test"]["entries"]
        await coll.insert_many([{"_id": "e1", "unit": "u1", "score": 80}, {"_id": "e2", "unit": "u2", "score": 90}])
        await coll.create_index([("unit", 1), ("score", -1)], name="unit_score")
        await coll.update_one({"_id": "e1", "score": {"$lt": 85}}, {"$set": {"score": 85}, "$inc": {"version": 1}})
        found = await coll.find({"score": {"$gte": 85}}).sort("score", 1).to_list()
        assert [(d["_id"], d["score"]) for d in found] == [("e1", 85), ("e2", 90)]
        assert found[0]["version"] == 1
        assert "unit_score" in await coll.index_information()
    finally:
        await client.close()

    # Kafka: auto-created topic with 3 partitions, idempotent producer, consumer group.
    topic = f"stack-test-{uuid.uuid4().hex[:8]}"
    producer = AIOKafkaProducer(bootstrap_servers=config.kafka_bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"hello", key=b"k1")
        assert len(await producer.partitions_for(topic)) == 3
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=config.kafka_bootstrap, group_id=f"{topic}-g", auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        record = await consumer.getone()
        assert (record.key, record.value) == (b"k1", b"hello")
        await consumer.commit()
    finally:
        await consumer.stop()


def test_a_taken_port_is_named_and_nothing_starts(config: StackConfig) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        taken = blocker.getsockname()[1]
        other = StackConfig(
            state_dir=_state_dir(),
            cache_dir=config.cache_dir,
            postgres_port=taken,
            kafka_port=_free_port(with_next=True),
            mongo_port=_free_port(),
        )
        try:
            with pytest.raises(PortTaken) as caught:
                up(other, echo=lambda _: None)
            assert caught.value.port == taken
            assert caught.value.component == "postgres"
            assert f"port {taken}" in str(caught.value)
            assert not (other.state_dir / "postgres").exists()  # checked before doing anything

            # Kafka's controller listens on the port after the broker's.
            kafka_only = StackConfig(
                state_dir=other.state_dir,
                cache_dir=config.cache_dir,
                kafka_port=taken - 1,
                postgres_port=_free_port(),
                mongo_port=_free_port(),
            )
            if kafka_only.kafka_port > 0 and _port_is_free(kafka_only.kafka_port):
                with pytest.raises(PortTaken) as caught:
                    up(kafka_only, ["kafka"], echo=lambda _: None)
                assert (caught.value.component, caught.value.port) == ("kafka", taken)

            # The CLI says which port and which component, and exits non-zero.
            result = CliRunner().invoke(
                stack_cli,
                ["up", "postgres"],
                env={
                    "QCP_STATE_DIR": str(other.state_dir),
                    "QCP_CACHE_DIR": str(config.cache_dir),
                    "QCP_POSTGRES_PORT": str(taken),
                },
            )
            assert result.exit_code != 0
            assert f"postgres: port {taken}" in result.output
            assert "already in use" in result.output
        finally:
            shutil.rmtree(other.state_dir, ignore_errors=True)


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_down_stops_everything_and_status_says_why(config: StackConfig) -> None:
    messages: list[str] = []
    down(config, echo=messages.append)

    assert [m.split(":")[0] for m in messages if "stopped in" in m] == ["kafka", "ferretdb", "postgres"]
    states = status(config)
    assert not any(s.healthy for s in states)
    assert all(s.detail.startswith("not running") for s in states), states

    down(config, echo=messages.append)  # stopping a stopped stack is fine
    result = CliRunner().invoke(
        stack_cli,
        ["status"],
        env={
            "QCP_STATE_DIR": str(config.state_dir),
            "QCP_KAFKA_PORT": str(config.kafka_port),
            "QCP_POSTGRES_PORT": str(config.postgres_port),
            "QCP_MONGO_PORT": str(config.mongo_port),
        },
    )
    assert result.exit_code == 1
    assert "not running (no pid file)" in result.output
