"""Every Kafka client takes SASL/SCRAM and TLS from the settings through one builder; the local stack stays PLAINTEXT."""

from __future__ import annotations

import ast
import pickle
import ssl
from pathlib import Path

import certifi
import pytest
from faststream.kafka.security import parse_security

from infra.kafka_access import kafka_access
from infra.kafka_security import PLAINTEXT, KafkaSecurityError, kafka_security
from infra.settings import ServiceSettings
from qcp.services import definition

REPO = Path(__file__).resolve().parents[2]
CA_FILE = certifi.where()  # any PEM bundle will do: the context only has to load it


def sasl_settings(monkeypatch: pytest.MonkeyPatch, **env: str | None) -> ServiceSettings:
    """Settings from the environment a deployment gives; a variable given as None is left unset."""
    values = {
        "QCP_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "QCP_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "QCP_KAFKA_USERNAME": "registration",
        "QCP_KAFKA_PASSWORD": "s3cret-from-the-kafkauser-secret",
        "QCP_KAFKA_SSL_CAFILE": CA_FILE,
        **env,
    }
    for key, value in values.items():
        if value is None:
            monkeypatch.delenv(key, raising=False)
        else:
            monkeypatch.setenv(key, value)
    return ServiceSettings(service="registration")


def test_the_local_stack_stays_plaintext() -> None:
    security = kafka_security(ServiceSettings(service="registration"))
    assert security == PLAINTEXT
    assert security.client_kwargs() == {"security_protocol": "PLAINTEXT"}
    assert security.broker_security() is None


def test_sasl_ssl_settings_give_scram_credentials_and_a_context_trusting_the_ca(monkeypatch: pytest.MonkeyPatch) -> None:
    kwargs = kafka_security(sasl_settings(monkeypatch)).client_kwargs()
    context = kwargs.pop("ssl_context")
    assert kwargs == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "registration",
        "sasl_plain_password": "s3cret-from-the-kafkauser-secret",
    }
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.cert_store_stats()["x509_ca"] > 0, "the CA file's certificates are trusted"


def test_sasl_plaintext_has_no_tls_context(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = sasl_settings(monkeypatch, QCP_KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT", QCP_KAFKA_SSL_CAFILE=None)
    kwargs = kafka_security(settings).client_kwargs()
    assert kwargs["security_protocol"] == "SASL_PLAINTEXT" and "ssl_context" not in kwargs


@pytest.mark.parametrize("protocol", ["SASL_PLAINTEXT", "SASL_SSL"])
@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-512", "SCRAM-SHA-256"])
def test_faststreams_broker_gets_exactly_the_same_client_settings(
    monkeypatch: pytest.MonkeyPatch, protocol: str, mechanism: str
) -> None:
    cafile = CA_FILE if protocol == "SASL_SSL" else None
    settings = sasl_settings(monkeypatch, QCP_KAFKA_SECURITY_PROTOCOL=protocol, QCP_KAFKA_SASL_MECHANISM=mechanism,
                             QCP_KAFKA_SSL_CAFILE=cafile)
    security = kafka_security(settings)
    broker = parse_security(security.broker_security())
    client = security.client_kwargs()
    assert isinstance(broker.pop("ssl_context"), ssl.SSLContext) == (protocol == "SASL_SSL")
    client.pop("ssl_context", None)
    assert broker == client


@pytest.mark.parametrize(
    ("env", "complaint"),
    [
        ({"QCP_KAFKA_PASSWORD": ""}, "QCP_KAFKA_PASSWORD"),
        ({"QCP_KAFKA_USERNAME": ""}, "QCP_KAFKA_USERNAME"),
        ({"QCP_KAFKA_SECURITY_PROTOCOL": "PLAINTEXT", "QCP_KAFKA_SSL_CAFILE": None}, "would never send them"),
        ({"QCP_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT"}, "QCP_KAFKA_SSL_CAFILE"),
    ],
)
def test_contradicting_settings_refuse_to_build_any_client(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], complaint: str
) -> None:
    with pytest.raises(KafkaSecurityError, match=complaint):
        kafka_security(sasl_settings(monkeypatch, **env))


def test_the_password_is_never_shown_and_the_security_pickles_for_the_rebuild_processes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = sasl_settings(monkeypatch)
    assert "s3cret" not in repr(settings)
    security = kafka_security(settings)
    assert "s3cret" not in repr(security)
    assert pickle.loads(pickle.dumps(security)) == security


# Constructors of Kafka clients, and the project's helpers that build them from a `security` argument.
KAFKA_CLIENTS = {"AIOKafkaProducer", "AIOKafkaConsumer", "AIOKafkaAdminClient", "AIOKafkaClient", "KafkaBroker"}
SECURITY_TAKERS = {"idempotent_producer_factory", "kafka_check", "ConsumerLagMonitor", "CatchUp", "TopicReader",
                   "committed_offsets", "RebuildSettings"}
# The local stack's own tooling (starting Kafka, chaos runs against it) never runs in a deployment.
LOCAL_ONLY = ("qcp/stack/", "qcp/chaos/")


def _calls() -> list[tuple[str, int, ast.Call, str]]:
    found = []
    for root in ("infra", "services", "qcp"):
        for path in sorted((REPO / root).rglob("*.py")):
            relative = path.relative_to(REPO).as_posix()
            if relative.startswith(LOCAL_ONLY):
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Call):
                    func = node.func
                    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
                    found.append((relative, node.lineno, node, name))
    return found


