"""Finds a service's definition by name and runs its API or worker process."""

from __future__ import annotations

import asyncio
import importlib
import logging
import signal
from collections.abc import Callable
from typing import TypeVar

import uvicorn

from infra.auth import SigningKeyRefused, TokenService
from infra.bootstrap import ServiceDefinition, build_api, build_worker, tokens_for
from infra.settings import ServiceSettings

SERVICES = ("registration", "submission", "review", "stats")
Built = TypeVar("Built")


def definition(service: str) -> ServiceDefinition:
    module = importlib.import_module(f"services.{service}.bootstrap")
    return module.definition()


def settings_for(service: str) -> ServiceSettings:
    return ServiceSettings(service=service)  # the rest comes from QCP_* variables


def local_tokens() -> TokenService:
    """Tokens for the platform on this machine (the CLI's commands and the demo): signed with QCP_JWT_SECRET when
    it is set, else with the development secret the embedded platform runs with. A token signed with that secret
    is worth nothing elsewhere: a service outside development mode refuses to start with it."""
    return tokens_for(ServiceSettings(service="registration", development_mode=True))


def _refusing_insecure_keys(service: str, build: Callable[[], Built]) -> Built:
    """The process, or an exit naming the signing-key setting at fault (no traceback: it is a configuration error)."""
    try:
        return build()
    except SigningKeyRefused as error:
        raise SystemExit(f"{service} refuses to start: {error}") from None


def serve_api(service: str, host: str, port: int) -> None:
    settings = settings_for(service)
    logging.basicConfig(level=settings.log_level, format=f"%(asctime)s {service}-api %(levelname)s %(name)s: %(message)s")
    app = _refusing_insecure_keys(service, lambda: build_api(definition(service), settings))
    uvicorn.run(app, host=host, port=port, log_level=settings.log_level.lower(), access_log=False)


def serve_worker(service: str, host: str, port: int | None) -> None:
    settings = settings_for(service)
    logging.basicConfig(level=settings.log_level, format=f"%(asctime)s {service}-worker %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    worker = _refusing_insecure_keys(service, lambda: build_worker(definition(service), settings))

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await worker.run(stop, host=host, port=port)

    asyncio.run(main())
