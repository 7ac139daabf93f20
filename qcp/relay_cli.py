"""qcp relay: operators' commands on a write service's outbox relay."""

from __future__ import annotations

import asyncio

import click

WRITE_SERVICES = ("registration", "submission", "review")


@click.group()
def relay() -> None:
    """The outbox relay of a write service."""


@relay.command("republish")
@click.option("--service", type=click.Choice(WRITE_SERVICES), required=True)
@click.option("--from", "from_position", type=click.IntRange(min=0), default=0, show_default=True,
              help="notification id after which to republish; 0 for every stored event")
def republish_command(service: str, from_position: int) -> None:
    """Publish the service's stored events again from its event store (the broker lost its data).

    Same event ids, same order per aggregate; consumers recognise what they already applied."""
    from infra.bootstrap import open_event_store
    from infra.kafka_security import kafka_security
    from infra.relay_producer import RelayProducer, idempotent_producer_factory
    from infra.republish import republish
    from qcp.services import definition, settings_for

    settings = settings_for(service)
    application = open_event_store(definition(service), settings)
    if application is None:
        raise click.ClickException(f"{service} has no event store")
    producer = RelayProducer(idempotent_producer_factory(
        settings.kafka_bootstrap, f"qcp-{service}-republish", security=kafka_security(settings)))

    def progress(position: int, end: int) -> None:
        click.echo(f"\r{service}: {position}/{end}", nl=False)

    try:
        report = asyncio.run(republish(settings, application, producer, from_position=from_position, progress=progress))
    finally:
        application.close()
    click.echo(
        f"\n{service}: {report.events} events republished to {report.topic}"
        f" (notifications {report.from_position}..{report.to_position}) in {report.seconds:.1f} s"
    )
