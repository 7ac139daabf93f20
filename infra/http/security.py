"""The edge's security dependencies: the bearer token verified, and the service's authorization policy applied.

`authorize` runs on every route of an app built with a policy (it is one of the app's dependencies): it verifies
the token, finds the route's rules and checks what the path names. A route that needs the grant takes
`grant: Authorized`; FastAPI solves the dependency once per request, so the check is never made twice. The token
is verified once per request too (`verify_once`): the rate limit, which runs before the route, keeps what it
verified on the request's state and `authorize` reads it there.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from infra.auth import InvalidToken, TokenService
from infra.authorization import (
    Caller,
    Grant,
    MissingCredentials,
    Policy,
    grant_for,
)

_bearer = HTTPBearer(auto_error=False, description="A platform JWT: `qcp token mint --help`")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _unauthenticated(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"})


VERIFIED_TOKEN = "verified_token"  # the request state's key: (token, its Caller or the InvalidToken it raised)


def verify_once(state: MutableMapping[str, Any], tokens: TokenService, token: str) -> Caller:
    """The token's caller, verified at most once per request: the outcome (caller or refusal) is kept on the request
    state (the ASGI scope's "state"), so the rate limit and the route's authorization share one verification."""
    known = state.get(VERIFIED_TOKEN)
    if known is None or known[0] != token:
        try:
            known = (token, tokens.verify(token))
        except InvalidToken as error:
            known = (token, error)
        state[VERIFIED_TOKEN] = known
    outcome = known[1]
    if isinstance(outcome, InvalidToken):
        raise outcome
    return outcome


def caller_of(request: Request, credentials: HTTPAuthorizationCredentials | None) -> Caller | None:
    """The verified caller, None without a token, 401 for a token that is not valid."""
    if credentials is None:
        return None
    if credentials.scheme.lower() != "bearer":
        raise _unauthenticated("a bearer token is required (Authorization: Bearer <token>)")
    tokens: TokenService = request.app.state.tokens
    try:
        return verify_once(request.scope.setdefault("state", {}), tokens, credentials.credentials)
    except InvalidToken as error:
        raise _unauthenticated(f"the bearer token is not valid: {error}") from error


async def authorize(request: Request, credentials: Credentials) -> Grant:
    """The service's policy applied to this call: the grant, or 401, 403 (role) or 404 (object out of scope)."""
    route = request.scope.get("route")
    method = "GET" if request.method == "HEAD" else request.method
    policy: Policy = request.app.state.policy
    caller = caller_of(request, credentials)
    try:
        return grant_for(policy, (method, getattr(route, "path", request.url.path)), caller,
                         request.path_params, request.query_params)
    except MissingCredentials as error:
        raise _unauthenticated("a bearer token is required (Authorization: Bearer <token>)") from error


Authorized = Annotated[Grant, Depends(authorize)]

