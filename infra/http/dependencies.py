"""Typed FastAPI dependencies every service's routes share: the app's application, read model, settings and clock,
and the wait for the caller's own writes (`read_your_writes`, on every route of an app).

A service names its own types over these, once, in its entrypoints, e.g.
`Application = Annotated[ReviewApplication, Depends(application_of)]`.

They are `async def` although none of them waits: FastAPI runs a plain `def` dependency in a worker thread, one
thread hop per dependency per request, which a command's latency pays for nothing.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request

from infra.positions import (
    DEFAULT_WAIT_SECONDS,
    OPERATIONAL_PATHS,
    AppliedPositions,
    Position,
    wait_until_applied,
)


async def application_of(request: Request) -> Any:  # noqa: ANN401 - typed by each service's alias
    """The service's write side (its event-sourced application)."""
    return request.app.state.application


async def read_model_of(request: Request) -> Any:  # noqa: ANN401
    """The service's read model."""
    return request.app.state.read_model


async def settings_of(request: Request) -> Any:  # noqa: ANN401
    """The service's settings."""
    return request.app.state.settings


async def clock_of(request: Request) -> Any:  # noqa: ANN401
    """The clock commands and window checks use (tests inject one)."""
    return request.app.state.clock


async def read_your_writes(
    request: Request,
    min_position: Annotated[
        str | None,
        Query(
            max_length=200,
            description=(
                "Answer only once this service's read model has applied the event at this position (the `position`"
                " a command answered, `<aggregate_id>@<version>`): waits a few seconds, or answers 409 with the lag."
            ),
        ),
    ] = None,
) -> None:
    """The dependency every route shares: a read (GET) waits for `min_position` when one is given."""
    if min_position is None or request.method not in {"GET", "HEAD"} or request.url.path in OPERATIONAL_PATHS:
        return
    position = Position.parse(min_position)
    state = request.app.state
    read_model = getattr(state, "read_model", None)
    if read_model is None:  # an app without a read model (a worker's health app) has nothing to wait for
        return
    settings = getattr(state, "settings", None)
    wait = getattr(settings, "read_your_writes_wait_seconds", DEFAULT_WAIT_SECONDS)
    await wait_until_applied(AppliedPositions(read_model.database), position, wait)
