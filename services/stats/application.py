"""Stats' service layer: reports assembled from its projections."""

from __future__ import annotations

from typing import Any

from contracts.codes import KeyDomain, UnitNature
from services.stats.adapters.read_model import StatsReadModel


async def season_overview(read_model: StatsReadModel, season_id: str) -> dict[str, Any] | None:
    """Registrations of a season, in all and by unit nature and key domain, with the Chinese labels."""
    season = await read_model.season(season_id)
    if season is None:
        return None
    by_nature = await read_model.count_registrations_by(season_id, "unit_nature")
    by_domain = await read_model.count_registrations_by(season_id, "key_domain")
    return {
        "season_id": season_id,
        "title": season.get("title"),
        "organizer": season.get("organizer"),
        "registrations": sum(by_nature.values()),
        "registrations_by_unit_nature": [
            {"code": code, "label": UnitNature(code).label, "count": count} for code, count in sorted(by_nature.items())
        ],
        "registrations_by_key_domain": [
            {"code": code, "label": KeyDomain(code).label, "count": count} for code, count in sorted(by_domain.items())
        ],
    }
