"""Bearer tokens carry the actor; anything not signed by the platform is refused."""

import time

import jwt
import pytest

from contracts.codes import Role
from infra.auth import InvalidToken, TokenService

tokens = TokenService("a-test-secret-of-enough-length-for-hs256", "qc-platform")


def test_a_minted_token_verifies_to_its_actor() -> None:
    actor = tokens.verify(tokens.mint("staff-1", "organizer", "310000")).actor
    assert (actor.id, actor.role, actor.org) == ("staff-1", Role.ORGANIZER, "310000")


def test_a_token_signed_with_another_secret_is_refused() -> None:
    other = TokenService("another-secret-of-enough-length-for-hs256", "qc-platform")
    with pytest.raises(InvalidToken, match="Signature"):
        tokens.verify(other.mint("x", "unit", "91350100M000100Y43"))


def test_an_expired_token_is_refused() -> None:
    with pytest.raises(InvalidToken, match="expired"):
        tokens.verify(tokens.mint("x", "unit", "91350100M000100Y43", ttl_seconds=-10))


def test_an_unknown_role_is_refused() -> None:
    forged = jwt.encode(
        {"sub": "x", "role": "superuser", "org": "1", "iss": "qc-platform", "exp": int(time.time()) + 60},
        tokens.secret,
        algorithm="HS256",
    )
    with pytest.raises(InvalidToken):
        tokens.verify(forged)


def test_a_token_without_organization_is_refused() -> None:
    forged = jwt.encode(
        {"sub": "x", "role": "unit", "iss": "qc-platform", "exp": int(time.time()) + 60}, tokens.secret, algorithm="HS256"
    )
    with pytest.raises(InvalidToken, match="org"):
        tokens.verify(forged)
