"""The four services' policies keep least privilege: each role reaches only its own kind of objects.

The authorization matrix test checks that the routes do what the policies say; this checks that what they say
follows the role meanings of the platform: a province's staff and its feed reach their own organizer's seasons, a
unit its own, a recommending unit its own, a judge what it is assigned; the national association and the
auditor read everything, the auditor never writes and the national association writes only as an organizer (of
its national seasons); the ops role alone runs platform-wide operations, and a feed writes only its batches.
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from contracts.codes import Role
from infra.http.audit import DIGEST_POLICY
from infra.authorization import PUBLIC, Operation, Policy, Scope
from infra.http.operations import OPERATIONS_POLICY
from tests.authorization_matrix import SERVICES, service_policy

# Each role's own kind of scope, and the other it may hold.
OWN_KIND: Mapping[Role, frozenset[Scope]] = {
    Role.ORGANIZER: frozenset({Scope.ORGANIZER}),
    Role.FEED: frozenset({Scope.ORGANIZER}),
    Role.UNIT: frozenset({Scope.UNIT}),
    Role.RECOMMENDER: frozenset({Scope.RECOMMENDER}),
    Role.JUDGE: frozenset({Scope.JUDGE}),
    Role.NATIONAL: frozenset({Scope.PLATFORM, Scope.ORGANIZER}),
    Role.AUDITOR: frozenset({Scope.PLATFORM}),
    Role.OPS: frozenset({Scope.PLATFORM}),
}
# Reference data that belongs to nobody: every signed-in role reads it platform-wide.
EVERYONES: frozenset[Operation] = frozenset({
    ("GET", "/profiles"),                                   # the built-in form profiles (from the notices)
    ("GET", "/profiles/{profile_id}/versions/{version}"),
})
# Reference data that needs no token at all (the platform's enumerations with their Chinese labels).
PUBLIC_REFERENCE: frozenset[Operation] = frozenset({("GET", "/codes")})
PLATFORM_OPERATIONS = ("/operations/", "/rebuilds")


def policies() -> dict[str, Policy | None]:
    return {service: service_policy(service) for service in SERVICES} | {
        "shared digests": DIGEST_POLICY, "shared operations": OPERATIONS_POLICY}


def problems_of(policy: Policy) -> list[str]:
    problems = []
    for (method, path), rules in sorted(policy.items()):
        name = f"{method} {path}"
        if rules is PUBLIC:
            if (method, path) not in PUBLIC_REFERENCE:
                problems.append(f"{name}: public, but only the operational routes and reference data need no token")
            continue
        platform_wide = path.startswith(PLATFORM_OPERATIONS)
        if platform_wide and set(rules) != {Role.OPS}:
            problems.append(f"{name}: a platform-wide operation for the ops role alone, not "
                            f"{', '.join(sorted(role.value for role in rules))}")
        if Role.OPS in rules and not platform_wide:
            problems.append(f"{name}: the ops role runs platform-wide operations only")
        for role, scope in rules.items():
            if scope not in OWN_KIND[role] and not ((method, path) in EVERYONES and scope is Scope.PLATFORM):
                problems.append(f"{name}: {role.value} may reach {scope.value}, beyond its own kind "
                                f"({', '.join(sorted(item.value for item in OWN_KIND[role]))})")
        if method != "GET":
            if Role.AUDITOR in rules:
                problems.append(f"{name}: the auditor is read-only")
            if rules.get(Role.NATIONAL, Scope.ORGANIZER) is not Scope.ORGANIZER:
                problems.append(f"{name}: the national association writes only as an organizer (its own seasons)")
            if Role.FEED in rules and (method, path) != ("POST", "/feeds/batches"):
                problems.append(f"{name}: a feed writes only its batches")
    return problems


@pytest.mark.parametrize("name", [*SERVICES, "shared digests", "shared operations"])
def test_each_policy_keeps_every_role_to_its_own(name: str) -> None:
    policy = policies()[name]
    assert policy is not None, f"{name} has no authorization policy (services/{name}/entrypoints/policy.py: POLICY)"
    problems = problems_of(policy)
    assert not problems, f"{name}:\n" + "\n".join(problems)


def test_a_widened_policy_is_caught() -> None:
    widened = {("GET", "/seasons/{season_id}/entries"): {Role.UNIT: Scope.PLATFORM},
               ("POST", "/seasons/{season_id}/notice"): {Role.AUDITOR: Scope.PLATFORM, Role.NATIONAL: Scope.PLATFORM},
               ("POST", "/rebuilds"): {Role.OPS: Scope.PLATFORM, Role.ORGANIZER: Scope.ORGANIZER},
               ("POST", "/seasons/{season_id}/qc-achievements"): {Role.FEED: Scope.ORGANIZER},
               ("GET", "/seasons/{season_id}/overview"): PUBLIC}
    assert problems_of(widened) == [
        "GET /seasons/{season_id}/entries: unit may reach platform, beyond its own kind (unit)",
        "GET /seasons/{season_id}/overview: public, but only the operational routes and reference data need no token",
        "POST /rebuilds: a platform-wide operation for the ops role alone, not ops, organizer",
        "POST /seasons/{season_id}/notice: the auditor is read-only",
        "POST /seasons/{season_id}/notice: the national association writes only as an organizer (its own seasons)",
        "POST /seasons/{season_id}/qc-achievements: a feed writes only its batches",
    ]
