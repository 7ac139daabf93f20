"""An entry (成果 / 班组建设经验) and the rules it is submitted, amended, withdrawn and confirmed under."""

from __future__ import annotations

from typing import Any, cast
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from contracts.codes import ActivityKind, Role
from contracts.identity import stable_uuid
from contracts.profiles import AttachmentNaming, FormProfile
from contracts.submitted import EntryAmended, EntryStatus, EntrySubmitted, QcAchievementForm, TeamExperienceForm
from infra.errors import NotFound, RuleViolation
from infra.eventstore import CommandContext
from services.submission.domain.events import current
from services.submission.domain.season import RegisteredUnit, SeasonView

EntryFormModel = QcAchievementForm | TeamExperienceForm


def entry_id_for(season_id: str, form: EntryFormModel, round_: int) -> UUID:
    """Deterministic per unit, natural key (group and topic, or team name) and round: a withdrawn
    entry's name may be submitted again, as the next round."""
    return stable_uuid("entry", season_id, form.credit_code, *form.natural_key(), round_)


class Entry(Aggregate):
    """One submitted entry; its form is replaced whole by an amendment."""

    @staticmethod
    def create_id(payload: dict[str, Any], meta: dict[str, Any]) -> UUID:  # noqa: ARG004
        return UUID(payload["entry_id"])

    @event("EntrySubmitted")
    def __init__(self, payload: dict[str, Any], meta: dict[str, Any]) -> None:
        submitted = cast(EntrySubmitted, current("EntrySubmitted", payload, meta))
        self.season_id: str = submitted.season_id
        self.entry_id: str = submitted.entry_id
        self.form: dict[str, Any] = submitted.form.model_dump(mode="json")
        self.status = EntryStatus.SUBMITTED

    @event("EntryAmended")
    def amend(self, payload: dict[str, Any], meta: dict[str, Any]) -> None:
        amended = cast(EntryAmended, current("EntryAmended", payload, meta))
        self.form = amended.form.model_dump(mode="json")
        self.status = EntryStatus.SUBMITTED  # an amended entry needs its unit's confirmation again

    @event("EntryWithdrawn")
    def withdraw(self, payload: dict[str, Any], meta: dict[str, Any]) -> None:  # noqa: ARG002
        self.status = EntryStatus.WITHDRAWN

    @event("UnitConfirmed")
    def confirm(self, payload: dict[str, Any], meta: dict[str, Any]) -> None:  # noqa: ARG002
        self.status = EntryStatus.CONFIRMED

    @property
    def kind(self) -> ActivityKind:
        return ActivityKind(self.form["kind"])

    @property
    def credit_code(self) -> str:
        return self.form["credit_code"]

    def check_acting_unit(self, context: CommandContext) -> None:
        """A unit acts on its own entries only; another unit's entry is answered as missing, so that entry ids
        cannot be probed. The organizer's scope is checked against the season."""
        if context.actor.role is Role.UNIT and context.actor.org != self.credit_code:
            raise NotFound(f"entry {self.entry_id} of season {self.season_id}")

    def check_not_withdrawn(self) -> None:
        if self.status is EntryStatus.WITHDRAWN:
            raise RuleViolation(
                "entry_id",
                "entry.withdrawn",
                f"entry {self.entry_id} was withdrawn; a withdrawn entry is not changed (submit it again instead)",
                status_code=409,
            )


def check_kind(season: SeasonView, form: EntryFormModel) -> None:
    if form.kind is not season.kind:
        raise RuleViolation(
            "kind",
            "entry.kind",
            f"season {season.season_id} takes {season.kind.label} entries, not {form.kind.label}",
        )


def check_registered_unit(season: SeasonView, unit: RegisteredUnit | None, form: EntryFormModel) -> RegisteredUnit:
    """The unit is registered for the season and the entry names it exactly as registered (as on its seal).

    Where the season's forms have no prior 报名 (its profile: Shandong's units submit directly), the entry's own
    form names the unit, and its recommending unit must be one of the season's."""
    if unit is None and not season.form_profile.prior_registration_required:
        if form.recommender_id:
            season.check_recommender(form.recommender_id, "entry.recommender.registered")
        return RegisteredUnit(
            credit_code=form.credit_code, unit_name=form.unit_name,
            short_name=getattr(form, "unit_short_name", None), recommender_id=form.recommender_id,
        )
    if unit is None:
        raise RuleViolation(
            "credit_code",
            "entry.unit.registered",
            f"unit {form.credit_code} is not registered for season {season.season_id}; register it (报名) first",
            status_code=409,
        )
    if form.unit_name != unit.unit_name:
        raise RuleViolation(
            "unit_name",
            "entry.unit_name.registered",
            f"单位名称 must be the registered full name, as on the unit's seal: “{unit.unit_name}”, "
            f"not “{form.unit_name}” (写全称，不挂上级部门)",
        )
    if form.recommender_id and unit.recommender_id and form.recommender_id != unit.recommender_id:
        raise RuleViolation(
            "recommender_id",
            "entry.recommender.registered",
            f"unit {form.credit_code} registered with recommending unit {unit.recommender_id}, "
            f"not {form.recommender_id}",
        )
    if form.recommender_id and not unit.recommender_id:
        season.check_recommender(form.recommender_id, "entry.recommender.registered")
    return unit


def check_attachment_names(form: EntryFormModel, unit: RegisteredUnit, profile: FormProfile) -> None:
    """附件名称: 单位简称+班组名称 (a team's attachments), where the season's forms say so."""
    if not isinstance(form, TeamExperienceForm) or profile.attachment_naming is not AttachmentNaming.SHORT_NAME_AND_TEAM:
        return
    short_name = unit.short_name or form.unit_short_name
    if not short_name:
        raise RuleViolation(
            "unit_short_name",
            "entry.attachment.short_name",
            "attachments are named 单位简称+班组名称 and the registration gives no short name: give unit_short_name",
        )
    expected = f"{short_name}{form.team_name}"
    for index, attachment in enumerate(form.attachments):
        if not attachment.stem.startswith(expected):
            raise RuleViolation(
                f"attachments.{index}.file_name",
                "entry.attachment.name",
                f"附件名称 is the unit's short name plus the team name: “{expected}{attachment.extension}”, "
                f"not “{attachment.file_name}”",
            )


def with_registered_recommender(form: EntryFormModel, unit: RegisteredUnit) -> EntryFormModel:
    if form.recommender_id or not unit.recommender_id:
        return form
    return form.model_copy(update={"recommender_id": unit.recommender_id})
