"""The topics and consumer groups a service's processes use: what its worker creates when missing, and all
that its Kafka user may be allowed to touch (the deployment's ACLs are checked against it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from infra.settings import ServiceSettings

if TYPE_CHECKING:
    from infra.bootstrap import ServiceDefinition


@dataclass(frozen=True)
class KafkaAccess:
    """One service's use of Kafka, by topic and consumer group names (with the settings' prefix)."""

    # Topics it writes: its own events (outbox relay, republish), if it stores any, and its dead letters.
    writes: frozenset[str]
    # Topics it reads: what its projection and process managers consume, and its own dead letters
    # (stats' rebuild skips what its live group dead-lettered; operators inspect and replay them).
    reads: frozenset[str]
    # Its consumer groups: the projection's and one per process manager.
    groups: frozenset[str]

    @property
    def dead_letter_topics(self) -> frozenset[str]:
        return frozenset(topic for topic in self.writes if topic.endswith(".dlq"))

    @property
    def topics(self) -> list[str]:
        """Every topic it uses, in a stable order."""
        return sorted(self.writes | self.reads)


def kafka_access(definition: ServiceDefinition, settings: ServiceSettings) -> KafkaAccess:
    dead_letters = {settings.dead_letter_topic} | {process.dead_letter_topic(settings) for process in definition.processes}
    consumed = {settings.topic(name) for name in definition.consumes}
    for process in definition.processes:
        consumed |= {settings.topic(name) for name in process.consumes}
    own_events = {settings.own_topic} if definition.build_application is not None else set()
    return KafkaAccess(
        writes=frozenset(own_events | dead_letters),
        reads=frozenset(consumed | dead_letters),
        groups=frozenset({settings.consumer_group} | {process.group(settings) for process in definition.processes}),
    )
