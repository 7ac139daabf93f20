"""Every operation of the four services' OpenAPI documents, with every role, on its own objects and on another's.

The policy of each app (`app.state.policy`: the service's, the shared digest and operations routes', the
operational routes') must name every operation: a new route without one fails here, by name. Then, for each
operation and each role but SYSTEM, on the world of `authorization_world` (Shanghai's objects are the callers'
own, Shandong's another's):
- without a token: 401 (an operation declared PUBLIC answers as for its own objects);
- a role the policy does not name: 403;
- a role it names, on another's objects (their path), or on its own path with a filter naming another unit,
  recommending unit, judge or province: 404, the same as a missing object, wherever the policy checks what is
  named; else a list narrowed to the caller's scope answers 200 with an empty page, and a write with a body 422
  (the body is refused before any object is loaded, as it is for a missing one). A PLATFORM scope, and a role an
  operation opens to every province (`open_to`, with its reason), reaches another's objects as its own;
- a role it names, on its own objects: the status declared for the operation in `EXPECTED`.
Path and query parameters come from the world by name; a parameter the world cannot fill fails the test, naming
it, and so does an operation missing from `EXPECTED`. Every mismatch is collected and listed at the end.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio

from contracts.codes import Role
from infra.authorization import PUBLIC, Scope
from tests.authorization_matrix import matrix_lines
from tests.integration.authorization_expected import EXPECTED, Expect
from tests.integration.authorization_world import SERVICES, Side, World, authorization_world

ROLES = tuple(role for role in Role if role is not Role.SYSTEM)
# The path and query parameters that name whose an object is: the one set of values differing between the
# callers' own side and another's.
OWNERSHIP_PARAMS = frozenset({"season_id", "credit_code", "entry_id", "recommender_id", "recommender", "judge_id",
                              "aggregate_id", "province", "batch_id"})
# Which of them the policy checks before a route runs, per scope (infra.authorization.grant_for): another's
# value there is refused with 404 whatever the route does next.
CHECKED_ON_THE_PATH: Mapping[Scope, frozenset[str]] = {
    Scope.ORGANIZER: frozenset({"season_id"}),
    Scope.RECOMMENDER: frozenset({"season_id", "recommender_id", "recommender"}),
    Scope.JUDGE: frozenset({"season_id", "judge_id"}),
    Scope.UNIT: frozenset({"credit_code"}),
}


@dataclass(frozen=True)
class Operation:
    service: str
    method: str
    path: str
    path_params: tuple[str, ...]
    query_params: tuple[str, ...]
    required_query: tuple[str, ...]
    has_body: bool

    @property
    def key(self) -> tuple[str, str]:
        return (self.method, self.path)

    def __str__(self) -> str:
        return f"{self.service}: {self.method} {self.path}"


def operations_of(world: World, service: str) -> list[Operation]:
    """Every operation of the service's OpenAPI document."""
    found = []
    for path, methods in world.apps[service].openapi()["paths"].items():
        for method, operation in methods.items():
            parameters = operation.get("parameters", [])
            found.append(Operation(
                service, method.upper(), path,
                tuple(item["name"] for item in parameters if item["in"] == "path"),
                tuple(item["name"] for item in parameters if item["in"] == "query"),
                tuple(item["name"] for item in parameters if item["in"] == "query" and item.get("required")),
                "requestBody" in operation,
            ))
    return found


@dataclass
class Call:
    """One call's request and what came back, for the list of mismatches."""

    operation: Operation
    role: str
    ownership: str
    expected: int
    got: int = 0
    body: str = ""
    expect_empty_page: bool = False
    page_not_empty: bool = False

    def mismatch(self) -> str | None:
        if self.got != self.expected:
            return (f"{self.operation} | role {self.role} | {self.ownership}: expected {self.expected}, "
                    f"got {self.got}: {self.body[:300]}")
        if self.page_not_empty:
            return (f"{self.operation} | role {self.role} | {self.ownership}: expected an empty page, "
                    f"got: {self.body[:300]}")
        return None


class Unfillable(Exception):
    pass


