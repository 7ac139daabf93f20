"""Apache Kafka: one KRaft node (broker and controller in one JVM).

The broker's jars come from Maven Central through ``kafka/pom.xml`` and
``mvn dependency:copy-dependencies`` into ``<cache>/kafka-<version>/lib``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import re
import shutil
import threading
import uuid
from pathlib import Path

from . import _proc
from ._base import PACKAGE_DIR, Component
from .config import HOST, StackConfig
from .errors import StackError, ToolMissing

POM = PACKAGE_DIR / "kafka" / "pom.xml"
LOG4J2_CONFIG = PACKAGE_DIR / "kafka" / "log4j2.properties"
NODE_ID = 1


def _kafka_version() -> str:
    match = re.search(r"<kafka\.version>\s*([^<\s]+)\s*</kafka\.version>", POM.read_text())
    if not match:
        raise StackError(f"kafka: no <kafka.version> property in {POM}")
    return match.group(1)


KAFKA_VERSION = _kafka_version()


def _java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    found = shutil.which("java")
    if not found:
        raise ToolMissing(
            "kafka: `java` (17 or newer) not found; install e.g. `apt-get install -y openjdk-17-jre-headless`"
        )
    return found


def _mvn() -> str:
    found = shutil.which("mvn")
    if not found:
        raise ToolMissing(
            "kafka: `mvn` not found, needed once to fetch Kafka's jars; install e.g. `apt-get install -y maven`"
        )
    return found


def _new_cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64 without padding
    (not starting with '-', which command lines would take for an option)."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


class Kafka(Component):
    name = "kafka"
    # A restart loads every partition it holds: after a whole test suite's topics, on 2 busy cores,
    # that took more than a minute (the broker-restart and fault-suite tests restart it).
    start_timeout = 180.0
    stop_timeout = 30.0

    def __init__(self, config: StackConfig) -> None:
        super().__init__(config)
        self.base_dir = config.state_dir / "kafka"
        self.data_dir = self.base_dir / "data"
        self.properties = self.base_dir / "server.properties"
        self.home = config.cache_dir / f"kafka-{KAFKA_VERSION}"
        self.lib_dir = self.home / "lib"

    @property
    def port(self) -> int:
        return self.config.kafka_port

    def ports(self) -> list[int]:
        return [self.config.kafka_port, self.config.kafka_controller_port]

    def is_ours(self, pid: int) -> bool:
        argv = _proc.cmdline(pid)
        return "kafka.Kafka" in argv and str(self.properties) in argv

    # -- jars -----------------------------------------------------------------
    def _pom_digest(self) -> str:
        return hashlib.sha256(POM.read_bytes()).hexdigest()

    def jars_ready(self) -> bool:
        marker = self.home / "pom.sha256"
        return self.lib_dir.is_dir() and marker.is_file() and marker.read_text().strip() == self._pom_digest()

    def ensure_jars(self, echo: _proc.Echo) -> None:
        if self.jars_ready():
            return
        # The cache is shared by every state folder: one resolver at a time.
        with _proc.locked(self.config.cache_dir / f"kafka-{KAFKA_VERSION}.lock", echo):
            if not self.jars_ready():
                self._resolve_jars(echo)

    def _resolve_jars(self, echo: _proc.Echo) -> None:
        mvn = _mvn()
        echo(f"kafka: resolving Kafka {KAFKA_VERSION} jars with maven (first run only)...")
        work = self.config.cache_dir / f"kafka-{KAFKA_VERSION}.tmp"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        shutil.copy2(POM, work / "pom.xml")
        _proc.run(
            [
                mvn,
                "-q",
                "-B",
                "-Dstyle.color=never",
                "-f",
                str(work / "pom.xml"),
                f"-Dmaven.repo.local={self.config.cache_dir / 'maven-repo'}",
                "dependency:copy-dependencies",
                f"-DoutputDirectory={work / 'lib'}",
                "-DincludeScope=runtime",
            ],
            cwd=work,
            timeout=1800,
            what="kafka: mvn dependency:copy-dependencies",
        )
        jars = sorted(p.name for p in (work / "lib").glob("*.jar"))
        if not any(name.startswith(f"kafka_2.13-{KAFKA_VERSION}") for name in jars):
            raise StackError(f"kafka: maven finished but kafka_2.13-{KAFKA_VERSION}.jar is not among {jars}")
        self.home.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(self.lib_dir, ignore_errors=True)
        (work / "lib").replace(self.lib_dir)
        (self.home / "pom.sha256").write_text(self._pom_digest() + "\n")
        shutil.rmtree(work, ignore_errors=True)
        echo(f"kafka: {len(jars)} jars cached in {self.lib_dir}")

    # -- configuration and storage ---------------------------------------------
    def server_properties(self) -> str:
        port, cport = self.config.kafka_port, self.config.kafka_controller_port
        return "\n".join(
            [
                "# Written by the qcp local stack at each start; edits are overwritten.",
                "process.roles=broker,controller",
                f"node.id={NODE_ID}",
                f"controller.quorum.bootstrap.servers={HOST}:{cport}",
                f"listeners=PLAINTEXT://{HOST}:{port},CONTROLLER://{HOST}:{cport}",
                f"advertised.listeners=PLAINTEXT://{HOST}:{port},CONTROLLER://{HOST}:{cport}",
                "inter.broker.listener.name=PLAINTEXT",
                "controller.listener.names=CONTROLLER",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                f"log.dirs={self.data_dir}",
                "num.partitions=3",
                "default.replication.factor=1",
                "offsets.topic.replication.factor=1",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                "log.retention.ms=-1",
                "group.initial.rebalance.delay.ms=0",
                "auto.create.topics.enable=true",
                "",
            ]
        )

    def _jvm(self, main: str, *args: str) -> list[str]:
        return [
            _java(),
            # the suite creates a namespace of topics per test module: thousands of partitions by its end
            "-Xmx1536m",
            "-Xms128m",
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            # Kafka logs its shutdown from its own hook; log4j2's hook would stop logging first.
            "-Dlog4j2.shutdownHookEnabled=false",
            f"-Dlog4j2.configurationFile={LOG4J2_CONFIG}",
            "-cp",
            f"{self.lib_dir}/*",
            main,
            *args,
        ]

    def prepare(self, echo: _proc.Echo) -> None:
        _java()
        self.ensure_jars(echo)
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.properties.write_text(self.server_properties())
        formatted = self.base_dir / "formatted.json"
        if (self.data_dir / "meta.properties").is_file():
            if formatted.is_file():
                was = json.loads(formatted.read_text())
                if was.get("controller_port") != self.config.kafka_controller_port:
                    raise StackError(
                        f"kafka: the data in {self.data_dir} was formatted for controller port "
                        f"{was.get('controller_port')}, not {self.config.kafka_controller_port} (KRaft keeps the "
                        f"voter's address); use the old QCP_KAFKA_PORT, or `qcp stack down kafka` and delete "
                        f"{self.base_dir} to start with an empty Kafka"
                    )
            return
        cluster_file = self.base_dir / "cluster.id"
        if not cluster_file.is_file():
            cluster_file.write_text(_new_cluster_id() + "\n")
        cluster_id = cluster_file.read_text().strip()
        echo(f"kafka: formatting KRaft storage in {self.data_dir} (cluster id {cluster_id}, first run only)...")
        shutil.rmtree(self.data_dir, ignore_errors=True)
        _proc.run(
            self._jvm(
                "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(self.properties), "--standalone"
            ),
            cwd=self.base_dir,
            timeout=120,
            what="kafka: StorageTool format",
        )
        formatted.write_text(
            json.dumps({"cluster_id": cluster_id, "controller_port": self.config.kafka_controller_port}) + "\n"
        )

    def start(self, echo: _proc.Echo):
        echo(f"kafka: starting Kafka {KAFKA_VERSION} (KRaft broker+controller) on {self.config.kafka_bootstrap}...")
        proc = _proc.spawn_detached(self._jvm("kafka.Kafka", str(self.properties)), self.log_file, cwd=self.base_dir)
        _proc.write_pid(self.pid_file, proc.pid)
        return proc

    # -- health -----------------------------------------------------------------
    def probe(self) -> str:
        return _run_coroutine(self._probe())

    async def _probe(self) -> str:
        async with asyncio.timeout(10):
            return await self._describe()

    async def _describe(self) -> str:
        from aiokafka.admin import AIOKafkaAdminClient

        admin = AIOKafkaAdminClient(
            bootstrap_servers=self.config.kafka_bootstrap,
            request_timeout_ms=5000,
            client_id="qcp-stack-health",
        )
        await admin.start()
        try:
            cluster = await admin.describe_cluster()
            # Consumer groups work only once the offsets topic exists and is loaded; a broker just
            # started on empty storage answers metadata before that, and the first consumer fails.
            await admin.find_coordinator("qcp-stack-health")
        finally:
            await admin.close()
        brokers = cluster.get("brokers") or []
        if not brokers:
            raise StackError("metadata lists no broker yet")
        return (
            f"Kafka {KAFKA_VERSION} broker answering on {self.config.kafka_bootstrap} "
            f"(cluster {cluster.get('cluster_id')}, {len(brokers)} broker, controller {cluster.get('controller_id')})"
        )


def _run_coroutine(coro):
    """Run ``coro`` to completion, also when the caller is inside an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    result: dict = {}

    def target() -> None:
        try:
            result["value"] = asyncio.run(coro)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            result["error"] = exc

    thread = threading.Thread(target=target, name="qcp-stack-kafka-probe", daemon=True)
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result["value"]
