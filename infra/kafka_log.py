"""Broker trouble in the logs as one line per change of state: Kafka away (the first error, then silence) and
Kafka back (with how many errors were held back meanwhile), instead of aiokafka's reconnect errors by the thousand."""

from __future__ import annotations

import logging
import threading
import time

# aiokafka's loggers (a filter on a logger sees only the records logged on that logger, not its children's)
AIOKAFKA_LOGGERS = (
    "aiokafka",
    "aiokafka.admin.client",
    "aiokafka.client",
    "aiokafka.cluster",
    "aiokafka.conn",
    "aiokafka.consumer.consumer",
    "aiokafka.consumer.fetcher",
    "aiokafka.consumer.group_coordinator",
    "aiokafka.consumer.subscription_state",
    "aiokafka.producer.message_accumulator",
    "aiokafka.producer.producer",
    "aiokafka.producer.sender",
)

log = logging.getLogger(__name__)


class BrokerTroubleSummary(logging.Filter):
    """Lets the first warning or error of a Kafka client through as "Kafka away", counts and drops the
    following ones, and writes "Kafka back" with the count when something reached the broker again."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.away_since: float | None = None
        self.suppressed = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        with self.lock:
            if self.away_since is None:
                self.away_since = time.monotonic()
                self.suppressed = 0
                record.msg = f"Kafka away (further broker errors are counted until it is back): {record.msg}"
                return True
            self.suppressed += 1
            return False

    def reachable(self) -> None:
        """Something reached the broker: if it was away, say once that it is back and how much was held back."""
        if self.away_since is None:
            return
        with self.lock:
            if self.away_since is None:
                return
            away_for, suppressed = time.monotonic() - self.away_since, self.suppressed
            self.away_since, self.suppressed = None, 0
        log.warning("Kafka back after %.0f s; %d broker errors were held back meanwhile", away_for, suppressed)


SUMMARY = BrokerTroubleSummary()


def summarise_broker_trouble(*extra_loggers: str) -> BrokerTroubleSummary:
    """Install the summary on aiokafka's loggers (and the given ones, e.g. a broker's own); idempotent."""
    for name in (*AIOKAFKA_LOGGERS, *extra_loggers):
        logger = logging.getLogger(name)
        if SUMMARY not in logger.filters:
            logger.addFilter(SUMMARY)
    return SUMMARY


def kafka_reachable() -> None:
    """Called where a request to the broker succeeded (a commit, a lag measurement, a start)."""
    SUMMARY.reachable()
