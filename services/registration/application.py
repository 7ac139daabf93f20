"""Registration's service layer: open seasons, register units, within the rules."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from contracts.codes import Stage
from contracts.identity import season_key
from contracts.registered import SeasonOpened, UnitRegistered, UnitRegistrationAmended, UnitRegistrationForm
from infra.errors import NotFound, RuleViolation
from infra.eventstore import CommandContext, EventStoreApplication, recorded, stamp
from infra.idempotency import IdempotencyKey
from services.registration.domain.season import Season, season_aggregate_id
from services.registration.domain.unit_registration import UnitRegistration, unit_registration_id

class RegistrationApplication(EventStoreApplication):
    """Seasons and unit registrations, stored as events; synchronous, run it off the event loop."""

    def open_season(
        self, opened: SeasonOpened, context: CommandContext, idempotency: IdempotencyKey | None = None
    ) -> dict[str, Any]:
        if (previous := self.previous_result(idempotency)) is not None:
            return previous | {"replayed": True}
        expected = season_key(opened.organizer, opened.year, opened.kind.value)
        if opened.season_id != expected:
            raise RuleViolation("season_id", "season.id", f"season_id must be {expected}")
        if self._exists(season_aggregate_id(opened.season_id)):
            raise RuleViolation(
                "season_id",
                "season.unique",
                f"season {opened.season_id} is already open; change its windows instead",
                status_code=409,
            )
        season = Season(**stamp(opened, context, season_id=opened.season_id, organizer=opened.organizer))
        return self.save_once([season], recorded(season, "SeasonOpened", season_id=opened.season_id), idempotency)

    def season(self, season_id: str) -> Season:
        try:
            return self.repository.get(season_aggregate_id(season_id))
        except AggregateNotFoundError:
            raise NotFound(f"season {season_id}") from None

    def register_unit(
        self,
        season_id: str,
        form: UnitRegistrationForm,
        context: CommandContext,
        idempotency: IdempotencyKey | None = None,
    ) -> dict[str, Any]:
        if (previous := self.previous_result(idempotency)) is not None:
            return previous | {"replayed": True}
        season = self.season(season_id)
        season.check_window_open(Stage.REGISTRATION, self.clock(), field="season_id")
        fields = form.model_dump()
        registration_id = unit_registration_id(season_id, form.credit_code)
        if not self._exists(registration_id):
            payload = UnitRegistered(season_id=season_id, **fields)
            registration = UnitRegistration(
                **stamp(payload, context, season_id=season_id, organizer=season.organizer)
            )
            event = "UnitRegistered"
        else:
            registration = self.repository.get(registration_id)
            amended = UnitRegistrationAmended(season_id=season_id, **fields)
            registration.amend(**stamp(amended, context, season_id=season_id, organizer=season.organizer))
            event = "UnitRegistrationAmended"
        result = recorded(registration, event, season_id=season_id, credit_code=form.credit_code)
        return self.save_once([registration], result, idempotency)

    def _exists(self, aggregate_id: UUID) -> bool:
        return aggregate_id in self.repository

