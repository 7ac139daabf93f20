"""Registration's composition root: its write model, read model, topics, routes and who may call them."""

from __future__ import annotations

from infra.bootstrap import ServiceDefinition
from services.registration.adapters.read_model import RegistrationReadModel
from services.registration.application import RegistrationApplication
from services.registration.entrypoints.http import build_router
from services.registration.entrypoints.messaging import CONSUMED_TOPICS
from services.registration.entrypoints.policy import POLICY


def definition() -> ServiceDefinition:
    return ServiceDefinition(
        name="registration",
        build_application=RegistrationApplication,
        build_read_model=RegistrationReadModel,
        build_router=build_router,
        consumes=CONSUMED_TOPICS,
        policy=POLICY,
    )
