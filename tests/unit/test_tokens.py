"""Bearer tokens carry the actor; anything not signed by the platform, for another audience, living too long, or
naming no organizer where its ids depend on one is refused; the signing keys a service may start with."""

import time
from typing import Any

import jwt
import pytest
from click.testing import CliRunner, Result

from contracts.codes import Role
from infra.auth import (
    FEED_MAX_TTL_SECONDS,
    PERSON_MAX_TTL_SECONDS,
    InvalidToken,
    SigningKeyRefused,
    TokenService,
    token_service,
)
from infra.settings import DEVELOPMENT_JWT_SECRET, ServiceSettings
from qcp.cli import cli
from tests.harness import TOKENS

KEY = "a-test-secret-of-enough-length-for-hs256"
OLD_KEY = "the-key-being-rolled-out-of-use-after-a-year"
tokens = TokenService(KEY, "qc-platform")
PEOPLE = ("organizer", "unit", "recommender", "judge", "national", "auditor", "ops")


def forged(key: str = KEY, **changes: Any) -> str:
    """A token signed with `key`, with these claims changed (None leaves one out)."""
    now = int(time.time())
    claims = {"sub": "x", "role": "organizer", "org": "310000", "iss": "qc-platform", "aud": "qc-platform",
              "iat": now, "exp": now + 60} | changes
    return jwt.encode({name: value for name, value in claims.items() if value is not None}, key, algorithm="HS256")


def settings(**fields: Any) -> ServiceSettings:
    """Settings as a deployment gives them: nothing from this machine's environment but what is named."""
    defaults = {"service": "registration", "development_mode": False, "jwt_secret": None, "jwt_previous_secrets": None}
    return ServiceSettings(**(defaults | fields))


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
    with pytest.raises(InvalidToken):
        tokens.verify(forged(role="superuser"))


def test_a_token_without_organization_is_refused() -> None:
    with pytest.raises(InvalidToken, match="org"):
        tokens.verify(forged(role="unit", org=None))


# issuer, audience, issue time


def test_a_token_of_another_issuer_is_refused() -> None:
    with pytest.raises(InvalidToken, match="issuer"):
        tokens.verify(forged(iss="someone-else"))


def test_a_token_for_another_audience_is_refused() -> None:
    with pytest.raises(InvalidToken, match="[Aa]udience"):
        tokens.verify(forged(aud="another-platform"))


def test_a_token_without_audience_is_refused() -> None:
    with pytest.raises(InvalidToken, match="aud"):
        tokens.verify(forged(aud=None))


def test_a_token_without_issue_time_is_refused() -> None:
    with pytest.raises(InvalidToken, match="iat"):
        tokens.verify(forged(iat=None))


def test_a_minted_token_names_issuer_audience_and_issue_time() -> None:
    claims = jwt.decode(tokens.mint("x", "national", "CAQ"), KEY, algorithms=["HS256"], audience="qc-platform")
    assert (claims["iss"], claims["aud"], claims["exp"] - claims["iat"]) == ("qc-platform", "qc-platform", 8 * 3600)


# lifetimes


@pytest.mark.parametrize("role", PEOPLE)
def test_a_person_token_may_live_twelve_hours(role: str) -> None:
    token = tokens.mint("x", role, "310000", PERSON_MAX_TTL_SECONDS, organizer="310000")
    assert tokens.verify(token).role == role


@pytest.mark.parametrize("role", PEOPLE)
def test_minting_a_person_token_for_longer_than_twelve_hours_is_refused(role: str) -> None:
    with pytest.raises(ValueError, match=f"a token of role {role} may live at most 43200 s"):
        tokens.mint("x", role, "310000", PERSON_MAX_TTL_SECONDS + 1, organizer="310000")


def test_a_feed_token_may_live_a_day_and_no_longer() -> None:
    assert tokens.verify(tokens.mint("feed-310000", "feed", "310000", FEED_MAX_TTL_SECONDS)).role is Role.FEED
    with pytest.raises(ValueError, match="a token of role feed may live at most 86400 s"):
        tokens.mint("feed-310000", "feed", "310000", FEED_MAX_TTL_SECONDS + 1)


@pytest.mark.parametrize("role", PEOPLE)
def test_a_person_token_issued_for_longer_than_twelve_hours_is_refused(role: str) -> None:
    now = int(time.time())
    with pytest.raises(InvalidToken, match=f"a token of role {role} may live at most 43200 s"):
        tokens.verify(forged(role=role, organizer="310000", iat=now - 60, exp=now - 60 + PERSON_MAX_TTL_SECONDS + 1))