def test_every_kafka_client_the_services_create_takes_the_security_settings() -> None:
    unsecured = []
    constructions = 0
    for path, line, call, name in _calls():
        keywords = {keyword.arg for keyword in call.keywords}
        if name in KAFKA_CLIENTS:
            constructions += 1
            spread = [k.value for k in call.keywords if k.arg is None]
            takes_kwargs = any(
                isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and value.func.attr == "client_kwargs"
                for value in spread
            )
            if not takes_kwargs and "security" not in keywords:
                unsecured.append(f"{path}:{line} {name}")
        elif name in SECURITY_TAKERS and "security" not in keywords:
            unsecured.append(f"{path}:{line} {name} without security=")
    assert constructions >= 10, "the scan found the client constructions"
    assert not unsecured, "\n".join(unsecured)


def test_each_services_kafka_use_is_its_own_topics_and_groups() -> None:
    access = {service: kafka_access(definition(service), ServiceSettings(service=service))
              for service in ("registration", "submission", "review", "stats")}
    assert access["registration"].writes == {"registration.events", "registration.dlq"}
    assert access["registration"].reads == {"registration.events", "registration.dlq"}
    assert access["registration"].groups == {"registration"}
    assert access["submission"].writes == {"submission.events", "submission.dlq"}
    assert access["submission"].groups == {"submission"}
    assert access["review"].writes == {"review.events", "review.dlq", "review.assignment.dlq", "review.cancellation.dlq"}
    assert access["review"].groups == {"review", "review.assignment", "review.cancellation"}
    assert access["stats"].writes == {"stats.dlq", "stats.journal.dlq"}, "stats stores no events of its own"
    assert access["stats"].groups == {"stats", "stats.journal"}
    assert {"registration.events", "submission.events", "review.events"} <= access["stats"].reads
    prefixed = kafka_access(definition("review"), ServiceSettings(service="review", topic_prefix="t1."))
    assert all(name.startswith("t1.") for name in prefixed.topics + sorted(prefixed.groups))


def test_a_worker_with_contradicting_kafka_settings_does_not_start(monkeypatch: pytest.MonkeyPatch) -> None:
    from infra.kafka import build_broker

    with pytest.raises(KafkaSecurityError, match="QCP_KAFKA_PASSWORD"):
        build_broker(sasl_settings(monkeypatch, QCP_KAFKA_PASSWORD=None))
