"""While Kafka is away the logs say so once, hold back aiokafka's reconnect errors, and say once that it is back
with how many were held back; FastStream's per-message lines are debug only."""

from __future__ import annotations

import logging

import pytest

from infra.kafka import build_broker
from infra.kafka_log import BrokerTroubleSummary
from infra.settings import ServiceSettings


@pytest.fixture
def summarised(caplog: pytest.LogCaptureFixture):
    summary = BrokerTroubleSummary()
    logger = logging.getLogger("aiokafka.client")
    # a worker built earlier in the same process installed the process's own summary: this test's stands alone
    installed = [item for item in logger.filters if isinstance(item, BrokerTroubleSummary)]
    for item in installed:
        logger.removeFilter(item)
    logger.addFilter(summary)
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.INFO, logger="aiokafka.client")  # whatever an earlier command line set aiokafka to
    try:
        yield summary, logger
    finally:
        logger.removeFilter(summary)
        for item in installed:
            logger.addFilter(item)


def test_a_thousand_reconnect_errors_make_one_line_away_and_one_line_back(summarised, caplog) -> None:
    summary, logger = summarised
    for _ in range(1000):
        logger.error('Unable connect to "127.0.0.1:19092": [Errno 111] Connection refused')
    summary.reachable()
    summary.reachable()  # back already: nothing more
    lines = [record.getMessage() for record in caplog.records]
    assert lines == [
        'Kafka away (further broker errors are counted until it is back): Unable connect to "127.0.0.1:19092": '
        "[Errno 111] Connection refused",
        "Kafka back after 0 s; 999 broker errors were held back meanwhile",
    ]


def test_the_next_outage_is_told_again(summarised, caplog) -> None:
    summary, logger = summarised
    logger.warning("Unable to request metadata")
    summary.reachable()
    logger.warning("Unable to request metadata")
    away = [record for record in caplog.records if record.getMessage().startswith("Kafka away")]
    assert len(away) == 2


def test_information_passes_while_kafka_is_away(summarised, caplog) -> None:
    _, logger = summarised
    logger.error("Unable connect")
    logger.info("Discovered coordinator 1 for group g")
    assert caplog.records[-1].getMessage() == "Discovered coordinator 1 for group g"


def test_faststream_writes_its_received_and_processed_lines_at_debug() -> None:
    broker = build_broker(ServiceSettings(service="review", development_mode=True))
    assert broker.config.logger.log_level == logging.DEBUG  # type: ignore[attr-defined]