def request_for(world: World, operation: Operation, side: Side, *, own: bool) -> tuple[str, dict[str, str]]:
    """The operation's URL and query with the values of one side of the world.

    The caller's own objects are asked for with the required query parameters (and the filters the operation
    asks for, `own_filters`); another's with every filter naming an owner as well (a filter may narrow the
    caller's scope, never widen it).
    """
    values = side.params(operation.service) | world.common
    expect = EXPECTED[operation.service].get(operation.key)
    fixed = dict(expect.query) if expect is not None else {}
    missing = [name for name in operation.path_params if name not in values] + [
        name for name in operation.required_query if name not in values and name not in fixed]
    if missing:
        raise Unfillable(f"{operation}: the authorization world has no value for parameter(s) {missing}; extend "
                         "tests/integration/authorization_world.py or the operation's query in EXPECTED")
    path = operation.path.format(**{name: values[name] for name in operation.path_params})
    filters = set(operation.required_query) | (
        set(expect.own_filters if expect is not None else ()) if own else set(operation.query_params) & OWNERSHIP_PARAMS)
    query = {name: values[name] for name in operation.query_params if name in filters and name in values}
    return path, query | fixed


def own_side(world: World, role: Role, scope: Scope) -> Side:
    """The national association acts as an organizer in its own (national) season; every other caller's own
    objects are Shanghai's."""
    return world.national if role is Role.NATIONAL and scope is Scope.ORGANIZER else world.own


def expected_for_another(operation: Operation, expect: Expect, role: Role, scope: Scope,
                         query: Mapping[str, str]) -> tuple[int, bool]:
    """What a named role gets on another's objects, and whether the answer must be an empty page."""
    own = expect.own_for(role)
    assert own is not None
    if scope is Scope.PLATFORM or role in expect.open_to:
        return own, False
    named = set(operation.path_params) | set(query)
    if named & CHECKED_ON_THE_PATH.get(scope, frozenset()):
        return 404, False
    if expect.listing:
        return 200, True
    if operation.has_body:
        return 422, False
    return 404, False


def expected_for_a_filter(operation: Operation, expect: Expect, scope: Scope,
                          filters: frozenset[str]) -> tuple[int, bool]:
    """What a named role gets on its own path with filters naming another: nothing of the caller's matches them.

    404 where the policy checks a filter for this scope; else a list answers 200 with an empty page (a PLATFORM
    scope reads another province's too: a page, whatever is in it) and one object 404.
    """
    if scope is not Scope.PLATFORM and filters & CHECKED_ON_THE_PATH.get(scope, frozenset()):
        return 404, False
    if expect.listing:
        return 200, scope is not Scope.PLATFORM
    return (422 if operation.has_body else 404), False


def optional_filters(operation: Operation) -> frozenset[str]:
    """The operation's optional query parameters that name an owner: they may narrow, never widen."""
    return frozenset(operation.query_params) & OWNERSHIP_PARAMS - frozenset(operation.required_query)


def names_an_owner(operation: Operation) -> bool:
    return bool((set(operation.path_params) | set(operation.query_params)) & OWNERSHIP_PARAMS)


def empty_page(answer: Any) -> bool:
    if isinstance(answer, list):
        return answer == []
    if isinstance(answer, dict):
        if "items" in answer:
            return answer["items"] == []
        if "total" in answer:
            return answer["total"] == 0
    return False


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def world(stack, tmp_path_factory) -> AsyncIterator[World]:
    async with authorization_world(stack, tmp_path_factory.mktemp("authorization")) as running:
        yield running


@pytest.mark.parametrize("service", SERVICES)
async def test_every_operation_has_a_policy_and_an_expectation(world: World, service: str) -> None:
    app = world.apps[service]
    policy = getattr(app.state, "policy", None)
    operations = operations_of(world, service)
    problems = []
    if policy is None:
        problems.append(f"{service}: the app has no authorization policy (ServiceDefinition(policy=...) is None)")
    problems += [f"{operation}: no entry in the authorization policy" for operation in operations
                 if policy is None or operation.key not in policy]
    problems += [f"{operation}: no expected status in EXPECTED of {__name__}" for operation in operations
                 if operation.key not in EXPECTED[service]]
    problems += [f"{service}: {method} {path} is in EXPECTED but not in the OpenAPI document"
                 for method, path in EXPECTED[service] if (method, path) not in {item.key for item in operations}]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("service", SERVICES)
