"""Finds a service's definition by name and runs its API or worker process."""

from __future__ import annotations

import asyncio
import importlib
import logging
import signal

import uvicorn

from infra.bootstrap import ServiceDefinition, build_api, build_worker
from infra.settings import ServiceSettings

SERVICES = ("registration", "submission", "review", "stats")


def definition(service: str) -> ServiceDefinition:
    module = importlib.import_module(f"services.{service}.bootstrap")
    return module.definition()


def settings_for(service: str) -> ServiceSettings:
    return ServiceSettings(service=service)  # the rest comes from QCP_* variables


def serve_api(service: str, host: str, port: int) -> None:
    settings = settings_for(service)
    logging.basicConfig(level=settings.log_level, format=f"%(asctime)s {service}-api %(levelname)s %(name)s: %(message)s")
    app = build_api(definition(service), settings)
    uvicorn.run(app, host=host, port=port, log_level=settings.log_level.lower(), access_log=False)


def serve_worker(service: str, host: str, port: int | None) -> None:
    settings = settings_for(service)
    logging.basicConfig(level=settings.log_level, format=f"%(asctime)s {service}-worker %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    worker = build_worker(definition(service), settings)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await worker.run(stop, host=host, port=port)

    asyncio.run(main())
