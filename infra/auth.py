"""Bearer tokens: signed JWTs carrying the actor's role and organization scope."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated

import jwt
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from contracts import Actor
from contracts.codes import Role
from infra.authorization import Caller

# The roles whose `org` is their organizer: a province's (or the national association's) staff, a province's feed.
OWN_ORGANIZER = frozenset({Role.ORGANIZER, Role.NATIONAL, Role.FEED})

ALGORITHM = "HS256"
DEFAULT_TTL_SECONDS = 8 * 3600


class InvalidToken(Exception):
    """The token is missing, malformed, expired or not signed by us."""


@dataclass(frozen=True)
class TokenService:
    """Mints and verifies the platform's bearer tokens with one shared signing secret."""

    secret: str
    issuer: str

    def mint(self, subject: str, role: Role | str, org: str, ttl_seconds: int = DEFAULT_TTL_SECONDS, *,
             organizer: str | None = None, season: str | None = None) -> str:
        now = int(time.time())
        claims = {
            "sub": subject,
            "role": Role(role).value,
            "org": org,
            "iss": self.issuer,
            "iat": now,
            "exp": now + ttl_seconds,
        }
        if organizer is not None:
            claims["organizer"] = organizer
        if season is not None:
            claims["season"] = season
        return jwt.encode(claims, self.secret, algorithm=ALGORITHM)

    def verify(self, token: str) -> Caller:
        try:
            claims = jwt.decode(
                token,
                self.secret,
                algorithms=[ALGORITHM],
                issuer=self.issuer,
                options={"require": ["sub", "role", "org", "exp", "iss"]},
            )
            actor = Actor(id=claims["sub"], role=claims["role"], org=claims["org"])
            organizer = claims.get("organizer") or (claims["org"] if actor.role in OWN_ORGANIZER else None)
            return Caller(actor, organizer=organizer, season_id=claims.get("season"))
        except (jwt.PyJWTError, ValueError) as error:
            raise InvalidToken(str(error)) from error


_bearer = HTTPBearer(auto_error=False, description="A platform JWT: `qcp token mint --help`")


def authenticated_actor(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    """FastAPI dependency: the verified actor behind the request, or 401."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="a bearer token is required (Authorization: Bearer <token>)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    tokens: TokenService = request.app.state.tokens
    try:
        return tokens.verify(credentials.credentials).actor
    except InvalidToken as error:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail=f"the bearer token is not valid: {error}",
            headers={"WWW-Authenticate": "Bearer"},
        ) from error


AuthenticatedActor = Annotated[Actor, Depends(authenticated_actor)]


def require_role(actor: Actor, *roles: Role) -> None:
    """Refuse with 403 when the actor's role may not run this command."""
    if actor.role not in roles:
        allowed = ", ".join(f"{role.value} ({role.label})" for role in roles)
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"role {actor.role.value} may not do this; allowed: {allowed}",
        )


def require_org(actor: Actor, org: str, what: str) -> None:
    """Refuse with 403 when the actor acts outside its organization's scope."""
    if actor.org != org:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"{what} belongs to {org}; the token is scoped to {actor.org}",
        )
