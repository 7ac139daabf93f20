"""``qcp stack``: start, stop and inspect the local stack (PostgreSQL, FerretDB, Kafka)."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict

import click

from . import core
from ._proc import tail_file
from .config import StackConfig
from .errors import StackError

_COMPONENT = click.Choice(core.COMPONENTS)


def _config() -> StackConfig:
    try:
        return StackConfig()
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


def _fail(exc: StackError) -> None:
    click.echo(f"error: {exc}", err=True)
    sys.exit(1)


@click.group()
def stack() -> None:
    """The local stack: PostgreSQL, FerretDB (MongoDB-compatible) and Kafka as local processes.

    Configured by the environment: QCP_STATE_DIR (default .qcp in the project root),
    QCP_CACHE_DIR (default ~/.cache/qcp), QCP_POSTGRES_PORT (15432), QCP_MONGO_PORT (27018),
    QCP_KAFKA_PORT (19092; its controller uses the next port), QCP_FERRETDB_HANDLER
    (postgresql or sqlite).
    """


@stack.command()
@click.argument("components", nargs=-1, type=_COMPONENT)
def up(components: tuple[str, ...]) -> None:
    """Start COMPONENTS (default: all, in the order postgres, ferretdb, kafka) and wait until healthy.

    Already running and healthy components are left alone. The first run on a machine
    downloads Kafka's jars with maven and builds FerretDB with go (cached).
    """
    config = _config()
    began = time.monotonic()
    try:
        states = core.up(config, components or None, echo=click.echo)
    except StackError as exc:
        _fail(exc)
        return
    click.echo(f"stack up ({time.monotonic() - began:.1f} s); state in {config.state_dir}")
    names = {s.name for s in states}
    if "postgres" in names:
        click.echo(f"  postgres: {config.postgres_dsn}")
    if "ferretdb" in names:
        click.echo(f"  mongo:    {config.mongo_url}")
    if "kafka" in names:
        click.echo(f"  kafka:    {config.kafka_bootstrap}")


@stack.command()
@click.argument("components", nargs=-1, type=_COMPONENT)
def down(components: tuple[str, ...]) -> None:
    """Stop COMPONENTS (default: all, in the order kafka, ferretdb, postgres). Data is kept."""
    try:
        core.down(_config(), components or None, echo=click.echo)
    except StackError as exc:
        _fail(exc)


@stack.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of text.")
def status(as_json: bool) -> None:
    """Say whether each component is healthy, and why not. Exits 1 if one is not."""
    config = _config()
    states = core.status(config)
    if as_json:
        click.echo(json.dumps([asdict(s) for s in states], indent=2))
    else:
        for s in states:
            mark = "ok  " if s.healthy else "DOWN"
            click.echo(f"{mark} {s.name:<9} {s.detail}")
    if not all(s.healthy for s in states):
        sys.exit(1)


@stack.command()
@click.argument("component", type=_COMPONENT)
@click.option("-n", "--lines", default=50, show_default=True, help="Number of last lines to show.")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines (Ctrl-C to stop).")
def logs(component: str, lines: int, follow: bool) -> None:
    """Show the last lines of COMPONENT's log file."""
    path = _config().log_file(component)
    if not path.exists():
        click.echo(f"{component}: no log yet ({path})", err=True)
        if not follow:
            sys.exit(1)
    else:
        text = tail_file(path, lines)
        if text:
            click.echo(text)
    if not follow:
        return
    position = path.stat().st_size if path.exists() else 0
    try:
        while True:
            time.sleep(0.5)
            if not path.exists():
                continue
            size = path.stat().st_size
            if size < position:  # rotated or truncated
                position = 0
            if size > position:
                with path.open("rb") as fh:
                    fh.seek(position)
                    chunk = fh.read()
                position += len(chunk)
                click.echo(chunk.decode(errors="replace"), nl=False)
    except KeyboardInterrupt:
        pass


def main() -> None:
    stack()


if __name__ == "__main__":
    main()
