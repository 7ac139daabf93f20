"""Submission's service layer: entries, unit confirmations, statistics tables and work summaries.

Synchronous (the `eventsourcing` application); the HTTP layer runs it off the event loop and hands
it what the read model knows of the season and the unit. Every command checks its rules before
anything is stored, and a retried command with the same Idempotency-Key returns the first result.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from itertools import count
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from pydantic import BaseModel

from contracts.codes import ActivityKind, Stage
from contracts.filings import QcStatisticsForm, StatisticsAmended, StatisticsFiled, TeamStatisticsForm, WorkSummaryAmended, WorkSummaryFiled, WorkSummaryForm
from contracts.submitted import (
    Confirmation,
    EntryAmended,
    EntryStatus,
    EntrySubmitted,
    EntryWithdrawn,
    QcAchievementForm,
    TeamExperienceForm,
    UnitConfirmed,
    Withdrawal,
)
from contracts.profiles import FormName
from infra.errors import Conflict, NotFound, RuleViolation
from infra.profile_checks import check_against_profile, check_form_offered
from infra.eventstore import CommandContext, EventStoreApplication, idempotent, recorded, stamp, stamp_in_season
from infra.feeds import FeedRecord, Work, feed_aggregate_id
from infra.idempotency import IdempotencyKey
from services.submission.domain.entry import (
    Entry,
    EntryFormModel,
    check_attachment_names,
    check_kind,
    check_registered_unit,
    entry_id_for,
    with_registered_recommender,
)
from services.submission.domain.filings import (
    StatisticsFiling,
    WorkSummaryFiling,
    derived_rates,
    statistics_id,
    work_summary_id,
)
from services.submission.domain.rules import check_entry_form, check_statistics, check_work_summary
from services.submission.domain.season import RegisteredUnit, SeasonView
from services.submission.domain.unit_entries import UnitEntries, unit_entries_id


# The entry form and the statistics table of each kind of season, as its profile names them.
ENTRY_FORMS = {ActivityKind.QC_GROUP: FormName.QC_ACHIEVEMENT, ActivityKind.TEAM: FormName.TEAM_EXPERIENCE}
STATISTICS_FORMS = {ActivityKind.QC_GROUP: FormName.QC_STATISTICS, ActivityKind.TEAM: FormName.TEAM_STATISTICS}


class SubmissionApplication(EventStoreApplication):
    """Entries and what recommending units file, stored as events."""

    # ------------------------------------------------------------ entries

    @idempotent
    def submit_entry(
        self,
        season: SeasonView,
        unit: RegisteredUnit | None,
        form: EntryFormModel,
        context: CommandContext,
        idempotency: IdempotencyKey | None = None,
    ) -> dict[str, Any]:
        now = self.clock()
        season.check_window_open(Stage.SUBMISSION, now)
        season.check_channel(context.channel)
        check_kind(season, form)
        form = self._checked(season, unit, form)
        entry_id = self._free_entry_id(season.season_id, form)
        counted = self._room_for(season, form.credit_code, self._stored_or_none)
        payload = EntrySubmitted(
            season_id=season.season_id, entry_id=str(entry_id), form=form, profile=season.form_profile.ref
        )
        entry = Entry(**stamp_in_season(payload, context, season, now))
        result = recorded(entry, "EntrySubmitted", **self._identity(entry))
        if counted is not None:
            counted.count(entry.entry_id)
        return self.save_once([entry, *([counted] if counted else [])], result, idempotency)

    def _room_for(
        self, season: SeasonView, credit_code: str, get: Callable[[UUID], Any]
    ) -> UnitEntries | None:
        """The unit's counted entries, where the season limits them, after checking one more fits."""
        if season.entries_per_unit_max is None:
            return None
        counted = get(unit_entries_id(season.season_id, credit_code)) or UnitEntries(season.season_id, credit_code)
        counted.check_room(season.entries_per_unit_max, season.season_id)
        return counted

    def _stored_or_none(self, aggregate_id: UUID) -> Any:
        return self.repository.get(aggregate_id) if aggregate_id in self.repository else None

    @idempotent
    def amend_entry(
        self,
        season: SeasonView,
        unit: RegisteredUnit | None,
        entry_id: str,
        form: EntryFormModel,
        context: CommandContext,
        idempotency: IdempotencyKey | None = None,
    ) -> dict[str, Any]:
        entry, now = self._entry_open_to_change(season, entry_id, context)
        form, changed = self._amendment(season, unit, entry, form)
        if not changed:
            raise RuleViolation("body", "entry.unchanged", f"the amendment changes nothing in entry {entry_id}")
        self._free_entry_id(season.season_id, form, current=entry.id)
        payload = EntryAmended(
            season_id=season.season_id, entry_id=entry.entry_id, form=form, changed=changed,
            profile=season.form_profile.ref,
        )
        entry.amend(**stamp_in_season(payload, context, season, now))
        result = recorded(entry, "EntryAmended", **self._identity(entry)) | {"changed": changed}
        return self.save_once([entry], result, idempotency)

    def take_feed_entry(
        self,
        seasons: Mapping[str, SeasonView],
        units: Mapping[tuple[str, str], RegisteredUnit],
        record: FeedRecord,
        work: Work,
        context: CommandContext,
    ) -> Entry:
        """A province's entry record, by the rules of the form it is (the season's kind) as if submitted here.

        Its id follows from the province and its external id, so later records name it by that id; a higher
        version amends it (a version that changes nothing is taken without an event). The province applied
        its own windows and channels; the unit must be registered for the season at the national platform.
        """
        season = seasons.get(record.season)
        if season is None:
            raise RuleViolation(
                "season", "feed.season.unknown",
                f"season {record.season} is not known to submission; the organizer opens it at the national platform",
            )
        model = QcAchievementForm if season.kind is ActivityKind.QC_GROUP else TeamExperienceForm
        form = model.model_validate(record.data)
        unit = units.get((season.season_id, form.credit_code))
        if unit is None and season.form_profile.prior_registration_required:
            raise RuleViolation(
                "credit_code", "feed.unit.unknown",
                f"unit {form.credit_code} is not registered for season {season.season_id} at the national platform "
                "(yet): send its registration record first, then this record again",
            )
        entry_id = feed_aggregate_id("entry", record.province, record.external_id)
        entry: Entry | None = work.get(entry_id)
        if entry is None:
            form = self._checked(season, unit, form)
            counted = self._room_for(season, form.credit_code, work.get)
            payload = EntrySubmitted(
                season_id=season.season_id, entry_id=str(entry_id), form=form, profile=season.form_profile.ref
            )
            entry = Entry(**stamp(payload, context, season_id=season.season_id, organizer=season.organizer))
            if counted is not None:
                counted.count(entry.entry_id)
                work.add(counted)
        else:
            entry.check_not_withdrawn()
            form, changed = self._amendment(season, unit, entry, form)
            if changed:
                payload = EntryAmended(
                    season_id=season.season_id, entry_id=entry.entry_id, form=form, changed=changed,
                    profile=season.form_profile.ref,
                )
                entry.amend(**stamp(payload, context, season_id=season.season_id, organizer=season.organizer))
        work.add(entry)
        return entry

    def _checked(self, season: SeasonView, unit: RegisteredUnit | None, form: EntryFormModel) -> EntryFormModel:
        """The form after the season's forms (its profile), the rules of the form and of the registered unit,
        with the unit's recommending unit."""
        profile = season.form_profile
        check_entry_form(form, profile, season.approved_team_name_suffixes)
        check_against_profile(profile, ENTRY_FORMS[form.kind], form)
        registered = check_registered_unit(season, unit, form)
        check_attachment_names(form, registered, profile)
        return with_registered_recommender(form, registered)

    def _amendment(
        self, season: SeasonView, unit: RegisteredUnit | None, entry: Entry, form: EntryFormModel
    ) -> tuple[EntryFormModel, list[str]]:
        """The amended form after every rule, and which of its fields changed; kind and unit stay."""
        if form.kind is not entry.kind:
            raise RuleViolation("kind", "entry.kind", f"entry {entry.entry_id} is a {entry.kind.label}; its kind stays")
        if form.credit_code != entry.credit_code:
            raise RuleViolation(
                "credit_code", "entry.unit.fixed",
                f"entry {entry.entry_id} belongs to unit {entry.credit_code}; that stays",
            )
        form = self._checked(season, unit, form)
        new = form.model_dump(mode="json")
        return form, sorted(key for key in set(new) | set(entry.form) if new.get(key) != entry.form.get(key))

    @idempotent
    def withdraw_entry(
        self,
        season: SeasonView,
        entry_id: str,
        withdrawal: Withdrawal,
        context: CommandContext,
        idempotency: IdempotencyKey | None = None,
    ) -> dict[str, Any]:
        entry, now = self._entry_open_to_change(season, entry_id, context)
        payload = EntryWithdrawn(
            season_id=season.season_id, entry_id=entry.entry_id, credit_code=entry.credit_code, reason=withdrawal.reason
        )
        entry.withdraw(**stamp_in_season(payload, context, season, now))
        counted: UnitEntries | None = self._stored_or_none(unit_entries_id(season.season_id, entry.credit_code))
        freed = [counted] if counted is not None and entry.entry_id in counted.live else []
        for item in freed:
            item.free(entry.entry_id)  # the withdrawn entry's place under the 申报 limit
        result = recorded(entry, "EntryWithdrawn", **self._identity(entry))
        return self.save_once([entry, *freed], result, idempotency)

    @idempotent
    def confirm_entry(
        self,
        season: SeasonView,
        entry_id: str,
        confirmation: Confirmation,
        context: CommandContext,
        idempotency: IdempotencyKey | None = None,
    ) -> dict[str, Any]:
        """单位通道: the unit self-evaluates and confirms its entry with its seal; an event of its own."""
        entry, now = self._entry_open_to_change(season, entry_id, context)
        if entry.status is EntryStatus.CONFIRMED:
            raise Conflict(
                "entry_id",
                "entry.confirmed",
                f"entry {entry_id} is already confirmed by its unit; an amendment would need a new confirmation",
            )
        payload = UnitConfirmed(
            season_id=season.season_id, entry_id=entry.entry_id, credit_code=entry.credit_code,
            **confirmation.model_dump(),
        )
        entry.confirm(**stamp_in_season(payload, context, season, now))
        return self.save_once([entry], recorded(entry, "UnitConfirmed", **self._identity(entry)), idempotency)

    def _file_or_amend(
        self,
        aggregate_id: UUID,
        filing_class: type[StatisticsFiling] | type[WorkSummaryFiling],
        filed: BaseModel,
        amended: BaseModel,
        context: CommandContext,
        season: SeasonView,
        now: datetime,
    ) -> tuple[StatisticsFiling | WorkSummaryFiling, str]:
        """A recommending unit files once per period; filing the same period again amends it."""
        if aggregate_id in self.repository:
            filing = self.repository.get(aggregate_id)
            filing.amend(**stamp_in_season(amended, context, season, now))
            return filing, type(amended).__name__
        return filing_class(**stamp_in_season(filed, context, season, now)), type(filed).__name__

    def _entry_open_to_change(
        self, season: SeasonView, entry_id: str, context: CommandContext
    ) -> tuple[Entry, datetime]:
        """The entry, if its own unit acts, through an offered channel, within the submission window, and not withdrawn."""
        entry = self.entry(season.season_id, entry_id)
        entry.check_acting_unit(context)
        now = self.clock()
        season.check_window_open(Stage.SUBMISSION, now)
        season.check_channel(context.channel)
        entry.check_not_withdrawn()
        return entry, now

    def entry(self, season_id: str, entry_id: str) -> Entry:
        try:
            aggregate_id = UUID(entry_id)
        except ValueError:
            raise NotFound(f"entry {entry_id} of season {season_id}") from None
        try:
            entry: Entry = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise NotFound(f"entry {entry_id} of season {season_id}") from None
        if not isinstance(entry, Entry) or entry.season_id != season_id:
            raise NotFound(f"entry {entry_id} of season {season_id}")
        return entry

    def _free_entry_id(self, season_id: str, form: EntryFormModel, current: UUID | None = None) -> UUID:
        """The id a new entry with this natural key gets; refused while a live entry already has the key."""
        for round_ in count():
            candidate = entry_id_for(season_id, form, round_)
            if candidate == current or candidate not in self.repository:
                return candidate
            existing: Entry = self.repository.get(candidate)
            if existing.status is not EntryStatus.WITHDRAWN:
                field = "team_name" if form.kind.value == "team" else "topic"
                raise Conflict(
                    field,
                    "entry.duplicate",
                    f"unit {form.credit_code} already submitted “{form.display_name}” as entry {candidate} in season "
                    f"{season_id}; amend that entry instead",
                )
        raise AssertionError("unreachable")

    @staticmethod
    def _identity(entry: Entry) -> dict[str, str]:
        return {"season_id": entry.season_id, "entry_id": entry.entry_id, "credit_code": entry.credit_code}

    # ------------------------------------------------------------ recommending units

    @idempotent
    def file_statistics(
        self,
        season: SeasonView,
        recommender_id: str,
        form: QcStatisticsForm | TeamStatisticsForm,
        context: CommandContext,
        idempotency: IdempotencyKey | None = None,
    ) -> dict[str, Any]:
        """统计表: the figures as counted, the rates derived by the platform with their formulas."""
        now = self.clock()
        season.check_window_open(Stage.RECOMMENDATION, now)
        season.check_channel(context.channel)
        if form.kind is not season.kind:
            raise RuleViolation(
                "kind", "stats.kind", f"season {season.season_id} takes the {season.kind.label} statistics table"
            )
        profile = season.form_profile
        check_form_offered(profile, STATISTICS_FORMS[form.kind])
        check_statistics(form)
        check_against_profile(profile, STATISTICS_FORMS[form.kind], form)
        season.check_recommender(recommender_id, "stats.recommender.registered")
        fields = {
            "season_id": season.season_id, "recommender_id": recommender_id, "kind": form.kind, "form": form,
            "derived": derived_rates(form, profile), "profile": profile.ref,
        }
        filing, event = self._file_or_amend(
            statistics_id(season.season_id, recommender_id, form.period.key),
            StatisticsFiling, StatisticsFiled(**fields), StatisticsAmended(**fields), context, season, now,
        )
        result = recorded(
            filing, event, season_id=season.season_id, recommender_id=recommender_id, period=form.period.key
        ) | {"derived": {name: item.model_dump(mode="json") for name, item in fields["derived"].items()}}
        return self.save_once([filing], result, idempotency)

    @idempotent
    def file_work_summary(
        self,
        season: SeasonView,
        recommender_id: str,
        form: WorkSummaryForm,
        context: CommandContext,
        idempotency: IdempotencyKey | None = None,
    ) -> dict[str, Any]:
        """工作总结: three parts, at least 3000 characters."""
        now = self.clock()
        season.check_window_open(Stage.RECOMMENDATION, now)
        season.check_channel(context.channel)
        profile = season.form_profile
        check_form_offered(profile, FormName.WORK_SUMMARY)
        check_work_summary(form)
        check_against_profile(profile, FormName.WORK_SUMMARY, form)
        season.check_recommender(recommender_id, "stats.recommender.registered")
        fields = {
            "season_id": season.season_id, "recommender_id": recommender_id, "kind": season.kind, "form": form,
            "characters": form.characters, "profile": profile.ref,
        }
        filing, event = self._file_or_amend(
            work_summary_id(season.season_id, recommender_id, form.period.key),
            WorkSummaryFiling, WorkSummaryFiled(**fields), WorkSummaryAmended(**fields), context, season, now,
        )
        result = recorded(
            filing, event, season_id=season.season_id, recommender_id=recommender_id, period=form.period.key
        ) | {"characters": form.characters}
        return self.save_once([filing], result, idempotency)
