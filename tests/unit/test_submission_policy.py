"""Submission's authorization policy as data: every route has one, no entry is stale, and no judge reads here."""

from __future__ import annotations

from contracts.codes import Role
from infra.http import OPERATIONAL_POLICY, create_app
from infra.metrics import ServiceMetrics
from infra.readiness import Readiness
from services.submission.entrypoints.http import build_router
from services.submission.entrypoints.policy import POLICY
from tests.harness import TOKENS


def submission_app():  # noqa: ANN201
    return create_app(service="submission", routers=[build_router()], tokens=TOKENS,
                      metrics=ServiceMetrics("submission-policy"), readiness=Readiness({}), policy=POLICY)


def test_every_operation_of_the_openapi_document_has_rules_and_every_rule_an_operation() -> None:
    # walked through the OpenAPI document: it lists the operations of included routers too
    paths = submission_app().openapi()["paths"]
    operations = {(method.upper(), path) for path, items in paths.items() for method in items}
    assert operations - set(OPERATIONAL_POLICY) == set(POLICY)


def test_a_judge_is_named_on_no_operation_since_submission_does_not_know_its_assignments() -> None:
    assert [operation for operation, rules in POLICY.items() if Role.JUDGE in rules] == []


def test_only_units_organizers_and_recommending_units_write_and_only_a_feed_posts_batches() -> None:
    writers = {operation: set(rules) for operation, rules in POLICY.items() if operation[0] == "POST"}
    assert writers.pop(("POST", "/feeds/batches")) == {Role.FEED}
    assert set().union(*writers.values()) == {Role.UNIT, Role.ORGANIZER, Role.RECOMMENDER}
