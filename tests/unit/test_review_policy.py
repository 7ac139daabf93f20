"""Review's authorization policy and masking, without the stack: every route has its rules, the national association
acts only as the staff of its own national seasons, and each part of a review is masked by its owner."""

from __future__ import annotations

import pytest

from contracts import Actor
from contracts.codes import Role
from infra.authorization import Caller, NotPermitted, OutOfScope, Scope, grant_for
from infra.http import OPERATIONAL_POLICY, create_app
from infra.metrics import ServiceMetrics
from infra.readiness import Readiness
from services.review.entrypoints.http import build_router
from services.review.entrypoints.masking import review_for
from services.review.entrypoints.policy import POLICY
from tests.harness import TOKENS

QC = "310000-2026-qc_group"
NATIONAL_QC = "CAQ-2026-qc_group"
FORMAL_REVIEW = ("POST", "/seasons/{season_id}/entries/{entry_id}/formal-review")
ENTRY_REVIEW = ("GET", "/seasons/{season_id}/entries/{entry_id}")


def caller(role: Role, org: str, organizer: str | None = None) -> Caller:
    own = organizer or (org if role in (Role.ORGANIZER, Role.NATIONAL, Role.FEED) else None)
    return Caller(Actor(id="someone", role=role, org=org), organizer=own)


def test_every_route_of_review_has_its_rules_and_every_rule_a_route() -> None:
    app = create_app(service="review", routers=[build_router()], tokens=TOKENS, metrics=ServiceMetrics("review"),
                     readiness=Readiness({}), policy=POLICY)
    # walked through the OpenAPI document: it lists the routes of included routers too
    answered = {(method.upper(), path) for path, operations in app.openapi()["paths"].items() for method in operations}
    assert answered - set(OPERATIONAL_POLICY) == set(POLICY)


def test_the_national_association_acts_as_the_staff_of_its_own_national_seasons_only() -> None:
    national = caller(Role.NATIONAL, "CAQ")
    grant = grant_for(POLICY, FORMAL_REVIEW, national, {"season_id": NATIONAL_QC, "entry_id": "e1"}, {})
    assert grant.scope is Scope.ORGANIZER
    with pytest.raises(OutOfScope):
        grant_for(POLICY, FORMAL_REVIEW, national, {"season_id": QC, "entry_id": "e1"}, {})
    assert grant_for(POLICY, ENTRY_REVIEW, national, {"season_id": QC, "entry_id": "e1"}, {}).scope is Scope.PLATFORM


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.UNIT, Role.JUDGE, Role.FEED])
def test_only_the_secretariat_decides_formal_review(role: Role) -> None:
    with pytest.raises(NotPermitted):
        grant_for(POLICY, FORMAL_REVIEW, caller(role, "x", "310000"), {"season_id": QC, "entry_id": "e1"}, {})


def test_writes_are_the_secretariats_recommending_units_and_judges_only() -> None:
    readers_only = {Role.AUDITOR, Role.FEED, Role.OPS}
    for (method, path), rules in POLICY.items():
        if method == "POST" and path != "/feeds/batches":
            assert not readers_only & set(rules), path
            assert rules.get(Role.NATIONAL) in (None, Scope.ORGANIZER), path


REVIEW = {
    "season_id": QC, "organizer": "310000", "entry_id": "e1", "credit_code": "UNIT-A", "recommender_id": "pudong",
    "recommendation": {"judges": [{"name": "蒋华", "mobile": "13800000007", "email": "jianghua@example.org"}],
                       "phone": "021-58881234"},
    "objections": {"o1": {"objector": "某公司", "contact": "13911112222",
                          "filed": {"actor": {"id": "u", "role": "unit", "org": "UNIT-B"}}}},
}


def test_the_organizers_staff_see_every_contact() -> None:
    assert review_for(caller(Role.ORGANIZER, "310000"), REVIEW) == REVIEW


@pytest.mark.parametrize(("who", "recommendation", "objection"), [
    (caller(Role.RECOMMENDER, "pudong", "310000"), "13800000007", "139****2222"),
    (caller(Role.UNIT, "UNIT-B"), "138****0007", "13911112222"),
    (caller(Role.UNIT, "UNIT-A"), "138****0007", "139****2222"),
    (caller(Role.RECOMMENDER, "pudong", "370000"), "138****0007", "139****2222"),
    (caller(Role.NATIONAL, "CAQ"), "138****0007", "139****2222"),
    (caller(Role.AUDITOR, "audit"), "138****0007", "139****2222"),
    (caller(Role.ORGANIZER, "370000"), "138****0007", "139****2222"),
], ids=["its recommending unit", "the objector", "the entry's unit", "another province's pudong", "national",
        "auditor", "another province's staff"])
def test_each_part_is_seen_unmasked_by_its_owner_only(who: Caller, recommendation: str, objection: str) -> None:
    shown = review_for(who, REVIEW)
    assert shown["recommendation"]["judges"][0]["mobile"] == recommendation
    assert shown["objections"]["o1"]["contact"] == objection
    assert shown["masked"] is True
