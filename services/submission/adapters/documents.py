"""Submission's read-model documents read back into the domain's values: a season and a registered unit."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infra.season_documents import season_fields
from services.submission.domain.season import RegisteredUnit, SeasonView


def season_from_document(document: Mapping[str, Any], recommenders: frozenset[str] = frozenset()) -> SeasonView:
    """The season as the commands check entries and filings against (a window it cannot read counts as missing)."""
    return SeasonView(
        **season_fields(document),
        recommenders=recommenders,
        approved_team_name_suffixes=tuple(document.get("team_name_suffixes") or {}),
        entries_per_unit_max=document.get("entries_per_unit_max"),
    )


def registered_unit_from_document(document: Mapping[str, Any]) -> RegisteredUnit:
    return RegisteredUnit(
        credit_code=document["credit_code"],
        unit_name=document["unit_name"],
        short_name=document.get("short_name") or None,
        recommender_id=document.get("recommender_id") or None,
    )
