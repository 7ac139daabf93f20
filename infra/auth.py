"""Bearer tokens: signed JWTs carrying the actor's role and organization scope."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from contracts import Actor
from contracts.codes import Role
from infra.authorization import Caller
from infra.settings import DEVELOPMENT_JWT_SECRET, ServiceSettings

# The roles whose `org` is their organizer: a province's (or the national association's) staff, a province's feed.
OWN_ORGANIZER = frozenset({Role.ORGANIZER, Role.NATIONAL, Role.FEED})
# A recommending unit's and a judge's ids are chosen per organizer: their tokens must name it, or the same id
# would act in every province.
NAMES_ITS_ORGANIZER = frozenset({Role.RECOMMENDER, Role.JUDGE})

ALGORITHM = "HS256"
DEFAULT_TTL_SECONDS = 8 * 3600
# RFC 7518 asks for HS256 keys at least as long as the hash: a shorter one can be brute-forced from any one token.
MIN_KEY_BYTES = 32
# How long a token may live: a person's for a working day at most, a provincial feed's (a machine's) for a day.
PERSON_MAX_TTL_SECONDS = 12 * 3600
FEED_MAX_TTL_SECONDS = 24 * 3600
MAX_TTL_SECONDS: Mapping[Role, int] = {
    role: FEED_MAX_TTL_SECONDS if role is Role.FEED else PERSON_MAX_TTL_SECONDS for role in Role}
REQUIRED_CLAIMS = ["sub", "role", "org", "iss", "aud", "iat", "exp"]


class InvalidToken(Exception):
    """The token is missing, malformed, expired or not signed by us."""


class SigningKeyRefused(ValueError):
    """The configured signing keys must not be used: a service refuses to start with them."""


def check_signing_key(key: str, setting: str) -> None:
    """Refuse a key shorter than MIN_KEY_BYTES, naming the setting it came from."""
    size = len(key.encode())
    if size < MIN_KEY_BYTES:
        raise SigningKeyRefused(f"{setting} is {size} bytes long; a signing key must have at least {MIN_KEY_BYTES} "
                                f"(for example `openssl rand -base64 48`)")


def max_ttl_seconds(role: Role | str) -> int:
    return MAX_TTL_SECONDS[Role(role)]


@dataclass(frozen=True)
class TokenService:
    """Mints and verifies the platform's bearer tokens.

    New tokens are signed with `secret`; tokens signed with one of `previous_secrets` still verify while a key
    is being rolled over. Every token names the issuer and the audience, when it was issued and when it expires,
    and lives no longer than its role's cap.
    """

    secret: str
    issuer: str
    audience: str = "qc-platform"
    previous_secrets: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_signing_key(self.secret, "the signing key")
        for number, key in enumerate(self.previous_secrets, 1):
            check_signing_key(key, f"previous signing key {number}")

    def mint(self, subject: str, role: Role | str, org: str, ttl_seconds: int = DEFAULT_TTL_SECONDS, *,
             organizer: str | None = None, season: str | None = None) -> str:
        """A signed token; ValueError for a lifetime over the role's cap or a recommender/judge without organizer."""
        role = Role(role)
        if ttl_seconds > max_ttl_seconds(role):
            raise ValueError(f"a token of role {role.value} may live at most {max_ttl_seconds(role)} s "
                             f"({max_ttl_seconds(role) // 3600} h), not {ttl_seconds} s")
        if role in NAMES_ITS_ORGANIZER and not organizer:
            raise ValueError(f"a {role.value} token must name its organizer (the provincial association's code)")
        now = int(time.time())
        claims: dict[str, Any] = {
            "sub": subject,
            "role": role.value,
            "org": org,
            "iss": self.issuer,
            "aud": self.audience,
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
            claims = self._decode(token)
            actor = Actor(id=claims["sub"], role=claims["role"], org=claims["org"])
            lifetime = claims["exp"] - claims["iat"]
            if lifetime > max_ttl_seconds(actor.role):
                raise InvalidToken(f"the token lives {lifetime} s; a token of role {actor.role.value} may live at most "
                                   f"{max_ttl_seconds(actor.role)} s")
            if actor.role in NAMES_ITS_ORGANIZER and not claims.get("organizer"):
                raise InvalidToken(f"a {actor.role.value} token must name its organizer (claim `organizer`)")
            organizer = claims.get("organizer") or (claims["org"] if actor.role in OWN_ORGANIZER else None)
            return Caller(actor, organizer=organizer, season_id=claims.get("season"))
        except (jwt.PyJWTError, ValueError, TypeError) as error:
            raise InvalidToken(str(error)) from error

    def _decode(self, token: str) -> dict[str, Any]:
        """The token's claims, checked against the current key and then each previous one."""
        keys = (self.secret, *self.previous_secrets)
        for index, key in enumerate(keys):
            try:
                return jwt.decode(token, key, algorithms=[ALGORITHM], issuer=self.issuer, audience=self.audience,
                                  options={"require": REQUIRED_CLAIMS})
            except jwt.InvalidSignatureError:
                if index == len(keys) - 1:
                    raise
        raise AssertionError("unreachable: there is always a current key")


def token_service(settings: ServiceSettings) -> TokenService:
    """The token service the settings configure, or SigningKeyRefused naming the setting at fault.

    Outside the embedded development mode the published development secret is refused, and so is no secret at
    all: anyone could sign a national or auditor token with it.
    """
    secret = settings.jwt_secret.get_secret_value() if settings.jwt_secret is not None else None
    previous = [item.strip() for item in (settings.jwt_previous_secrets.get_secret_value()
                                          if settings.jwt_previous_secrets is not None else "").split(",")]
    previous = [item for item in previous if item]
    if not settings.development_mode:
        if secret is None:
            raise SigningKeyRefused(
                "QCP_JWT_SECRET is not set: a service needs a signing key of its own (at least "
                f"{MIN_KEY_BYTES} bytes, from a secret store); only the embedded development platform "
                "(QCP_DEVELOPMENT_MODE=true) runs with the published development secret")
        if DEVELOPMENT_JWT_SECRET in (secret, *previous):
            which = "QCP_JWT_SECRET" if secret == DEVELOPMENT_JWT_SECRET else "QCP_JWT_PREVIOUS_SECRETS"
            raise SigningKeyRefused(
                f"{which} holds the published development secret, with which anyone can sign a token; set a key of "
                "your own, or QCP_DEVELOPMENT_MODE=true for the embedded development platform only")
    check_signing_key(secret or DEVELOPMENT_JWT_SECRET, "QCP_JWT_SECRET")
    for number, key in enumerate(previous, 1):
        check_signing_key(key, f"key {number} of QCP_JWT_PREVIOUS_SECRETS")
    return TokenService(secret or DEVELOPMENT_JWT_SECRET, settings.jwt_issuer, settings.jwt_audience, tuple(previous))
