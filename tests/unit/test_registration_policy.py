"""Registration's authorization policy covers every operation its app answers, and only reads are open to the
read-only roles."""

from __future__ import annotations

from fastapi import FastAPI

from contracts.codes import Role
from infra.http.audit import DIGEST_POLICY
from infra.authorization import PUBLIC, Scope
from infra.http import OPERATIONAL_POLICY, create_app
from infra.metrics import ServiceMetrics
from infra.http.operations import OPERATIONS_POLICY
from infra.readiness import Readiness
from services.registration.entrypoints.http import build_router
from services.registration.entrypoints.policy import POLICY
from tests.harness import TOKENS


def registration_app() -> FastAPI:
    return create_app(service="registration", routers=[build_router()], tokens=TOKENS,
                      metrics=ServiceMetrics("registration"), readiness=Readiness({}), policy=POLICY)


def operations() -> set[tuple[str, str]]:
    """Every (method, path) of the app's OpenAPI document: the routes of included routers too."""
    return {(method.upper(), path) for path, item in registration_app().openapi()["paths"].items() for method in item}


def test_every_operation_has_a_policy_and_every_policy_an_operation() -> None:
    shared = {**OPERATIONAL_POLICY, **DIGEST_POLICY, **OPERATIONS_POLICY}
    assert {operation for operation in operations() if operation not in shared} == set(POLICY)


def test_read_only_roles_and_ops_change_nothing() -> None:
    for (method, path), rules in POLICY.items():
        if method != "GET":
            assert rules is not PUBLIC, path
            assert not {Role.AUDITOR, Role.OPS, Role.JUDGE} & set(rules), (method, path)
            assert Scope.PLATFORM not in rules.values(), (method, path)


def test_only_the_forms_codes_are_public() -> None:
    assert [operation for operation, rules in POLICY.items() if rules is PUBLIC] == [("GET", "/codes")]
