"""The authorization policy's vocabulary: who the caller is, which objects a role may reach, and the grant a route gets.

Each service declares its policy once, as data (`services/<service>/entrypoints/policy.py`): for every operation
(method and path), the roles allowed and, for each, the scope of objects it reaches. One dependency applies it on
every route (`infra.http.security`); a route narrows its reads with the grant it receives and checks the one
object it loads with `Grant.admits`. A role the operation does not name is refused (403); an object outside the
caller's scope answers 404, the same as a missing one, so ids cannot be probed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from contracts import Actor
from contracts.codes import Role
from infra import errors


class Scope(StrEnum):
    """Which objects a role reaches through an operation."""

    PUBLIC = "public"            # no token needed (health, readiness)
    PLATFORM = "platform"        # every province's (the national association, auditors, ops)
    ORGANIZER = "organizer"      # its own organizer's seasons (a province's staff; a feed: its province)
    UNIT = "unit"                # its own unit's registrations and entries
    RECOMMENDER = "recommender"  # its own recommending unit, in its own organizer's season
    JUDGE = "judge"              # what it is assigned to, and its own roster record


# The object fields each scope is checked against; a service maps them to its documents' names where they differ.
SCOPE_FIELDS: Mapping[Scope, tuple[str, ...]] = {
    Scope.ORGANIZER: ("organizer",),
    Scope.UNIT: ("credit_code",),
    Scope.RECOMMENDER: ("organizer", "recommender_id"),
    Scope.JUDGE: ("organizer", "judge_ids"),
}

Rules = Mapping[Role, Scope]
Operation = tuple[str, str]  # (HTTP method, route path), e.g. ("GET", "/seasons/{season_id}/entries")
Policy = Mapping[Operation, Rules]

PUBLIC: Rules = {}  # an operation that needs no token is declared with this very object
READ_EVERYWHERE: Rules = {Role.NATIONAL: Scope.PLATFORM, Role.AUDITOR: Scope.PLATFORM}

# The scope a role reaches as the owner of its own objects: a province's staff and its feed their organizer's.
OWN_SCOPE: Mapping[Role, Scope] = {
    Role.ORGANIZER: Scope.ORGANIZER, Role.FEED: Scope.ORGANIZER, Role.UNIT: Scope.UNIT,
    Role.RECOMMENDER: Scope.RECOMMENDER, Role.JUDGE: Scope.JUDGE,
}
# A season's own staff: a province's association on its seasons, the national association on its national seasons
# (CAQ-...): the ORGANIZER scope admits only seasons whose id begins with the caller's org.
SEASON_STAFF: Rules = {Role.ORGANIZER: Scope.ORGANIZER, Role.NATIONAL: Scope.ORGANIZER}


def owners(*roles: Role) -> Rules:
    """Rules naming these roles, each in its own scope (OWN_SCOPE)."""
    return {role: OWN_SCOPE[role] for role in roles}


def readers(*roles: Role) -> Rules:
    """A read's rules: the platform-wide readers, the organizer's staff, and these roles, each in its own scope."""
    return {**READ_EVERYWHERE, **owners(Role.ORGANIZER, *roles)}


# Provincial feeds, as every service that takes them includes infra.feeds' routes: a province's feed posts its own
# province's batches; its quarantine and batch reports are read by that feed, its organizer's staff and the
# platform-wide readers.
FEED_POLICY: Mapping[Operation, Rules] = {
    ("POST", "/feeds/batches"): owners(Role.FEED),
    ("GET", "/feeds/quarantine"): readers(Role.FEED),
    ("GET", "/feeds/batches/{batch_id}"): readers(Role.FEED),
}


def organizer_of(season_id: str) -> str:
    """Season ids begin with their organizer's code (310000-2024-qc_group, CAQ-2024-qc_group)."""
    return season_id.split("-", 1)[0]