def test_a_feed_token_issued_for_longer_than_a_day_is_refused() -> None:
    now = int(time.time())
    with pytest.raises(InvalidToken, match="a token of role feed may live at most 86400 s"):
        tokens.verify(forged(role="feed", iat=now, exp=now + FEED_MAX_TTL_SECONDS + 1))


def test_a_token_issued_in_the_future_is_refused() -> None:
    now = int(time.time())
    with pytest.raises(InvalidToken, match="not yet valid"):
        tokens.verify(forged(iat=now + 3600, exp=now + 7200))


# recommenders and judges name their organizer


@pytest.mark.parametrize("role", ["recommender", "judge"])
def test_minting_a_recommender_or_judge_token_without_organizer_is_refused(role: str) -> None:
    with pytest.raises(ValueError, match=f"a {role} token must name its organizer"):
        tokens.mint("x", role, "pudong")


@pytest.mark.parametrize("role", ["recommender", "judge"])
def test_a_recommender_or_judge_token_without_organizer_is_refused(role: str) -> None:
    with pytest.raises(InvalidToken, match=f"a {role} token must name its organizer"):
        tokens.verify(forged(role=role, org="pudong"))


def test_a_recommender_token_carries_its_organizer_and_season() -> None:
    caller = tokens.verify(tokens.mint("pudong-staff", "recommender", "pudong", organizer="310000",
                                       season="310000-2026-qc_group"))
    assert (caller.org, caller.organizer, caller.season_id) == ("pudong", "310000", "310000-2026-qc_group")


def test_a_judge_token_carries_its_organizer_and_no_season() -> None:
    caller = tokens.verify(tokens.mint("judge-1", "judge", "j-1", organizer="370000"))
    assert (caller.org, caller.organizer, caller.season_id) == ("j-1", "370000", None)


def test_a_provincial_staff_token_belongs_to_its_own_organizer() -> None:
    assert tokens.verify(tokens.mint("staff-1", "organizer", "370000")).organizer == "370000"


def test_a_unit_token_belongs_to_no_organizer() -> None:
    assert tokens.verify(tokens.mint("promoter", "unit", "91350100M000100Y43")).organizer is None


# key rollover


def test_during_a_rollover_tokens_signed_with_the_previous_key_still_verify() -> None:
    rolling = TokenService(KEY, "qc-platform", previous_secrets=(OLD_KEY,))
    old = TokenService(OLD_KEY, "qc-platform").mint("staff-1", "organizer", "310000")
    assert rolling.verify(old).id == "staff-1"


def test_during_a_rollover_new_tokens_are_signed_with_the_current_key() -> None:
    rolling = TokenService(KEY, "qc-platform", previous_secrets=(OLD_KEY,))
    assert tokens.verify(rolling.mint("staff-1", "organizer", "310000")).id == "staff-1"


def test_after_a_rollover_tokens_of_the_retired_key_are_refused() -> None:
    old = TokenService(OLD_KEY, "qc-platform").mint("staff-1", "organizer", "310000")
    with pytest.raises(InvalidToken, match="Signature"):
        tokens.verify(old)


def test_a_previous_key_does_not_excuse_an_expired_token() -> None:
    rolling = TokenService(KEY, "qc-platform", previous_secrets=(OLD_KEY,))
    with pytest.raises(InvalidToken, match="expired"):
        rolling.verify(TokenService(OLD_KEY, "qc-platform").mint("x", "unit", "91350100M000100Y43", ttl_seconds=-10))


# the keys a service may start with


def test_a_service_outside_development_mode_refuses_to_start_without_a_key() -> None:
    with pytest.raises(SigningKeyRefused, match="QCP_JWT_SECRET is not set"):
        token_service(settings())


def test_a_service_outside_development_mode_refuses_the_development_secret() -> None:
    with pytest.raises(SigningKeyRefused, match="QCP_JWT_SECRET holds the published development secret"):
        token_service(settings(jwt_secret=DEVELOPMENT_JWT_SECRET))


def test_a_service_outside_development_mode_refuses_the_development_secret_as_a_previous_key() -> None:
    with pytest.raises(SigningKeyRefused, match="QCP_JWT_PREVIOUS_SECRETS holds the published development secret"):
        token_service(settings(jwt_secret=KEY, jwt_previous_secrets=f"{OLD_KEY},{DEVELOPMENT_JWT_SECRET}"))


