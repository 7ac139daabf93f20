"""Registration's service layer: seasons, unit registrations, recommending units and judges, within the rules."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from pydantic import ValidationError

from contracts.codes import Channel, RecommenderCategory, Stage
from contracts.common import Window
from contracts.identity import season_key
from contracts.names import name_key
from contracts.profiles import ProfileAdjustment, SeasonProfileAdjusted
from contracts.registered import (
    JudgeForm,
    JudgeRegistered,
    QuotaRule,
    RecommenderCancelled,
    RecommenderForm,
    RecommenderQuotaRaised,
    RecommenderRegistered,
    SeasonOpened,
    SeasonWindowChanged,
    TeamNameSuffixApproved,
    UnitRegistered,
    UnitRegistrationAmended,
    UnitRegistrationForm,
)
from contracts.review_rounds import FORMAL_REVIEW
from infra.errors import Conflict, NotFound, RuleViolation, Unknown
from infra.eventstore import (
    CommandContext,
    EventStoreApplication,
    idempotent,
    recorded,
    stamp,
)
from infra.feeds import FeedRecord, Work
from infra.idempotency import IdempotencyKey
from services.registration.domain.claims import Claim, claim_id
from services.registration.domain.judge import Judge, judge_aggregate_id, judge_id_for
from services.registration.domain.recommender import (
    Recommender,
    check_quota_raise,
    check_recommender_form,
    derived_recommender_id,
    recommender_aggregate_id,
)
from services.registration.domain.season import (
    Season,
    check_quota,
    check_round_windows,
    check_rounds,
    check_season,
    check_windows,
    season_aggregate_id,
)
from services.registration.domain.season_profile import adjusted_profile
from services.registration.domain.team_names import check_team_name_suffix
from services.registration.domain.unit_registration import (
    UnitRegistration,
    check_form,
    unit_registration_id,
)


class RegistrationApplication(EventStoreApplication):
    """Seasons, unit registrations, recommending units and judges, stored as events.

    Synchronous: run it off the event loop. Each command checks every rule before anything is
    saved, and saves its events (with its idempotency record) in one transaction.
    """

    # --- seasons ---------------------------------------------------------------------------

    @idempotent
    def open_season(
        self, opened: SeasonOpened, context: CommandContext, idempotency: IdempotencyKey | None = None
    ) -> dict[str, Any]:
        expected = season_key(opened.organizer, opened.year, opened.kind.value)
        if opened.season_id != expected:
            raise RuleViolation("season_id", "season.id", f"season_id must be {expected}")
        check_season(opened)
        if self._exists(season_aggregate_id(opened.season_id)):
            raise Conflict(
                "season_id",
                "season.unique",
                f"season {opened.season_id} is already open; change its windows instead",
            )
        season = Season(**stamp(opened, context, season_id=opened.season_id, organizer=opened.organizer))
        return self.save_once([season], recorded(season, "SeasonOpened", season_id=opened.season_id), idempotency)

    def season(self, season_id: str) -> Season:
        return self.season_with(season_id)[0]

    def season_with(self, season_id: str, *others: UUID) -> tuple[Any, ...]:
        """The season and other aggregates (None for one not stored), read together in one query."""
        season, *found = self.get_many(season_aggregate_id(season_id), *others)
        if season is None:
            raise NotFound(f"season {season_id}")
        return season, *found

    @idempotent
    def change_window(
        self,
        season_id: str,
        stage: Stage,
        window: Window,
        reason: str,
        context: CommandContext,
        idempotency: IdempotencyKey | None = None,
    ) -> dict[str, Any]:
        """Open, move, extend or shorten one stage's window; the other windows' order still holds."""
        season = self.season(season_id)
        if season.window(stage) == window:
            return {
                "season_id": season_id,
                "stage": stage.value,
                "aggregate_id": str(season.id),
                "version": season.version,
                "event": None,
                "changed": False,
            }
        check_windows(season.all_windows() | {stage: window}, season.year,
                      registration_required=season.form_profile.prior_registration_required)
        changed = SeasonWindowChanged(season_id=season_id, stage=stage, window=window, reason=reason)
        season.change_window(**stamp(changed, context, season_id=season_id, organizer=season.organizer))
        result = recorded(season, "SeasonWindowChanged", season_id=season_id, stage=stage.value) | {"changed": True}
        return self.save_once([season], result, idempotency)

    @idempotent
    def change_round_window(
        self,
        season_id: str,
        round_code: str,
        window: Window,
        reason: str,
        context: CommandContext,
        idempotency: IdempotencyKey | None = None,
    ) -> dict[str, Any]:
        """Move, extend or shorten one review round's own window, or 形式审查's (formal_review)."""
        season = self.season(season_id)
        rounds = season.review_rounds()
        if round_code != FORMAL_REVIEW and not any(item.code == round_code for item in rounds):
            known = ", ".join(f"{item.code} ({item.label})" for item in rounds) or "none"
            raise Unknown(
                "round_code", "season.rounds.unknown",
                f"season {season_id} has no review round {round_code}; its rounds are {known}, and formal_review "
                "(形式审查)",
            )
        if season.round_window(round_code) == window:
            return {"season_id": season_id, "round": round_code, "aggregate_id": str(season.id),
                    "version": season.version, "event": None, "changed": False}
        if round_code == FORMAL_REVIEW:
            check_round_windows({round_code: window}, season.year, field="window")
        else:
            changed_rounds = [item.model_copy(update={"window": window}) if item.code == round_code else item
                              for item in rounds]
            check_rounds(changed_rounds, [], season.year, rubrics_checked=False)
        changed = SeasonWindowChanged(
            season_id=season_id, stage=Stage.REVIEW, window=window, reason=reason, round=round_code
        )
        season.change_window(**stamp(changed, context, season_id=season_id, organizer=season.organizer))
        result = recorded(season, "SeasonWindowChanged", season_id=season_id, round=round_code) | {"changed": True}
        return self.save_once([season], result, idempotency)

    @idempotent
    def approve_team_name_suffix(
        self, season_id: str, suffix: str, reason: str, context: CommandContext, idempotency: IdempotencyKey | None = None
    ) -> dict[str, Any]:
        """The organizer lets team names of a team season end in one more way (车间, 站, 队 …); never 班组."""
        season = self.season(season_id)
        check_team_name_suffix(season.kind, suffix, season.approved_team_name_suffixes)
        approved = TeamNameSuffixApproved(season_id=season_id, suffix=suffix, reason=reason)
        season.approve_team_name_suffix(**stamp(approved, context, season_id=season_id, organizer=season.organizer))
        result = recorded(season, "TeamNameSuffixApproved", season_id=season_id, suffix=suffix)
        return self.save_once([season], result, idempotency)

    @idempotent
    def adjust_profile(
        self, season_id: str, adjustment: ProfileAdjustment, context: CommandContext,
        idempotency: IdempotencyKey | None = None,
    ) -> dict[str, Any]:
        """The organizer changes the season's forms; a profile that contradicts itself is refused."""
        season = self.season(season_id)
        current = season.form_profile
        profile = adjusted_profile(current, adjustment, season_id)
        changed = SeasonProfileAdjusted(
            season_id=season_id, profile=profile, previous=current.ref, reason=adjustment.reason
        )
        season.adjust_profile(**stamp(changed, context, season_id=season_id, organizer=season.organizer))
        result = recorded(season, "SeasonProfileAdjusted", season_id=season_id) | {
            "profile": profile.ref.model_dump(mode="json")}
        return self.save_once([season], result, idempotency)

    # --- unit registrations ------------------------------------------------------------------

    @idempotent
    def register_unit(
        self,
        season_id: str,
        form: UnitRegistrationForm,
        context: CommandContext,
        idempotency: IdempotencyKey | None = None,
    ) -> dict[str, Any]:
        # the season and the unit's registration (None when the unit is new) in one read: registering again amends
        season, existing = self.season_with(season_id, unit_registration_id(season_id, form.credit_code))
        season.check_window_open(Stage.REGISTRATION, self.clock(), field="season_id")
        registration, event = self._registered(season, form, context, existing)
        result = recorded(registration, event, season_id=season_id, credit_code=form.credit_code)
        return self.save_once([registration], result, idempotency)

    def take_feed_registration(self, record: FeedRecord, work: Work, context: CommandContext) -> UnitRegistration:
        """A province's registration record: the 报名表's rules, as a registration through the platform.

        The province applied its own windows when the unit registered there; the national platform takes
        the fact as recorded, so the registration window is not checked here.
        """
        form = UnitRegistrationForm.model_validate(record.data)
        season: Season | None = work.get(season_aggregate_id(record.season))
        if season is None:
            raise RuleViolation(
                "season", "feed.season.unknown",
                f"season {record.season} is not open at the national platform; the organizer opens it first",
            )
        existing = work.get(unit_registration_id(record.season, form.credit_code))
        registration, _ = self._registered(season, form, context, existing)
        work.add(registration)
        return registration

    def _registered(
        self, season: Season, form: UnitRegistrationForm, context: CommandContext, existing: UnitRegistration | None
    ) -> tuple[UnitRegistration, str]:
        """The registration, new or amended (registering again amends), after every rule of the 报名表."""
        profile = season.form_profile
        check_form(form, profile)
        if form.recommender_id is not None:
            self._check_chosen_recommender(season, form)
        fields = form.model_dump() | {"profile": profile.ref}
        stamped = {"season_id": season.season_id, "organizer": season.organizer}
        if existing is None:
            payload = UnitRegistered(season_id=season.season_id, **fields)
            return UnitRegistration(**stamp(payload, context, **stamped)), "UnitRegistered"
        amended = UnitRegistrationAmended(season_id=season.season_id, **fields)
        existing.amend(**stamp(amended, context, **stamped))
        return existing, "UnitRegistrationAmended"

    def _check_chosen_recommender(self, season: Season, form: UnitRegistrationForm) -> None:
        assert form.recommender_id is not None
        try:
            recommender = self.recommender(season.season_id, form.recommender_id)
        except NotFound:
            raise RuleViolation(
                "recommender_id",
                "registration.recommender.unknown",
                f"推荐单位 {form.recommender_id} is not a recommending unit of season {season.season_id}; "
                "choose one from the season's list of recommending units",
            ) from None
        if recommender.cancellation is not None:
            raise Conflict(
                "recommender_id",
                "registration.recommender.cancelled",
                f"推荐单位 {recommender.name} lost its right to recommend in season {season.season_id} (取消推荐资格: "
                f"{recommender.cancellation['reason']}); choose another recommending unit",
            )
        if recommender.category == RecommenderCategory.DIRECT.value and not form.member:
            raise RuleViolation(
                "recommender_id",
                "registration.recommender.direct_members_only",
                f"{recommender.name} (the direct channel) accepts member units (会员单位) only; "
                "choose your district, industry or group company as 推荐单位",
            )

    # --- recommending units --------------------------------------------------------------------

    def recommender(self, season_id: str, recommender_id: str) -> Recommender:
        try:
            return self.repository.get(recommender_aggregate_id(season_id, recommender_id))
        except AggregateNotFoundError:
            raise NotFound(f"recommending unit {recommender_id} of season {season_id}") from None

    @idempotent
    def register_recommender(
        self,
        season_id: str,
        form: RecommenderForm,
        context: CommandContext,
        idempotency: IdempotencyKey | None = None,
    ) -> dict[str, Any]:
        season = self.season(season_id)
        check_recommender_form(form, season.organizer)
        recommender_id = form.recommender_id or derived_recommender_id(season_id, form.name)
        if self._exists(recommender_aggregate_id(season_id, recommender_id)):
            raise Conflict(
                "recommender_id",
                "recommender.id.unique",
                f"season {season_id} already has a recommending unit {recommender_id}",
            )
        name_scope = f"recommender-name/{season_id}"
        if (name_claim := self.get_or_none(claim_id(name_scope, name_key(form.name)))) is not None:
            owner = name_claim.owner
            raise Conflict(
                "name",
                "recommender.name.unique",
                f"season {season_id} already has a recommending unit named {form.name} ({owner})",
            )
        claims = [Claim(name_scope, name_key(form.name), recommender_id)]
        if form.category is RecommenderCategory.DIRECT:
            if not season.has_channel(Channel.DIRECT):
                raise RuleViolation(
                    "category",
                    "recommender.direct.channel_closed",
                    f"season {season_id} has no direct channel ({Channel.DIRECT.label}); open it with the season's channels",
                )
            direct_scope = f"recommender-direct/{season_id}"
            if (direct_claim := self.get_or_none(claim_id(direct_scope, "direct"))) is not None:
                owner = direct_claim.owner
                raise Conflict(
                    "category",
                    "recommender.direct.unique",
                    f"season {season_id} already has its direct channel: {owner}",
                )
            claims.append(Claim(direct_scope, "direct", recommender_id))
        payload = RecommenderRegistered(
            season_id=season_id, **(form.model_dump(exclude={"recommender_id"}) | {"recommender_id": recommender_id})
        )
        recommender = Recommender(**stamp(payload, context, season_id=season_id, organizer=season.organizer))
        result = recorded(recommender, "RecommenderRegistered", season_id=season_id, recommender_id=recommender_id)
        return self.save_once([recommender, *claims], result, idempotency)

    @idempotent
    def raise_recommender_quota(
        self,
        season_id: str,
        recommender_id: str,
        changes: dict[str, Any],
        reason: str,
        context: CommandContext,
        idempotency: IdempotencyKey | None = None,
    ) -> dict[str, Any]:
        """Grant one recommending unit a larger quota than the season's; `changes` are QuotaRule fields."""
        season = self.season(season_id)
        recommender = self.recommender(season_id, recommender_id)
        before = recommender.effective_quota(season.quota_rule)
        merged = before.model_dump(mode="json")
        for key, value in changes.items():
            merged[key] = (merged[key] | value) if key == "per_type_max" else value
        try:
            raised = QuotaRule.model_validate(merged)
        except ValidationError as error:
            problem = error.errors()[0]
            field = ".".join(str(part) for part in problem["loc"])
            raise RuleViolation(field or "quota", problem["type"], problem["msg"]) from None
        check_quota(raised, season.kind, field="quota")
        check_quota_raise(before, raised)
        payload = RecommenderQuotaRaised(
            season_id=season_id, recommender_id=recommender_id, quota=raised, previous=before, reason=reason
        )
        recommender.raise_quota(**stamp(payload, context, season_id=season_id, organizer=season.organizer))
        result = recorded(recommender, "RecommenderQuotaRaised", season_id=season_id, recommender_id=recommender_id)
        return self.save_once([recommender], result | {"quota": raised.model_dump(mode="json")}, idempotency)

    @idempotent
    def cancel_recommender(
        self,
        season_id: str,
        recommender_id: str,
        reason: str,
        context: CommandContext,
        idempotency: IdempotencyKey | None = None,
    ) -> dict[str, Any]:
        """取消推荐资格: the recommending unit recommends no more; review withdraws what it recommended."""
        season = self.season(season_id)
        recommender = self.recommender(season_id, recommender_id)
        recommender.check_may_be_cancelled()
        payload = RecommenderCancelled(season_id=season_id, recommender_id=recommender_id, reason=reason)
        recommender.cancel(**stamp(payload, context, season_id=season_id, organizer=season.organizer))
        result = recorded(recommender, "RecommenderCancelled", season_id=season_id, recommender_id=recommender_id)
        return self.save_once([recommender], result, idempotency)

    # --- judges ---------------------------------------------------------------------------------

    @idempotent
    def register_judge(
        self,
        season_id: str,
        form: JudgeForm,
        context: CommandContext,
        idempotency: IdempotencyKey | None = None,
    ) -> dict[str, Any]:
        season = self.season(season_id)
        if form.recommender_id is not None:
            try:
                self.recommender(season_id, form.recommender_id)
            except NotFound:
                raise RuleViolation(
                    "recommender_id",
                    "judge.recommender.unknown",
                    f"推荐单位 {form.recommender_id} is not a recommending unit of season {season_id}",
                ) from None
        if self._exists(judge_aggregate_id(season_id, form.certificate_no)):
            raise Conflict(
                "certificate_no",
                "judge.certificate.unique",
                f"a judge with TGQ 评委证书号 {form.certificate_no} is already registered for season {season_id}",
            )
        judge_id = judge_id_for(season_id, form.certificate_no)
        payload = JudgeRegistered(season_id=season_id, judge_id=judge_id, **form.model_dump())
        judge = Judge(**stamp(payload, context, season_id=season_id, organizer=season.organizer))
        result = recorded(judge, "JudgeRegistered", season_id=season_id, judge_id=judge_id)
        return self.save_once([judge], result, idempotency)

    def _exists(self, aggregate_id: UUID) -> bool:
        return aggregate_id in self.repository
