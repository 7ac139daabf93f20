"""The role x operation matrix in short form, generated from the services' authorization policies.

`uv run python -m tests.authorization_matrix` prints, per service, each operation with the roles it names
grouped by their scope (`-` for an operation that needs no token). The same policies drive the authorization test.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping

from infra.authorization import PUBLIC, Operation, Policy, Rules

SERVICES = ("registration", "submission", "review", "stats")


# Short names for the matrix: roles, and scopes by their initial.
ROLE_NAMES = {"organizer": "org", "unit": "unit", "recommender": "rec", "judge": "judge", "national": "nat",
              "feed": "feed", "auditor": "aud", "ops": "ops"}
LEGEND = ("scopes: P platform-wide, O own organizer's seasons (a feed: its province), U own unit, "
          "R own recommending unit in its organizer's season, J assigned judge; - no token needed")


def short(rules: Rules) -> str:
    """`nat,aud:P org,feed:O unit:U`: the roles named, grouped by scope; `-` for a public operation."""
    if rules is PUBLIC:
        return "-"
    grouped: dict[str, list[str]] = {}
    for role, scope in rules.items():
        grouped.setdefault(scope.value[0].upper(), []).append(ROLE_NAMES.get(role.value, role.value))
    order = "POURJ"
    return " ".join(f"{','.join(roles)}:{scope}" for scope, roles in
                    sorted(grouped.items(), key=lambda item: order.index(item[0]))) or "(nobody)"


def matrix_lines(policy: Policy, operations: Iterable[Operation] | None = None) -> list[str]:
    """One line per operation: `METHOD /path -> role:scope ...`; operations without an entry say so."""
    chosen = sorted(operations if operations is not None else policy)
    width = max((len(f"{method} {path}") for method, path in chosen), default=0)
    return [f"{f'{method} {path}':<{width}} -> {short(policy[(method, path)]) if (method, path) in policy else 'NO POLICY'}"
            for method, path in chosen]


def service_policy(service: str) -> Policy | None:
    """The service's own policy (`services/<service>/entrypoints/policy.py`), None while it has none."""
    try:
        module = importlib.import_module(f"services.{service}.entrypoints.policy")
    except ModuleNotFoundError:
        return None
    return getattr(module, "POLICY", None)


def shared_policies() -> Mapping[str, Policy]:
    from infra.http.audit import DIGEST_POLICY
    from infra.http.operations import OPERATIONS_POLICY

    return {"shared: audit digests": DIGEST_POLICY, "shared: operations": OPERATIONS_POLICY}


def main() -> None:
    print(LEGEND)
    print()
    for service in SERVICES:
        policy = service_policy(service)
        print(f"## {service}")
        print("\n".join(matrix_lines(policy)) if policy is not None else "(no policy yet)")
        print()
    for name, policy in shared_policies().items():
        print(f"## {name} (every service with an event store)")
        print("\n".join(matrix_lines(policy)))
        print()


if __name__ == "__main__":
    main()
