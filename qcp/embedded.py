"""The embedded default: the local stack, the four services as processes, a demo season."""

from __future__ import annotations

import signal
import time

import click

from infra.bootstrap import tokens_for
from qcp.demo import load_demo
from qcp.launcher import Platform, default_ports
from qcp.services import SERVICES, settings_for
from qcp.stack import StackConfig, up


def platform_environment(config: StackConfig) -> dict[str, str]:
    """What every service process needs to find the local stack; event stores on SQLite."""
    return {
        "QCP_KAFKA_BOOTSTRAP": config.kafka_bootstrap,
        "QCP_MONGO_URL": config.mongo_url,
        "QCP_EVENT_STORE": "sqlite",
        "QCP_SQLITE_DIR": str(config.state_dir / "eventstores"),
    }


def run_platform(*, demo: bool, base_port: int) -> None:
    started = time.monotonic()
    config = StackConfig()
    up(config)
    platform = Platform(platform_environment(config), config.state_dir / "logs", default_ports(base_port))
    click.echo("starting the services...")
    platform.start()
    try:
        platform.wait_until_ready()
        click.echo(f"platform ready in {time.monotonic() - started:.0f}s")
        if demo:
            urls = {service: platform.url(service) for service in ("registration", "submission", "review")}
            loaded = load_demo(urls["registration"], tokens_for(settings_for("registration")), feed_urls=urls)
            click.echo(f"demo season {loaded['season_id']} loaded with {loaded['units']} registered units")
            click.echo(f"example feeds loaded: {loaded['feeds']}")
        for service in SERVICES:
            click.echo(f"  {service:<13} {platform.url(service)}/docs   worker {platform.worker_url(service)}/metrics")
        click.echo(f"logs in {platform.log_dir}; tokens: qcp token mint --role organizer --org 310000 --sub me")
        click.echo("Ctrl-C stops the services (the stack keeps running: qcp stack down)")
        # Blocked only now: the service processes started above must not inherit the mask.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    except KeyboardInterrupt:
        pass
    finally:
        click.echo("stopping the services...")
        platform.stop()
