"""What submission knows of a season and of a registered unit: plain data from its own projection.

The HTTP layer reads both from the read model (fed by registration.events; `adapters/documents.py` reads the
documents into these values) and hands them to the synchronous commands; submission never asks registration.
"""

from __future__ import annotations

from dataclasses import dataclass

from infra.errors import Conflict
from infra.seasons import KnownSeason


@dataclass(frozen=True, kw_only=True)
class SeasonView(KnownSeason):
    """The season as submission checks entries and filings against: besides what every service knows of it, its
    recommending units, the team-name endings it approved and its limit of entries per unit."""

    recommenders: frozenset[str] = frozenset()
    approved_team_name_suffixes: tuple[str, ...] = ()  # TeamNameSuffixApproved, beyond 班/组/工段/室
    entries_per_unit_max: int | None = None  # SeasonOpened: 申报 limit per unit, none when left out

    def check_recommender(self, recommender_id: str, rule: str) -> None:
        """The recommending unit is registered for the season (as registration's events told submission)."""
        if recommender_id not in self.recommenders:
            raise Conflict(
                "recommender_id",
                rule,
                f"推荐单位 {recommender_id} is not a recommending unit of season {self.season_id} "
                "(registered recommending units reach submission within seconds of their registration)",
            )


@dataclass(frozen=True)
class RegisteredUnit:
    """A unit registered for the season, as registration's events told submission."""

    credit_code: str
    unit_name: str
    short_name: str | None = None
    recommender_id: str | None = None
