"""What every service knows of a season from registration's events, and the checks every service makes on it.

Submission's and review's own views of a season extend `KnownSeason` with what only they project; both check a
stage's window and the channel the same way, here.
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
class KnownSeason:
    """A season's id, organizer, kind, stage windows, channels, time zone and form profile."""

    season_id: str
    organizer: str
    kind: ActivityKind
    windows: Mapping[str, Window] = field(default_factory=dict)
    channels: frozenset[str] = frozenset()
    time_zone: str = SEASON_TIME_ZONE
    profile: FormProfile | None = None

    @property
    def form_profile(self) -> FormProfile:
        """The season's forms: its own profile, or Shanghai's of its kind (seasons opened before profiles)."""
        return self.profile or season_profile(self.kind, None)

    def channel_label(self, channel: Channel) -> str:
        """The channel's name; the direct channel's is the season's own (its profile's)."""
        return channel_label(channel, self.form_profile)

    def check_window_open(self, stage: Stage, now: datetime, field: str = "season_id") -> None:
        """Refuse an action outside the stage's window, naming the window and its instants."""
        check_window_open(self.windows, stage, now, season_id=self.season_id, field=field, time_zone=self.time_zone)

    def offers(self, channel: Channel) -> bool:
        return not self.channels or channel.value in self.channels

    def check_channel(self, channel: Channel) -> None:
        """Refuse a channel the season does not take part through, naming those it offers."""
        if not self.offers(channel):
            offered = ", ".join(
                self.channel_label(Channel(item)) for item in sorted(self.channels) if item in Channel._value2member_map_
            )
            raise Conflict(
                "channel",
                "season.channel",
                f"season {self.season_id} does not take part through {self.channel_label(channel)}; it offers: {offered}",
            )