def test_a_service_in_development_mode_signs_with_the_development_secret_by_default() -> None:
    service = token_service(settings(development_mode=True))
    assert service.secret == DEVELOPMENT_JWT_SECRET


def test_a_key_shorter_than_32_bytes_is_refused_even_in_development_mode() -> None:
    with pytest.raises(SigningKeyRefused, match="QCP_JWT_SECRET is 31 bytes long; a signing key must have at least 32"):
        token_service(settings(development_mode=True, jwt_secret="k" * 31))


def test_a_key_of_32_bytes_counted_in_utf8_is_accepted() -> None:
    assert token_service(settings(jwt_secret="质" * 11)).secret == "质" * 11  # 33 bytes, 11 characters


def test_a_short_previous_key_is_refused_naming_its_place() -> None:
    with pytest.raises(SigningKeyRefused, match="key 2 of QCP_JWT_PREVIOUS_SECRETS is 5 bytes long"):
        token_service(settings(jwt_secret=KEY, jwt_previous_secrets=f"{OLD_KEY}, short"))


def test_the_settings_configure_rollover_issuer_and_audience() -> None:
    service = token_service(settings(jwt_secret=KEY, jwt_previous_secrets=f" {OLD_KEY} ,", jwt_audience="staging"))
    assert (service.secret, service.previous_secrets, service.issuer, service.audience) == (
        KEY, (OLD_KEY,), "qc-platform", "staging")


def test_the_settings_read_the_signing_keys_and_mode_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QCP_JWT_SECRET", KEY)
    monkeypatch.setenv("QCP_JWT_PREVIOUS_SECRETS", f"{OLD_KEY},another-old-key-of-at-least-32-bytes")
    monkeypatch.setenv("QCP_JWT_AUDIENCE", "staging")
    monkeypatch.setenv("QCP_DEVELOPMENT_MODE", "false")
    service = token_service(ServiceSettings(service="stats"))
    assert service.previous_secrets == (OLD_KEY, "another-old-key-of-at-least-32-bytes")
    assert service.audience == "staging"


def test_development_mode_is_off_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QCP_DEVELOPMENT_MODE", raising=False)
    monkeypatch.delenv("QCP_JWT_SECRET", raising=False)
    assert ServiceSettings(service="stats").development_mode is False
    with pytest.raises(SigningKeyRefused):
        token_service(ServiceSettings(service="stats"))


def test_a_token_service_refuses_a_short_key_however_it_is_built() -> None:
    with pytest.raises(SigningKeyRefused, match="at least 32"):
        TokenService("short", "qc-platform")


# `qcp token mint`


def mint_command(*arguments: str) -> Result:
    return CliRunner().invoke(cli, ["token", "mint", "--sub", "someone", *arguments],
                              env={"QCP_JWT_SECRET": None, "QCP_JWT_PREVIOUS_SECRETS": None})


def test_the_command_mints_a_recommender_token_with_its_organizer_and_season() -> None:
    result = mint_command("--role", "recommender", "--org", "pudong", "--organizer", "310000",
                          "--season", "310000-2026-qc_group")
    caller = TOKENS.verify(result.output.strip())
    assert (caller.org, caller.organizer, caller.season_id) == ("pudong", "310000", "310000-2026-qc_group")


@pytest.mark.parametrize(("arguments", "message"), [
    (("--role", "recommender", "--org", "pudong", "--season", "310000-2026-qc_group"), "needs --organizer"),
    (("--role", "recommender", "--org", "pudong", "--organizer", "310000"), "needs --season"),
    (("--role", "judge", "--org", "j-1"), "needs --organizer"),
    (("--role", "organizer", "--org", "310000", "--ttl", "43201"), "may live at most 43200 s (12 h)"),
    (("--role", "feed", "--org", "310000", "--ttl", "86401"), "may live at most 86400 s (24 h)"),
])
def test_the_command_refuses_what_a_token_may_not_be(arguments: tuple[str, ...], message: str) -> None:
    result = mint_command(*arguments)
    assert (result.exit_code, message in result.output) == (2, True), result.output


def test_the_command_mints_a_judge_token_with_its_organizer_for_twelve_hours() -> None:
    result = mint_command("--role", "judge", "--org", "j-1", "--organizer", "370000", "--ttl", "43200")
    assert TOKENS.verify(result.output.strip()).organizer == "370000"
