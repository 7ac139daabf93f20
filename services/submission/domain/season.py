"""What submission knows of a season and of a registered unit: plain data from its own projection.

The HTTP layer reads both from the read model (fed by registration.events; `adapters/documents.py` reads the
documents into these values) and hands them to the synchronous commands; submission never asks registration.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from contracts.codes import ActivityKind, Channel, Stage
from contracts.common import Window
from contracts.profiles import FormProfile
from contracts.season_profile import channel_label, season_profile
from infra.errors import Conflict
from infra.windows import SEASON_TIME_ZONE, check_window_open


@dataclass(frozen=True)
class SeasonView:
    season_id: str
    organizer: str
    kind: ActivityKind
    windows: Mapping[str, Window] = field(default_factory=dict)
    channels: frozenset[str] = frozenset()
    time_zone: str = SEASON_TIME_ZONE
    recommenders: frozenset[str] = frozenset()
    approved_team_name_suffixes: tuple[str, ...] = ()  # TeamNameSuffixApproved, beyond 班/组/工段/室
    entries_per_unit_max: int | None = None  # SeasonOpened: 申报 limit per unit, none when left out
    profile: FormProfile | None = None

    @property
    def form_profile(self) -> FormProfile:
        """The season's forms: its own profile, or Shanghai's of its kind (seasons opened before profiles)."""
        return self.profile or season_profile(self.kind, None)

    def check_window_open(self, stage: Stage, now: datetime, field: str = "season_id") -> None:
        """Refuse an action outside the stage's window, naming the window and its instants."""
        check_window_open(self.windows, stage, now, season_id=self.season_id, field=field, time_zone=self.time_zone)

    def channel_label(self, channel: Channel) -> str:
        """The channel's name; the direct channel's is the season's own (its profile's)."""
        return channel_label(channel, self.form_profile)

    def check_channel(self, channel: Channel) -> None:
        if self.channels and channel.value not in self.channels:
            offered = ", ".join(
                self.channel_label(Channel(item)) for item in sorted(self.channels) if item in Channel._value2member_map_
            )
            raise Conflict(
                "channel",
                "season.channel",
                f"season {self.season_id} does not take part through {self.channel_label(channel)}; it offers: {offered}",
            )

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
