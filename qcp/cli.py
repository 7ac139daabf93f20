"""The project's command line: `qcp stack`, `qcp serve`, `qcp token`, `qcp run`, `qcp contracts`."""

from __future__ import annotations

import click

from qcp.services import SERVICES


@click.group()
def cli() -> None:
    """QC platform: local stack, services, tokens, demo data and contracts."""


@cli.group()
def serve() -> None:
    """Run one service's API or worker in the foreground."""


@serve.command("api")
@click.option("--service", type=click.Choice(SERVICES), required=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8000, show_default=True)
def serve_api(service: str, host: str, port: int) -> None:
    """The FastAPI app: commands, queries, /health, /ready, /metrics, /docs."""
    from qcp.services import serve_api as run

    run(service, host, port)


@serve.command("worker")
@click.option("--service", type=click.Choice(SERVICES), required=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=None, help="serve /health, /ready, /metrics on this port")
def serve_worker(service: str, host: str, port: int | None) -> None:
    """The outbox relay and the projection consumers."""
    from qcp.services import serve_worker as run

    run(service, host, port)


@cli.group()
def token() -> None:
    """Development bearer tokens."""


@token.command("mint")
@click.option("--role", required=True, help="organizer, unit, recommender, judge, national, feed, auditor")
@click.option("--org", required=True, help="organizer region code, unit credit code, or recommender id")
@click.option("--sub", "subject", required=True, help="the person or machine acting")
@click.option("--ttl", type=int, default=8 * 3600, show_default=True, help="seconds")
def mint(role: str, org: str, subject: str, ttl: int) -> None:
    """Print a signed token for the secret in QCP_JWT_SECRET (or the development default)."""
    from infra.bootstrap import tokens_for

    click.echo(tokens_for(ServiceSettingsForCli()).mint(subject, role, org, ttl))


def ServiceSettingsForCli():  # noqa: N802, ANN201
    from infra.settings import ServiceSettings

    return ServiceSettings(service="registration")


def main() -> None:
    try:
        from qcp.stack.cli import stack
    except ImportError:  # the stack package is optional only while it is being written
        stack = None
    if stack is not None:
        cli.add_command(stack)
    cli()


if __name__ == "__main__":
    main()
