"""A unit's registration (报名) for a season: registering again amends it."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from contracts.identity import stable_uuid


def unit_registration_id(season_id: str, credit_code: str) -> UUID:
    return stable_uuid("unit-registration", season_id, credit_code)


class UnitRegistration(Aggregate):
    """One per unit and season, keyed by the unified social credit code."""

    @staticmethod
    def create_id(payload: dict[str, Any], meta: dict[str, Any]) -> UUID:  # noqa: ARG004
        return unit_registration_id(payload["season_id"], payload["credit_code"])

    @event("UnitRegistered")
    def __init__(self, payload: dict[str, Any], meta: dict[str, Any]) -> None:  # noqa: ARG002
        self.season_id: str = payload["season_id"]
        self.credit_code: str = payload["credit_code"]
        self.form: dict[str, Any] = payload

    @event("UnitRegistrationAmended")
    def amend(self, payload: dict[str, Any], meta: dict[str, Any]) -> None:  # noqa: ARG002
        self.form = payload
