"""Service settings read from the environment (prefix QCP_)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

ServiceName = Literal["registration", "submission", "review", "stats"]
EventStoreKind = Literal["sqlite", "postgres", "memory", "none"]

# Development-only signing secret, published with the code: only the embedded development platform and the
# tests (QCP_DEVELOPMENT_MODE) use it; a service outside that mode refuses to start with it (infra.auth).
DEVELOPMENT_JWT_SECRET = "qcp-development-secret-not-for-production-use"
MIB = 1024 * 1024


class ServiceSettings(BaseSettings):
    """Everything a service process needs to find Kafka, its event store and MongoDB."""

    model_config = SettingsConfigDict(env_prefix="QCP_", extra="ignore")

    service: ServiceName
    kafka_bootstrap: str = "127.0.0.1:19092"
    mongo_url: str = "mongodb://127.0.0.1:27018/"
    mongo_db: str | None = None
    mongo_db_prefix: str = "qcp_"
    event_store: EventStoreKind = "sqlite"
    sqlite_dir: Path = Path(".qcp/eventstores")
    postgres_host: str = "127.0.0.1"
    postgres_port: int = 15432
    postgres_db: str | None = None
    # The database of a service is this prefix and its name unless postgres_db names it,
    # so that several platforms (test runs) can share one PostgreSQL server.
    postgres_db_prefix: str = "qcp_"
    # Connections each event store opens at once (it grows by up to 10 more under load).
    postgres_pool_size: int = Field(default=5, ge=1, le=100)
    postgres_user: str = "qcp"
    postgres_password: SecretStr = SecretStr("qcp")
    # The embedded development platform (`qcp run`, `qcp chaos`, the tests): the only mode in which a service
    # runs with the published development signing secret. Deployments never set it.
    development_mode: bool = False
    # The key new tokens are signed with (at least 32 bytes); unset means the development secret, and is refused
    # outside development mode.
    jwt_secret: SecretStr | None = None
    # Keys being rolled out, comma-separated: tokens they signed still verify until they expire.
    jwt_previous_secrets: SecretStr | None = None
    jwt_issuer: str = "qc-platform"
    jwt_audience: str = "qc-platform"
    topic_partitions: int = 3
    # A namespace for topics and consumer groups, so that a staging copy or a test run
    # can share a Kafka cluster without reading anyone else's events.
    topic_prefix: str = ""
    relay_batch_size: int = Field(default=500, ge=1, le=10_000)
    relay_poll_interval_seconds: float = 0.2
    # On PostgreSQL the relay is told when events are stored (LISTEN/NOTIFY); it still reads this often,
    # so a notification lost only delays (and polls every relay_poll_interval_seconds while not listening).
    relay_fallback_poll_seconds: float = Field(default=5.0, gt=0)
    # A relay that failed this many batches in a row replaces its producer, even for errors
    # called retriable: aiokafka keeps raising the same one from a producer that will never send.
    relay_replace_producer_after_failures: int = Field(default=3, ge=1, le=100)
    # A leader with a backlog and nothing published for this long hands its lease to a standby ...
    relay_yield_lease_after_seconds: float = Field(default=60.0, gt=0)
    # A batch not acknowledged within this long counts as failed (the producer hung) and the producer is replaced.
    relay_publish_timeout_seconds: float = Field(default=60.0, gt=0)
    # ... and after this long the worker's liveness probe fails, so Kubernetes restarts it.
    relay_liveness_stall_seconds: float = Field(default=180.0, gt=0)
    # A worker measures its consumer groups' lag this often; above the threshold its readiness says
    # "degraded" (still ready, so traffic keeps flowing and KEDA scales out) ...
    consumer_lag_interval_seconds: float = Field(default=5.0, gt=0)
    consumer_lag_degraded_messages: int = Field(default=1_000, ge=0)
    # ... and a group with lag that has handled and committed nothing for this long fails liveness.
    consumer_liveness_stall_seconds: float = Field(default=180.0, gt=0)
    # A read with min_position waits this long for its read model before answering 409.
    read_your_writes_wait_seconds: float = Field(default=5.0, ge=0, le=60)
    retry_backoff_seconds: float = 1.0
    log_level: str = "INFO"
    # How every Kafka client of the process authenticates (infra.kafka_security): PLAINTEXT on the local
    # stack; in a deployment SASL over TLS, as the service's own SCRAM user, verifying the cluster's CA.
    kafka_security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256"] = "SCRAM-SHA-512"
    kafka_username: str | None = None
    kafka_password: SecretStr | None = None
    # A PEM file (the cluster CA Secret mounted into the pod); unset trusts the system's CAs.
    kafka_ssl_cafile: str | None = None
    # Bounded inputs. A request body is counted while it is read, before it is parsed or its caller is checked:
    # past this size a JSON route answers 413 ...
    max_body_bytes: int = Field(default=4 * MIB, ge=1024)
    # ... and a feed upload past its own: as sent (gzip or not), unpacked, in records; one line past its length
    # or nesting is quarantined, the rest of the batch is taken.
    feed_max_compressed_bytes: int = Field(default=64 * MIB, ge=1024)
    feed_max_unpacked_bytes: int = Field(default=512 * MIB, ge=1024)
    feed_max_records: int = Field(default=50_000, ge=1)
    feed_max_line_bytes: int = Field(default=1 * MIB, ge=1024)
    feed_max_depth: int = Field(default=64, ge=2, le=500)
    # Writes (POST, PUT, PATCH, DELETE) per minute per token (its subject, role and organization), in bursts of
    # up to a minute's worth; past it 429 with Retry-After. 0 = no limit. A feed's writes are its batch posts.
    rate_limit_organizer_per_minute: int = Field(default=600, ge=0)
    rate_limit_unit_per_minute: int = Field(default=600, ge=0)
    rate_limit_recommender_per_minute: int = Field(default=600, ge=0)
    rate_limit_judge_per_minute: int = Field(default=600, ge=0)
    rate_limit_national_per_minute: int = Field(default=600, ge=0)
    rate_limit_feed_per_minute: int = Field(default=120, ge=0)
    rate_limit_auditor_per_minute: int = Field(default=600, ge=0)
    rate_limit_ops_per_minute: int = Field(default=600, ge=0)
    rate_limit_system_per_minute: int = Field(default=600, ge=0)

    @property
    def database_name(self) -> str:
        return self.mongo_db or f"{self.mongo_db_prefix}{self.service}"

    @property
    def postgres_database(self) -> str:
        return self.postgres_db or f"{self.postgres_db_prefix}{self.service}"

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"

    @property
    def consumer_group(self) -> str:
        return self.topic(self.service)

    @property
    def dead_letter_topic(self) -> str:
        return self.topic(f"{self.service}.dlq")

    @property
    def own_topic(self) -> str:
        return self.topic(f"{self.service}.events")

    def eventsourcing_env(self) -> dict[str, str]:
        """The environment the `eventsourcing` library reads to build the event store."""
        if self.event_store == "memory":
            return {"PERSISTENCE_MODULE": "eventsourcing.popo"}
        if self.event_store == "sqlite":
            self.sqlite_dir.mkdir(parents=True, exist_ok=True)
            return {
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": str(self.sqlite_dir / f"{self.service}.sqlite3"),
                "SQLITE_LOCK_TIMEOUT": "30",
            }
        if self.event_store == "postgres":
            return {
                "PERSISTENCE_MODULE": "eventsourcing.postgres",
                "POSTGRES_DBNAME": self.postgres_database,
                "POSTGRES_HOST": self.postgres_host,
                "POSTGRES_PORT": str(self.postgres_port),
                "POSTGRES_USER": self.postgres_user,
                "POSTGRES_PASSWORD": self.postgres_password.get_secret_value(),
                "POSTGRES_CONNECT_TIMEOUT": "5",
                "POSTGRES_POOL_SIZE": str(self.postgres_pool_size),
                "CREATE_TABLE": "true",
                # a command's events are inserted and committed in one round trip (same statements, same lock)
                "APPLICATION_RECORDER_TOPIC": "infra.event_recorder:OneTripApplicationRecorder",
            }
        raise ValueError(f"service {self.service} has no event store")