@dataclass(frozen=True)
class Caller:
    """The verified bearer of a token: the actor it acts as, and where it belongs.

    `organizer` is the provincial association (or the national association) the caller belongs to: the staff's
    and the feed's own `org`; a recommending unit's and a judge's from their token, since their ids are chosen
    per organizer. `season_id` binds a recommending unit to the season it recommends in.
    """

    actor: Actor
    organizer: str | None = None
    season_id: str | None = None

    @property
    def role(self) -> Role:
        return self.actor.role

    @property
    def org(self) -> str:
        return self.actor.org

    @property
    def id(self) -> str:
        return self.actor.id

    def owns(self, document: Mapping[str, Any]) -> bool:
        """Whether the document is the caller's own: its unit's, its recommending unit's or its judge record."""
        if self.role is Role.UNIT:
            return document.get("credit_code") == self.org
        if self.role is Role.RECOMMENDER:
            return document.get("recommender_id") == self.org and _same_organizer(self, document)
        if self.role is Role.JUDGE:
            return document.get("judge_id") == self.org and _same_organizer(self, document)
        return False

    def staff_of(self, document: Mapping[str, Any]) -> bool:
        """Whether the caller is the staff of the organizer the document belongs to."""
        organizer = _organizer_of_document(document)
        return self.role in (Role.ORGANIZER, Role.NATIONAL) and organizer is not None and organizer == self.org


class NotPermitted(errors.NotPermitted):
    """The caller may not do this at all: its role may not run the operation, or the body names another
    organization than the caller's own. It says nothing about any stored object."""

    def __init__(self, message: str, rule: str = "authorization.scope") -> None:
        super().__init__("authorization", rule, message)

    @classmethod
    def for_role(cls, role: Role, operation: Operation, allowed: Rules) -> NotPermitted:
        names = ", ".join(f"{item.value} ({item.label})" for item in allowed) or "nobody"
        return cls(f"role {role.value} may not {operation[0]} {operation[1]}; allowed: {names}", "authorization.role")


class OutOfScope(errors.NotFound):
    """The object is not one the caller may know of: answered as a missing one."""


@dataclass(frozen=True)
class Grant:
    """What one caller may reach through one operation: its scope, applied to queries and to loaded objects."""

    caller: Caller | None
    scope: Scope
    fields: Mapping[str, str] = field(default_factory=dict)  # scope field -> the document's field, where renamed

    @property
    def actor(self) -> Actor:
        if self.caller is None:
            raise RuntimeError("a public operation has no actor")
        return self.caller.actor

    def _field(self, name: str) -> str:
        return self.fields.get(name, name)

    def constraints(self) -> dict[str, str]:
        """The scope as field values the objects must have (empty: every object)."""
        caller = self.caller
        if caller is None or self.scope in (Scope.PUBLIC, Scope.PLATFORM):
            return {}
        if self.scope is Scope.ORGANIZER:
            return {"organizer": caller.organizer or caller.org}
        if self.scope is Scope.UNIT:
            return {"credit_code": caller.org}
        if self.scope is Scope.RECOMMENDER:
            return {"organizer": caller.organizer or "", "recommender_id": caller.org}
        return {"organizer": caller.organizer or "", "judge_ids": caller.org}

    def query(self, filters: Mapping[str, Any] | None = None, *, fields: tuple[str, ...] | None = None) -> dict[str, Any] | None:
        """A read model query: the caller's filters narrowed to its scope, or None when they ask outside it.

        Query parameters can narrow a caller's scope, never widen it: a filter on a scoped field with another
        value than the scope's selects nothing. `fields` limits the constraints to those the collection has.
        """
        query = {key: value for key, value in (filters or {}).items() if value is not None}
        for name, value in self.constraints().items():
            if fields is not None and name not in fields:
                continue
            key = self._field(name)
            if key in query and query[key] != value:
                return None
            query[key] = value
        return query

    def admits(self, document: Mapping[str, Any], *, fields: tuple[str, ...] | None = None) -> bool:
        """Whether a loaded object lies in the caller's scope (the fields the document lacks are not checked
        when `fields` leaves them out)."""
        for name, value in self.constraints().items():
            if fields is not None and name not in fields:
                continue
            actual = document.get(self._field(name))
            if isinstance(actual, (list, tuple, set, frozenset)):
                if value not in actual:
                    return False
            elif name == "organizer" and actual is None:
                actual = _organizer_of_document(document)
                if actual != value:
                    return False
            elif actual != value:
                return False
        return True

    def oversees(self, document: Mapping[str, Any]) -> bool:
        """Whether the caller oversees the process the document belongs to: the staff of its organizer, or a
        platform-wide reader (the national association, auditors). They see a process's full view (assignments,
        scores, results not yet public); what is personal in it stays under the masking policy."""
        return self.scope is Scope.PLATFORM or (self.caller is not None and self.caller.staff_of(document))

    def claims(self, what: str, **values: str | None) -> None:
        """A command's body names the organization it acts for: refuse (403) when that lies outside the scope."""
        # the body's values are named as the scope names them, whatever the route's documents call them
        plain = Grant(self.caller, self.scope)
        if not plain.admits({key: value for key, value in values.items() if value is not None},
                            fields=tuple(name for name, value in values.items() if value is not None)):
            held = ", ".join(f"{key} {value}" for key, value in self.constraints().items())
            raise NotPermitted(f"{what} lies outside the token's scope ({held})")

    def require(self, document: Mapping[str, Any] | None, what: str, *,
                fields: tuple[str, ...] | None = None) -> Mapping[str, Any]:
        """The document when it exists and is in scope; otherwise OutOfScope (404), whichever it was."""
        if document is None or not self.admits(document, fields=fields):
            raise OutOfScope(what)
        return document


