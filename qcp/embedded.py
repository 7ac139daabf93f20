"""The embedded default: the local stack, the four services as processes, a demo season."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import click

from qcp.demo import load_demo
from qcp.launcher import Platform, default_ports
from qcp.services import SERVICES, local_tokens
from qcp.stack import StackConfig, up
from qcp.supervisor import Supervisor


def platform_environment(config: StackConfig) -> dict[str, str]:
    """What every service process needs to find the local stack; event stores on SQLite."""
    return {
        "QCP_KAFKA_BOOTSTRAP": config.kafka_bootstrap,
        "QCP_MONGO_URL": config.mongo_url,
        "QCP_EVENT_STORE": "sqlite",
        "QCP_SQLITE_DIR": str(config.state_dir / "eventstores"),
    }


def status_path(config: StackConfig) -> Path:
    return config.state_dir / "platform.json"


def supervise(platform: Platform, path: Path) -> None:
    """Restart what exits or wedges until SIGINT (KeyboardInterrupt) or SIGTERM."""
    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, _: stopping.append(signum))
    supervisor = Supervisor(platform, list(platform.processes), status_path=path, echo=_echo_with_time)
    while not stopping:
        supervisor.check()
        time.sleep(supervisor.interval)


def stop_uninterrupted(platform: Platform) -> None:
    """Stop every service; a second Ctrl-C or a SIGTERM meanwhile would abort the stop and leave services running
    unsupervised, so both wait until it is done."""
    click.echo("stopping the services (Ctrl-C again waits for this)...")
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        platform.stop()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _echo_with_time(line: str) -> None:
    click.echo(f"{time.strftime('%H:%M:%S')} {line}")


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
            loaded = load_demo(urls["registration"], local_tokens(), feed_urls=urls)
            click.echo(f"demo season {loaded['season_id']} loaded with {loaded['units']} registered units")
            click.echo(f"example feeds loaded: {loaded['feeds']}")
        for service in SERVICES:
            click.echo(f"  {service:<13} {platform.url(service)}/docs   worker {platform.worker_url(service)}/metrics")
        click.echo(f"logs in {platform.log_dir}; tokens: qcp token mint --role organizer --org 310000 --sub me")
        click.echo("processes that exit or stop answering /health are restarted (qcp status shows restarts)")
        click.echo("Ctrl-C stops the services (the stack keeps running: qcp stack down)")
        supervise(platform, status_path(config))
    except KeyboardInterrupt:
        pass
    finally:
        stop_uninterrupted(platform)
