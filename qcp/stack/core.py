"""``up``, ``down`` and ``status`` over the stack's components."""

from __future__ import annotations

import time
from collections.abc import Iterable

from . import _proc
from ._base import Component, ComponentStatus
from ._ferretdb import FerretDB
from ._kafka import Kafka
from ._postgres import Postgres
from .config import StackConfig
from .errors import StackError

#: Start order; ``down`` goes in reverse.
COMPONENTS: tuple[str, ...] = ("postgres", "ferretdb", "kafka")
_CLASSES: dict[str, type[Component]] = {"postgres": Postgres, "ferretdb": FerretDB, "kafka": Kafka}


def _print(message: str) -> None:
    print(message, flush=True)


def component(config: StackConfig, name: str) -> Component:
    try:
        return _CLASSES[name](config)
    except KeyError:
        raise StackError(f"unknown component {name!r}; choose from {', '.join(COMPONENTS)}") from None


def _selected(components: Iterable[str] | None) -> list[str]:
    names = list(components) if components else list(COMPONENTS)
    for name in names:
        if name not in _CLASSES:
            raise StackError(f"unknown component {name!r}; choose from {', '.join(COMPONENTS)}")
    return [name for name in COMPONENTS if name in names]


def up(
    config: StackConfig | None = None,
    components: Iterable[str] | None = None,
    *,
    echo: _proc.Echo | None = None,
) -> list[ComponentStatus]:
    """Start the components (default: all) and wait until each is healthy.

    Idempotent: a component that is already running and healthy is left alone.
    Components a requested one depends on are started too (ferretdb needs postgres
    with its default backend). Raises ``PortTaken`` before starting anything when a
    port is used by another process, ``ComponentFailed`` (with the log's last lines)
    when a component does not come up.
    """
    config = config or StackConfig()
    echo = echo or _print
    wanted = _selected(components)
    for name in list(wanted):
        for dep in component(config, name).requires():
            if dep not in wanted:
                echo(f"{name}: needs {dep}, including it")
                wanted.append(dep)
    wanted = _selected(wanted)

    config.state_dir.mkdir(parents=True, exist_ok=True)
    with _proc.locked(config.state_dir / "stack.lock", echo):
        # First look at everything, so that a taken port fails before anything starts.
        plan: list[tuple[Component, ComponentStatus, bool]] = []  # (component, status, needs starting)
        for name in wanted:
            comp = component(config, name)
            state = comp.status()
            needs_start = not state.healthy and comp.live_pid() is None
            if needs_start:
                comp.clear_stale_pid()
                comp.check_ports_free()  # raises PortTaken
            plan.append((comp, state, needs_start))

        results: dict[str, ComponentStatus] = {}
        for comp, state, needs_start in plan:
            if state.healthy:
                echo(f"{comp.name}: already running and healthy (pid {state.pid}), nothing to do")
                results[comp.name] = state
                continue
            began = time.monotonic()
            proc = None
            if needs_start:
                comp.prepare(echo)
                comp.check_ports_free()
                proc = comp.start(echo)
            else:
                current = comp.status()  # what it depends on may have just started
                if not current.healthy:
                    echo(f"{comp.name}: running (pid {state.pid}) but not healthy yet ({current.detail}); waiting")
            results[comp.name] = comp.wait_healthy(echo, proc)
            if needs_start:
                echo(f"{comp.name}: up in {time.monotonic() - began:.1f} s")
    return [results[name] for name in wanted]


def down(
    config: StackConfig | None = None,
    components: Iterable[str] | None = None,
    *,
    echo: _proc.Echo | None = None,
) -> None:
    """Stop the components (default: all) in reverse start order: SIGTERM, wait, SIGKILL.
    Stopping what is not running is fine."""
    config = config or StackConfig()
    echo = echo or _print
    wanted = _selected(components)
    if not config.state_dir.is_dir():
        for name in reversed(wanted):
            echo(f"{name}: not running (no state folder {config.state_dir})")
        return
    with _proc.locked(config.state_dir / "stack.lock", echo):
        for name in reversed(wanted):
            comp = component(config, name)
            pid = comp.live_pid()
            if pid is None:
                comp.clear_stale_pid()
                echo(f"{name}: not running")
                continue
            echo(f"{name}: stopping pid {pid}...")
            began = time.monotonic()
            comp.stop(pid, echo)
            echo(f"{name}: stopped in {time.monotonic() - began:.1f} s")


def status(config: StackConfig | None = None, components: Iterable[str] | None = None) -> list[ComponentStatus]:
    """Whether each component (default: all) is healthy, and why not."""
    config = config or StackConfig()
    return [component(config, name).status() for name in _selected(components)]


def create_database(config: StackConfig | None, name: str) -> bool:
    """Create database ``name`` in the stack's PostgreSQL (which must be running)
    if it does not exist; returns whether it was created. Connect with
    ``config.postgres_dsn_for(name)``."""
    config = config or StackConfig()
    return bool(Postgres(config).ensure_databases([name]))