def grant_for(policy: Policy, operation: Operation, caller: Caller | None,
              path_params: Mapping[str, str], query_params: Mapping[str, str]) -> Grant:
    """Apply the policy to one call: the grant, or NotPermitted (403) / OutOfScope (404).

    What the path names is checked here already, so a route never loads an object of another province's:
    a season's organizer, a unit's credit code, a recommending unit's or a judge's id.
    """
    rules = policy.get(operation)
    if rules is None:
        raise NotPermitted.for_role(caller.role if caller else Role.SYSTEM, operation, {})
    if rules is PUBLIC:
        return Grant(caller, Scope.PUBLIC)
    if caller is None:
        raise MissingCredentials()
    scope = rules.get(caller.role)
    if scope is None:
        raise NotPermitted.for_role(caller.role, operation, rules)
    grant = Grant(caller, scope)
    _check_path(grant, {**query_params, **path_params})
    return grant


class MissingCredentials(Exception):
    """The operation needs a bearer token and none was given (401)."""


def _check_path(grant: Grant, params: Mapping[str, str]) -> None:
    caller = grant.caller
    assert caller is not None
    scope = grant.scope
    if scope is Scope.PLATFORM:
        return
    season_id = params.get("season_id")
    if season_id is not None:
        if scope in (Scope.ORGANIZER, Scope.RECOMMENDER, Scope.JUDGE):
            if organizer_of(season_id) != (caller.organizer or caller.org):
                raise OutOfScope(f"season {season_id}")
        if scope is Scope.RECOMMENDER and caller.season_id is not None and caller.season_id != season_id:
            raise OutOfScope(f"season {season_id}")
    checks = {Scope.UNIT: ("credit_code", "unit"), Scope.RECOMMENDER: ("recommender_id", "recommending unit"),
              Scope.JUDGE: ("judge_id", "judge")}
    if scope in checks:
        name, label = checks[scope]
        value = params.get(name)
        # a credit code is looked up as written in capitals without spaces, so it is compared so
        given = value.strip().upper() if value is not None and name == "credit_code" else value
        if value is not None and given != caller.org:
            raise OutOfScope(f"{label} {value}")
    if scope is Scope.RECOMMENDER and (value := params.get("recommender")) is not None and value != caller.org:
        raise OutOfScope(f"recommending unit {value}")


def _same_organizer(caller: Caller, document: Mapping[str, Any]) -> bool:
    # ids of recommending units and judges are chosen per organizer: without both organizers known, the
    # document may be another province's namesake's, so it is not the caller's own
    organizer = _organizer_of_document(document)
    return organizer is not None and caller.organizer is not None and organizer == caller.organizer


def _organizer_of_document(document: Mapping[str, Any]) -> str | None:
    if document.get("organizer"):
        return str(document["organizer"])
    if document.get("season_id"):
        return organizer_of(str(document["season_id"]))
    return None
