"""Typed FastAPI dependencies every service's routes share: the app's application, read model, settings and clock.

A service names its own types over these, once, in its entrypoints, e.g.
`Application = Annotated[ReviewApplication, Depends(application_of)]`.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request


def application_of(request: Request) -> Any:  # noqa: ANN401 - typed by each service's alias
    """The service's write side (its event-sourced application)."""
    return request.app.state.application


def read_model_of(request: Request) -> Any:  # noqa: ANN401
    """The service's read model."""
    return request.app.state.read_model


def settings_of(request: Request) -> Any:  # noqa: ANN401
    """The service's settings."""
    return request.app.state.settings


def clock_of(request: Request) -> Any:  # noqa: ANN401
    """The clock commands and window checks use (tests inject one)."""
    return request.app.state.clock
