"""A season is opened once; a unit registers within the window, and registering again amends."""

from datetime import UTC, datetime
from uuid import UUID

import pytest

from contracts import Actor
from contracts.codes import Channel, Role
from contracts.registered import SeasonOpened, UnitRegistrationForm
from infra.errors import NotFound, RuleViolation
from infra.eventstore import CommandContext
from infra.http import status_of
from infra.idempotency import IdempotencyKey
from infra.settings import ServiceSettings
from qcp.demo import demo_registration, demo_season
from services.registration.application import RegistrationApplication

OPENED_AT = datetime(2026, 3, 1, tzinfo=UTC)
SECRETARIAT = CommandContext(Actor(id="staff-1", role=Role.ORGANIZER, org="310000"), Channel.ORGANIZER)


def application(now: datetime) -> RegistrationApplication:
    return RegistrationApplication(ServiceSettings(service="registration", event_store="memory"), clock=lambda: now)


def open_demo_season(app: RegistrationApplication) -> str:
    body = demo_season(2026, OPENED_AT)
    app.open_season(SeasonOpened(season_id="310000-2026-qc_group", **body), SECRETARIAT)
    return "310000-2026-qc_group"


def test_a_unit_registers_and_registering_again_amends() -> None:
    app = application(OPENED_AT)
    season_id = open_demo_season(app)
    form = UnitRegistrationForm.model_validate(demo_registration(0))

    first = app.register_unit(season_id, form, SECRETARIAT)
    second = app.register_unit(season_id, form.model_copy(update={"address": "上海市徐汇区漕溪路1号"}), SECRETARIAT)

    assert (first["event"], first["version"], first["created"]) == ("UnitRegistered", 1, True)
    assert (second["event"], second["version"], second["created"]) == ("UnitRegistrationAmended", 2, False)
    assert second["aggregate_id"] == first["aggregate_id"]
    history = app.history(UUID(first["aggregate_id"]))
    assert [event.type for event in history] == ["UnitRegistered", "UnitRegistrationAmended"]
    assert history[1].payload["address"] == "上海市徐汇区漕溪路1号"
    assert history[0].actor.id == "staff-1" and history[0].channel is Channel.ORGANIZER


def test_a_season_is_opened_only_once() -> None:
    app = application(OPENED_AT)
    open_demo_season(app)
    with pytest.raises(RuleViolation) as refusal:
        open_demo_season(app)
    assert refusal.value.rule == "season.unique" and status_of(refusal.value) == 409


def test_the_season_id_must_follow_from_organizer_year_and_kind() -> None:
    app = application(OPENED_AT)
    body = demo_season(2026, OPENED_AT)
    with pytest.raises(RuleViolation, match="310000-2026-qc_group"):
        app.open_season(SeasonOpened(season_id="310000-2025-qc_group", **body), SECRETARIAT)


def test_registering_after_the_window_closed_is_refused_naming_the_window() -> None:
    app = application(OPENED_AT)
    season_id = open_demo_season(app)
    app.clock = lambda: datetime(2026, 12, 31, tzinfo=UTC)
    with pytest.raises(RuleViolation) as refusal:
        app.register_unit(season_id, UnitRegistrationForm.model_validate(demo_registration(1)), SECRETARIAT)
    assert refusal.value.rule == "season.window.registration"
    assert "is closed" in refusal.value.message and "Asia/Shanghai" in refusal.value.message


def test_registering_for_an_unknown_season_says_which() -> None:
    app = application(OPENED_AT)
    with pytest.raises(NotFound, match="season 310000-2031-qc_group"):
        app.register_unit("310000-2031-qc_group", UnitRegistrationForm.model_validate(demo_registration(1)), SECRETARIAT)


def test_a_retried_command_with_the_same_key_returns_the_first_result_and_stores_nothing() -> None:
    app = application(OPENED_AT)
    season_id = open_demo_season(app)
    form = UnitRegistrationForm.model_validate(demo_registration(0))
    key = IdempotencyKey.for_request("k-1", "staff-1", "/register", form.model_dump(mode="json"))
    stored_before = app.recorder.max_notification_id()

    first = app.register_unit(season_id, form, SECRETARIAT, key)
    retried = app.register_unit(season_id, form, SECRETARIAT, key)

    assert retried == first | {"replayed": True}
    assert app.recorder.max_notification_id() == stored_before + 2  # the registration and its key record
    assert [item.type for item in app.envelopes_after(stored_before, 10)[0]] == ["UnitRegistered"]


def test_a_key_reused_for_another_request_is_refused() -> None:
    app = application(OPENED_AT)
    season_id = open_demo_season(app)
    form = UnitRegistrationForm.model_validate(demo_registration(0))
    app.register_unit(season_id, form, SECRETARIAT, IdempotencyKey.for_request("k-1", "staff-1", "/r", {"a": 1}))
    with pytest.raises(RuleViolation) as refusal:
        app.register_unit(season_id, form, SECRETARIAT, IdempotencyKey.for_request("k-1", "staff-1", "/r", {"a": 2}))
    assert refusal.value.rule == "idempotency.key_reused"
