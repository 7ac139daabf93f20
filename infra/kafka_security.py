"""How every Kafka client of a service process authenticates: SASL/SCRAM and TLS from the settings, in one place.

The local stack speaks PLAINTEXT; a deployment gives each service a SCRAM user of its own (a Strimzi
`KafkaUser` whose ACLs name only that service's topics and consumer groups) and the cluster CA to verify
the brokers. Every client the code creates (FastStream's broker, the relay's producer, admin clients,
the consumer-lag and catch-up readers, the stats rebuild's readers) takes its keyword arguments from
`KafkaSecurity.client_kwargs()`, so none can be left talking plaintext while the others authenticate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from aiokafka.helpers import create_ssl_context
from faststream.security import BaseSecurity, SASLScram256, SASLScram512

if TYPE_CHECKING:
    from infra.settings import ServiceSettings

SecurityProtocol = Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["SCRAM-SHA-512", "SCRAM-SHA-256"]

_BROKER_SECURITY = {"SCRAM-SHA-512": SASLScram512, "SCRAM-SHA-256": SASLScram256}


class KafkaSecurityError(ValueError):
    """The Kafka security settings contradict each other (the process must not start with them)."""


@dataclass(frozen=True)
class KafkaSecurity:
    """The credentials and transport of a service's Kafka clients.

    Plain values only, so that it pickles: the stats rebuild hands it to the processes that fold shares
    of the partitions, and each builds its own TLS context from it."""

    protocol: SecurityProtocol = "PLAINTEXT"
    mechanism: SaslMechanism = "SCRAM-SHA-512"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    # The CA that signed the brokers' certificates (SASL_SSL); None trusts the system's CAs.
    cafile: str | None = None

    def __post_init__(self) -> None:
        if self.protocol not in ("PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL"):
            raise KafkaSecurityError(f"QCP_KAFKA_SECURITY_PROTOCOL {self.protocol!r} is not one of "
                                     "PLAINTEXT, SASL_PLAINTEXT, SASL_SSL")
        if self.mechanism not in _BROKER_SECURITY:
            raise KafkaSecurityError(f"QCP_KAFKA_SASL_MECHANISM {self.mechanism!r} is not one of "
                                     f"{', '.join(_BROKER_SECURITY)}")
        if self.sasl and not (self.username and self.password):
            raise KafkaSecurityError(f"QCP_KAFKA_SECURITY_PROTOCOL={self.protocol} needs QCP_KAFKA_USERNAME "
                                     "and QCP_KAFKA_PASSWORD")
        if not self.sasl and (self.username or self.password):
            raise KafkaSecurityError("QCP_KAFKA_USERNAME/QCP_KAFKA_PASSWORD are set but "
                                     "QCP_KAFKA_SECURITY_PROTOCOL=PLAINTEXT would never send them")
        if self.cafile and self.protocol != "SASL_SSL":
            raise KafkaSecurityError(f"QCP_KAFKA_SSL_CAFILE is set but QCP_KAFKA_SECURITY_PROTOCOL={self.protocol} "
                                     "does not use TLS")

    @property
    def sasl(self) -> bool:
        return self.protocol != "PLAINTEXT"

    @property
    def tls(self) -> bool:
        return self.protocol == "SASL_SSL"

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for any aiokafka client: producer, consumer, admin client, bare client."""
        if not self.sasl:
            return {"security_protocol": "PLAINTEXT"}
        kwargs: dict[str, Any] = {
            "security_protocol": self.protocol,
            "sasl_mechanism": self.mechanism,
            "sasl_plain_username": self.username,
            "sasl_plain_password": self.password,
        }
        if self.tls:
            kwargs["ssl_context"] = create_ssl_context(cafile=self.cafile)
        return kwargs

    def broker_security(self) -> BaseSecurity | None:
        """The same for FastStream's KafkaBroker, which takes it as `security=` and turns it back into
        exactly `client_kwargs()` for the producer and consumers it creates."""
        if not self.sasl:
            return None
        assert self.username is not None and self.password is not None  # checked in __post_init__
        ssl_context = create_ssl_context(cafile=self.cafile) if self.tls else None
        return _BROKER_SECURITY[self.mechanism](self.username, self.password, ssl_context=ssl_context, use_ssl=self.tls)


PLAINTEXT = KafkaSecurity()


def kafka_security(settings: ServiceSettings) -> KafkaSecurity:
    """The Kafka security a service's settings ask for (raises KafkaSecurityError when they contradict)."""
    password = settings.kafka_password.get_secret_value() if settings.kafka_password is not None else None
    return KafkaSecurity(
        protocol=settings.kafka_security_protocol,
        mechanism=settings.kafka_sasl_mechanism,
        username=settings.kafka_username or None,
        password=password or None,
        cafile=settings.kafka_ssl_cafile or None,
    )
