"""The four services' OpenAPI documents tell the truth: schemathesis generates requests for every operation, sends
them with the tokens of several roles to the services on the real stack, and every answer must be declared
(its status, and its body by the declared schema) and none may be a server error. Links lead to real
operations; malformed bodies and unserved methods get the services' own error format."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from schemathesis import GenerationMode
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from contracts.codes import Role
from infra.bootstrap import build_api
from infra.http.openapi import links_of
from qcp.services import definition
from qcp.stack import StackConfig
from tests.harness import bearer, isolated_settings, new_namespace

SERVICES = ("registration", "submission", "review", "stats")
# Tokens of several roles: the organizer reaches most operations, a unit and a judge are refused many.
ROLES = {
    "organizer": bearer("organizer", "310000", "staff-1"),
    "unit": bearer("unit", "91310000132149237G", "promoter"),
    "judge": bearer("judge", "j-1", "judge-1"),
}
# Per operation and role: valid requests (by the schema) and invalid ones (a wrong type, a missing field, a value
# out of bounds), about 1,400 requests over the four services in a minute (two on busy cores).
EXAMPLES = {GenerationMode.POSITIVE: 3, GenerationMode.NEGATIVE: 1}
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]
# A feed batch (NDJSON) is text: sent as schemathesis sends text/plain.
schemathesis.serializer.alias("application/x-ndjson", "text/plain")
# Writes are not rate limited here: a limit would turn the run into 429s (the limits are tested on their own).
NO_RATE_LIMITS = {f"rate_limit_{role.value}_per_minute": 0 for role in Role}


@pytest.fixture(scope="module")
def apps(stack: StackConfig, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, FastAPI]]:
    built = {}
    for service in SERVICES:
        settings = isolated_settings(stack, service, Path(tmp_path_factory.mktemp(service)), new_namespace(),
                                     **NO_RATE_LIMITS)
        built[service] = build_api(definition(service), settings)
    yield built


@pytest.mark.parametrize("service", SERVICES)
def test_every_answer_is_declared_by_the_openapi_document(apps: dict[str, FastAPI], service: str) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", apps[service])
    violations: list[str] = []
    started = time.monotonic()
    sent = sum(send_examples(result.ok(), mode, role, headers, violations)
               for result in schema.get_all_operations() for mode in EXAMPLES for role, headers in ROLES.items())
    print(f"{service}: {sent} requests in {time.monotonic() - started:.1f} s")  # noqa: T201 - the run's size
    assert sent > 0
    assert not violations, "\n\n".join(violations[:20])


def send_examples(operation: schemathesis.APIOperation, mode: GenerationMode, role: str, headers: dict[str, str],
                  violations: list[str]) -> int:
    """Send the generated examples of one operation with one role's token; collect every violation."""
    sent = 0

    @settings(max_examples=EXAMPLES[mode], deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
    @given(case=operation.as_strategy(generation_mode=mode))
    def conforms(case: schemathesis.Case) -> None:
        nonlocal sent
        sent += 1
        try:
            case.call_and_validate(headers=headers, checks=CHECKS)
        except BaseException as failure:  # noqa: BLE001 - schemathesis' FailureGroup; every violation is reported
            if isinstance(failure, KeyboardInterrupt):
                raise
            violations.append(f"{operation.label} as {role} ({mode.value}): {failure}")

    conforms()
    return sent


@pytest.mark.parametrize("service", SERVICES)
def test_no_fastapi_validation_error_schema_and_every_refusal_uses_the_one_model(
        apps: dict[str, FastAPI], service: str) -> None:
    document = apps[service].openapi()
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ErrorBody" in schemas
    refusals = [(path, method, code, response)
                for path, operations in document["paths"].items() for method, operation in operations.items()
                for code, response in operation["responses"].items()
                if code.startswith("4") or (code == "503" and path not in ("/health", "/ready"))]
    assert refusals
    wrong = [(path, method, code) for path, method, code, response in refusals
             if response["content"]["application/json"]["schema"] != {"$ref": "#/components/schemas/ErrorBody"}]
    assert wrong == []


def test_links_are_declared_and_lead_to_real_operations(apps: dict[str, FastAPI]) -> None:
    declared = {service: links_of(apps[service].openapi()) for service in SERVICES}
    names = {(service, name) for service, links in declared.items() for _, name, _ in links}
    assert {("registration", "registrations"), ("review", "review"), ("submission", "entry")} <= names
    for service, links in declared.items():
        operations = {operation["operationId"] for operations in apps[service].openapi()["paths"].values()
                      for operation in operations.values()}
        assert [target for _, _, target in links if target not in operations] == []


def test_reports_declare_csv_and_xlsx_and_metrics_declare_text(apps: dict[str, FastAPI]) -> None:
    stats = apps["stats"].openapi()["paths"]
    answered = stats["/seasons/{season_id}/statistics"]["get"]["responses"]["200"]["content"]
    assert {"text/csv", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"} <= set(answered)
    assert list(stats["/metrics"]["get"]["responses"]["200"]["content"]) == ["text/plain"]


def registration_client(apps: dict[str, FastAPI]) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=apps["registration"]), base_url="http://registration")


@pytest.mark.parametrize(("body", "status"), [(b'{"organizer": "\xff\xfe"}', 400), (b'{"organizer": ', 422)],
                         ids=["not UTF-8", "not JSON"])
async def test_an_unreadable_body_is_refused_in_the_services_format(
        apps: dict[str, FastAPI], body: bytes, status: int) -> None:
    async with registration_client(apps) as client:
        answer = await client.post("/seasons", content=body,
                                   headers=ROLES["organizer"] | {"content-type": "application/json"})
    assert (answer.status_code, answer.json()["errors"][0]["field"]) == (status, "body")


async def test_a_405_lists_every_method_the_path_takes(apps: dict[str, FastAPI]) -> None:
    async with registration_client(apps) as client:
        answer = await client.delete("/seasons/310000-2026-qc_group/registrations", headers=ROLES["organizer"])
    assert (answer.status_code, answer.headers["allow"], answer.json()["errors"][0]["field"]) == (
        405, "GET, HEAD, POST", "method")