async def test_every_role_reaches_exactly_its_scope(world: World, service: str) -> None:
    app = world.apps[service]
    policy = getattr(app.state, "policy", None)
    assert policy is not None, f"{service}: the app has no authorization policy; nothing to walk"
    client = world.clients[service]
    tokens = world.tokens()
    calls: list[Call] = []
    problems: list[str] = []
    for operation in operations_of(world, service):
        rules = policy.get(operation.key)
        expect = EXPECTED[service].get(operation.key)
        if rules is None or expect is None:
            problems.append(f"{operation}: no policy entry or no expected status (see the other test)")
            continue
        try:
            own_path, own_query = request_for(world, operation, world.own, own=True)
            national_path, national_query = request_for(world, operation, world.national, own=True)
            other_path, other_query = request_for(world, operation, world.other, own=False)
        except Unfillable as error:
            problems.append(str(error))
            continue

        async def call(headers: dict[str, str], path: str, query: dict[str, str], record: Call) -> Call:
            kwargs: dict[str, Any] = {"params": query, "headers": headers}
            if operation.has_body:
                kwargs["json"] = {}
            answer = await client.request(operation.method, path, **kwargs)
            record.got, record.body = answer.status_code, answer.text
            if record.expect_empty_page and answer.status_code == 200:
                content = answer.json() if "json" in answer.headers.get("content-type", "") else None
                record.page_not_empty = not empty_page(content)
            return record

        if rules is PUBLIC:
            if expect.own is not None:
                calls.append(await call({}, own_path, own_query, Call(operation, "(no token)", "public", expect.own)))
            continue
        calls.append(await call({}, own_path, own_query, Call(operation, "(no token)", "own", 401)))
        for role in ROLES:
            headers = tokens[role.value]
            scope = rules.get(role)
            if scope is None:
                calls.append(await call(headers, own_path, own_query, Call(operation, role.value, "own", 403)))
                continue
            if expect.own is None:
                continue  # not called: see the reason in EXPECTED
            own = expect.own_for(role)
            assert own is not None
            national = own_side(world, role, scope) is world.national
            calls.append(await call(headers, national_path if national else own_path,
                                    national_query if national else own_query,
                                    Call(operation, f"{role.value} ({scope.value})",
                                         "own (national season)" if national else "own", own)))
            if names_an_owner(operation):
                status, empty = expected_for_another(operation, expect, role, scope, other_query)
                calls.append(await call(headers, other_path, other_query,
                                        Call(operation, f"{role.value} ({scope.value})", "another's", status,
                                             expect_empty_page=empty)))
            if filters := optional_filters(operation):
                # the caller's own path, with every filter naming another unit, recommending unit, judge, province
                query = own_query | {name: value for name, value in world.stranger.params(service).items()
                                     if name in filters}
                status, empty = expected_for_a_filter(operation, expect, scope, filters)
                calls.append(await call(headers, own_path, query,
                                        Call(operation, f"{role.value} ({scope.value})", f"own, filtered {query}",
                                             status, expect_empty_page=empty)))
    problems += [mismatch for item in calls if (mismatch := item.mismatch()) is not None]
    assert not problems, f"{len(problems)} of {len(calls)} calls differ:\n" + "\n".join(problems)


@pytest.mark.parametrize("service", SERVICES)
async def test_the_matrix_in_short_form(world: World, service: str) -> None:
    """The role x operation matrix of the app as it runs (printed with -s; the closing note quotes it)."""
    app = world.apps[service]
    policy = getattr(app.state, "policy", None)
    assert policy is not None, f"{service}: the app has no authorization policy"
    lines = matrix_lines(policy, [item.key for item in operations_of(world, service)])
    print(f"\n## {service}\n" + "\n".join(lines))
    assert "NO POLICY" not in "\n".join(lines)
