"""The role x operation matrix in short form, generated from the services' authorization policies.

`uv run python -m tests.authorization_matrix` prints, per service, each operation with the roles it names and
their scopes (`-` for an operation that needs no token). The same policies drive the authorization test.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping

from infra.authorization import PUBLIC, Operation, Policy, Rules

SERVICES = ("registration", "submission", "review", "stats")


def short(rules: Rules) -> str:
    """`organizer:organizer unit:unit national:platform`, or `-` for a public operation."""
    if rules is PUBLIC:
        return "- (public)"
    return " ".join(f"{role.value}:{scope.value}" for role, scope in rules.items()) or "(nobody)"


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
    from infra.audit_http import DIGEST_POLICY
    from infra.operations_http import OPERATIONS_POLICY

    return {"shared: audit digests": DIGEST_POLICY, "shared: operations": OPERATIONS_POLICY}


def main() -> None:
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
