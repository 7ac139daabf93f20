"""qcp dlq: show a service's dead letters and replay them once their cause is fixed (semantics in qcp/dlq.py)."""

from __future__ import annotations

import asyncio
import json
import os

import click

from qcp.services import SERVICES


def operator_settings(service: str):  # noqa: ANN201 - ServiceSettings, imported lazily
    """The service's settings from QCP_* variables; Kafka and MongoDB default to the local stack's (as `qcp run`)."""
    from infra.settings import ServiceSettings
    from qcp.stack import StackConfig

    config = StackConfig()
    local = {"kafka_bootstrap": ("QCP_KAFKA_BOOTSTRAP", config.kafka_bootstrap),
             "mongo_url": ("QCP_MONGO_URL", config.mongo_url)}
    return ServiceSettings(service=service, **{key: value for key, (variable, value) in local.items()
                                               if variable not in os.environ})


def _run(settings, work):  # noqa: ANN001, ANN202 - a coroutine and its result
    """Run the work; Kafka not answering is an operator's message, not a traceback."""
    import logging

    from aiokafka.errors import KafkaError

    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        return asyncio.run(work)
    except (KafkaError, TimeoutError) as error:
        raise click.ClickException(f"Kafka at {settings.kafka_bootstrap} did not answer: {error}") from None


def _topics(service: str, settings, topic: str | None) -> list[str]:  # noqa: ANN001
    from qcp.dlq import DeadLetterTopicUnknown, dead_letter_topics

    try:
        return dead_letter_topics(service, settings, topic)
    except DeadLetterTopicUnknown as error:
        raise click.BadParameter(str(error), param_hint="--topic") from None


@click.group()
def dlq() -> None:
    """A service's dead-letter topics: what its consumer groups could not handle."""


@dlq.command("show")
@click.option("--service", type=click.Choice(SERVICES), required=True)
@click.option("--topic", help="one of the service's dead-letter topics (default: all of them)")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, help="the latest N per topic")
@click.option("--all", "include_replayed", is_flag=True, help="also the dead letters already replayed")
@click.option("--json", "as_json", is_flag=True, help="one JSON object per dead letter, with the message's body")
def show(service: str, topic: str | None, limit: int, include_replayed: bool, as_json: bool) -> None:
    """The dead letters: where they came from, which group refused them, why and when."""
    from qcp.dlq import DeadLetterTopicUnknown, read_dead_letters

    settings = operator_settings(service)
    for name in _topics(service, settings, topic):
        try:
            read = _run(settings, read_dead_letters(settings, name))
        except DeadLetterTopicUnknown as error:
            click.echo(f"{name}: {error}")
            continue
        shown = read.letters if include_replayed else read.waiting
        if not as_json:
            click.echo(f"{name}: {len(read.waiting)} waiting, {len(read.letters) - len(read.waiting)} replayed")
        for letter in shown[-limit:]:
            if as_json:
                click.echo(json.dumps(letter.summary() | {"key": (letter.key or b"").decode("utf-8", "replace"),
                                                          "body": letter.value.decode("utf-8", "replace")},
                                      ensure_ascii=False))
                continue
            where = f"{letter.original_topic}[{letter.headers.get('original_partition')}]@" \
                    f"{letter.headers.get('original_offset')}"
            state = f"replayed {letter.replayed_at}" if letter.replayed_at else "waiting"
            click.echo(f"  [{letter.partition}]@{letter.offset} {where} group {letter.headers.get('consumer_group')} "
                       f"{letter.headers.get('reason')} at {letter.headers.get('dead_lettered_at')} ({state})")
            click.echo(f"      {letter.headers.get('error', '')[:300]}")


@dlq.command("replay")
@click.option("--service", type=click.Choice(SERVICES), required=True)
@click.option("--topic", help="one of the service's dead-letter topics (default: all of them)")
@click.option("--reason", "reasons", multiple=True, type=click.Choice(["unreadable", "unprojectable", "unprocessable"]),
              help="only the dead letters of this reason (repeatable; default: every reason)")
def replay_command(service: str, topic: str | None, reasons: tuple[str, ...]) -> None:
    """Hand every dead letter not yet replayed back to its original topic, once; run it after fixing the cause.

    Safe to run again or after an interruption: what was replayed is marked and skipped, and the consumers
    apply an event once whatever the copies."""
    from qcp.dlq import replay

    settings = operator_settings(service)
    report = _run(settings, replay(settings, _topics(service, settings, topic), echo=click.echo,
                                           reasons=frozenset(reasons) or None))
    for name, count in report.replayed.items():
        skipped = f", {report.without_origin[name]} without an original topic" if report.without_origin[name] else ""
        click.echo(f"{name}: {count} replayed, {report.already_replayed[name]} replayed before{skipped}")
