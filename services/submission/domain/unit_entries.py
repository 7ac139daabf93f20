"""申报 limit per unit: how many live entries a participating unit has in a season that limits them.

2024 Shanghai team notice, 申报流程 (1) d: 每家活动单位申报成果数量为 2-3 个. A season that sets
`entries_per_unit_max` keeps, per unit, the entries that count (`UnitEntries`, a bookkeeping aggregate,
not published) and saves it in the same transaction as each submission and withdrawal: two submissions
of one unit at the same moment collide in the event store, so the limit is never overrun by a race.
A withdrawn entry frees its place.
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate, event

from contracts.identity import stable_uuid
from infra.errors import Conflict


def unit_entries_id(season_id: str, credit_code: str) -> UUID:
    return stable_uuid("unit-entries", season_id, credit_code)


class UnitEntries(Aggregate):
    """The entries of one unit in one season that count against the season's 申报 limit."""

    @staticmethod
    def create_id(season_id: str, credit_code: str) -> UUID:
        return unit_entries_id(season_id, credit_code)

    @event("Opened")
    def __init__(self, season_id: str, credit_code: str) -> None:
        self.season_id = season_id
        self.credit_code = credit_code
        self.live: list[str] = []

    @event("Counted")
    def count(self, entry_id: str) -> None:
        self.live.append(entry_id)

    @event("Freed")
    def free(self, entry_id: str) -> None:
        self.live.remove(entry_id)

    def check_room(self, limit: int, season_id: str) -> None:
        if len(self.live) >= limit:
            raise Conflict(
                "credit_code",
                "entry.per_unit.limit",
                f"unit {self.credit_code} already has {len(self.live)} entries in season {season_id}, and the season "
                f"takes at most {limit} per unit (每家活动单位申报成果数量为 2-3 个); withdraw one to submit another",
            )
