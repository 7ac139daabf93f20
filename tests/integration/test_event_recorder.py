"""The PostgreSQL recorder: a command's aggregates read in one query, its events committed in one round trip,
and a refused insert refused whole, rolled back, the table unlocked."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent

from contracts import Actor
from contracts.codes import Channel, Role
from contracts.registered import SeasonOpened, UnitRegistrationForm
from infra.event_recorder import OneTripApplicationRecorder
from infra.eventstore import CommandContext
from qcp.demo import demo_registration, demo_season
from services.registration.application import RegistrationApplication
from services.registration.domain.season import season_aggregate_id
from services.registration.domain.unit_registration import unit_registration_id
from tests.harness import isolated_settings, new_namespace, on_postgres

SECRETARIAT = CommandContext(Actor(id="staff-1", role=Role.ORGANIZER, org="310000"), Channel.ORGANIZER)


@pytest.fixture
def application(stack, tmp_path) -> RegistrationApplication:
    settings = on_postgres(stack, isolated_settings(stack, "registration", tmp_path, new_namespace()))
    return RegistrationApplication(settings)


def open_season(application: RegistrationApplication) -> str:
    now = datetime.now(UTC)
    season_id = f"310000-{now.year}-qc_group"
    application.open_season(SeasonOpened(season_id=season_id, **demo_season(now.year, now)), SECRETARIAT)
    return season_id


def test_the_postgres_event_store_uses_the_one_trip_recorder(application) -> None:
    assert isinstance(application.recorder, OneTripApplicationRecorder)


def test_several_aggregates_are_read_as_stored_and_one_not_stored_is_none(application) -> None:
    season_id = open_season(application)
    form = UnitRegistrationForm.model_validate(demo_registration(0))
    application.register_unit(season_id, form, SECRETARIAT)
    application.register_unit(season_id, form, SECRETARIAT)  # registering again amends: version 2
    season_key, registration_key = season_aggregate_id(season_id), unit_registration_id(season_id, form.credit_code)

    season, registration, missing = application.get_many(season_key, registration_key, uuid.uuid4())

    assert (season.id, season.version, registration.id, registration.version, missing) == (
        season_key, application.repository.get(season_key).version, registration_key, 2, None)


def test_an_insert_with_a_version_already_stored_is_refused_whole(application) -> None:
    recorder = application.recorder
    taken, other = uuid.uuid4(), uuid.uuid4()
    recorder.insert_events([StoredEvent(taken, 1, "test", b"first")])

    with pytest.raises(IntegrityError):
        recorder.insert_events([StoredEvent(other, 1, "test", b"other"), StoredEvent(taken, 1, "test", b"again")])

    assert (recorder.select_events(other), [item.state for item in recorder.select_events(taken)]) == ([], [b"first"])


def test_a_refused_insert_leaves_the_table_unlocked(application, stack) -> None:
    recorder = application.recorder
    taken = uuid.uuid4()
    recorder.insert_events([StoredEvent(taken, 1, "test", b"first")])
    with pytest.raises(IntegrityError):
        recorder.insert_events([StoredEvent(taken, 1, "test", b"again")])

    with psycopg.connect(stack.postgres_dsn_for(recorder.datastore.pool.kwargs["dbname"])) as connection:
        connection.execute("SET lock_timeout = '5s'")
        connection.execute(f"LOCK TABLE {recorder.events_table_name} IN EXCLUSIVE MODE")  # raises if still held
        locked = connection.info.transaction_status

    assert locked == psycopg.pq.TransactionStatus.INTRANS


def test_the_connection_serves_the_next_insert_after_a_refused_one(application) -> None:
    recorder = application.recorder  # the suite's pools hold one connection: the refused insert's
    taken = uuid.uuid4()
    recorder.insert_events([StoredEvent(taken, 1, "test", b"first")])
    with pytest.raises(IntegrityError):
        recorder.insert_events([StoredEvent(taken, 1, "test", b"again")])

    notification_ids = recorder.insert_events([StoredEvent(taken, 2, "test", b"second")])

    assert notification_ids == [recorder.max_notification_id()]


def test_two_commands_on_the_same_version_one_is_refused(application) -> None:
    season_id = open_season(application)
    first, second = application.season(season_id), application.season(season_id)
    first.approve_team_name_suffix(payload={"season_id": season_id, "suffix": "车间", "reason": "a"},
                                   meta={"season_id": season_id})
    second.approve_team_name_suffix(payload={"season_id": season_id, "suffix": "站", "reason": "b"},
                                    meta={"season_id": season_id})
    application.save(first)

    with pytest.raises(IntegrityError):
        application.save(second)
