"""Judge assignment (评委分配): k judges per entry and stage, least loaded first, never with a conflict of interest.

Rules (ids in services/review/assignment/README.md):
- assignment.conflict.own_work_unit: a judge never reviews an entry of his or her own work unit
  (the judge's work-unit credit code is the entry unit's, or the work-unit names are the same name);
- assignment.conflict.recommender_panel: a judge on the panel of the recommending unit that
  recommended the entry, or named on its 推荐表, does not review it at the organizer (the panel already
  scored it; scoring refuses such a judge too, score.judge.conflict.recommender_panel);
- assignment.load_balance: the k judges with the fewest entries of the season and stage so far; ties
  are broken by a hash of (entry, judge), deterministic for an entry yet different between entries,
  so two workers assigning at the same moment rarely pick the same judges;
- assignment.not_enough_judges: fewer than k judges without a conflict: AssignmentBlocked is recorded.

One Assignment aggregate per (season, entry, stage), its id derived from the three: a second
creation of it collides in the event store, so an entry is assigned exactly once for a stage, however
many workers handle its FormalReviewPassed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from contracts.identity import stable_uuid
from contracts.scored import AssignmentBlocked, JudgesAssigned, ReviewStage
from contracts.names import name_key

DEFAULT_JUDGES_PER_ENTRY: dict[str, int] = {ReviewStage.MATERIAL_REVIEW.value: 5, ReviewStage.PRESENTATION.value: 5}

OWN_WORK_UNIT = "assignment.conflict.own_work_unit"
RECOMMENDER_PANEL = "assignment.conflict.recommender_panel"
NOT_ENOUGH_JUDGES = "assignment.not_enough_judges"


def assignment_id(season_id: str, entry_id: str, stage: str) -> UUID:
    """The Assignment aggregate's id: one per entry and review round of a season (a season opened before rounds:
    its stages' codes, so the ids stay what they were)."""
    return stable_uuid("assignment", season_id, entry_id, str(getattr(stage, "value", stage)))


@dataclass(frozen=True)
class Judge:
    """A judge as review knows it from JudgeRegistered."""

    judge_id: str
    work_unit: str
    work_unit_credit_code: str | None = None
    recommender_id: str | None = None
    certificate_no: str | None = None


@dataclass(frozen=True)
class EntryToAssign:
    """An entry that passed formal review, with what conflicts of interest are judged by."""

    season_id: str
    entry_id: str
    stage: str
    credit_code: str
    recommender_id: str | None = None
    unit_names: tuple[str, ...] = ()  # the unit's full name and short name, from its registration
    recommendation_certificates: tuple[str, ...] = ()  # the judges named on its 推荐表 (they scored it already)


@dataclass(frozen=True)
class Choice:
    """The outcome for one entry: the judges, or why there are not enough."""

    judge_ids: tuple[str, ...]
    required: int
    eligible: int
    conflicted: dict[str, int] = field(default_factory=dict)

    @property
    def blocked(self) -> bool:
        return len(self.judge_ids) < self.required

    def message(self) -> str:
        conflicts = ", ".join(f"{count} {rule.rsplit('.', 1)[-1]}" for rule, count in sorted(self.conflicted.items()))
        return (
            f"{self.required} judges are needed and {self.eligible} are free of conflicts of interest"
            + (f" ({conflicts} excluded)" if conflicts else "")
            + "; register more judges or assign by hand"
        )


def conflict_of(judge: Judge, entry: EntryToAssign) -> str | None:
    """The rule that keeps this judge off this entry, or None."""
    if judge.work_unit_credit_code and judge.work_unit_credit_code.upper() == entry.credit_code.upper():
        return OWN_WORK_UNIT
    own_names = {name_key(name) for name in entry.unit_names if name}
    if name_key(judge.work_unit) and name_key(judge.work_unit) in own_names:
        return OWN_WORK_UNIT
    if judge.recommender_id and entry.recommender_id and judge.recommender_id == entry.recommender_id:
        return RECOMMENDER_PANEL
    if judge.certificate_no and judge.certificate_no in entry.recommendation_certificates:
        return RECOMMENDER_PANEL  # named on the entry's 推荐表: the judge scored it for its recommending unit
    return None


def tie_break(entry: EntryToAssign, judge_id: str) -> str:
    return hashlib.sha256(f"{entry.season_id}/{entry.entry_id}/{entry.stage}/{judge_id}".encode()).hexdigest()


def choose_judges(entry: EntryToAssign, judges: Iterable[Judge], loads: Mapping[str, int], k: int) -> Choice:
    """The k unconflicted judges with the fewest assignments so far; fewer than k means blocked."""
    eligible: list[Judge] = []
    conflicted: dict[str, int] = {}
    seen: set[str] = set()
    for judge in judges:
        if judge.judge_id in seen:
            continue
        seen.add(judge.judge_id)
        rule = conflict_of(judge, entry)
        if rule is None:
            eligible.append(judge)
        else:
            conflicted[rule] = conflicted.get(rule, 0) + 1
    eligible.sort(key=lambda judge: (loads.get(judge.judge_id, 0), tie_break(entry, judge.judge_id), judge.judge_id))
    chosen = tuple(judge.judge_id for judge in eligible[:k]) if len(eligible) >= k else ()
    return Choice(chosen, k, len(eligible), conflicted)


def judges_per_entry(season: Mapping[str, Any] | None, stage: str, defaults: Mapping[str, int]) -> int:
    """k for a round: the season's own setting (its round's `judges_per_entry`, or an older season's
    `judges_per_entry` by stage) if it has one, else the default."""
    for item in (season or {}).get("rounds") or []:
        if isinstance(item, Mapping) and item.get("code") == stage and isinstance(item.get("judges_per_entry"), int):
            return max(1, item["judges_per_entry"])
    configured = (season or {}).get("judges_per_entry") or {}
    value = configured.get(stage) if isinstance(configured, Mapping) else None
    if isinstance(value, int) and value >= 1:
        return value
    return defaults.get(stage, DEFAULT_JUDGES_PER_ENTRY.get(stage, 5))


def assigned_payload(entry: EntryToAssign, choice: Choice, assigned_by: str) -> JudgesAssigned:
    return JudgesAssigned(
        season_id=entry.season_id,
        entry_id=entry.entry_id,
        stage=entry.stage,
        judge_ids=list(choice.judge_ids),
        assigned_by=assigned_by,
    )


def blocked_payload(entry: EntryToAssign, choice: Choice) -> AssignmentBlocked:
    return AssignmentBlocked(
        season_id=entry.season_id,
        entry_id=entry.entry_id,
        stage=entry.stage,
        reason=NOT_ENOUGH_JUDGES,
        message=choice.message(),
        judges_required=choice.required,
        judges_eligible=choice.eligible,
        judges_conflicted=sum(choice.conflicted.values()),
    )


class Assignment(Aggregate):
    """The judges of one entry in one stage.

    Opened (bookkeeping: not published, it carries what conflicts are judged by) and, in the same
    transaction, JudgesAssigned or AssignmentBlocked. A blocked assignment may be assigned later;
    a later JudgesAssigned replaces the judges (by hand).
    """

    @staticmethod
    def create_id(season_id: str, entry_id: str, stage: str) -> UUID:
        return assignment_id(season_id, entry_id, stage)

    @event("Opened")
    def __init__(
        self, season_id: str, entry_id: str, stage: str, credit_code: str, recommender_id: str | None
    ) -> None:
        self.season_id = season_id
        self.entry_id = entry_id
        self.stage = stage
        self.credit_code = credit_code
        self.recommender_id = recommender_id
        self.judge_ids: list[str] = []
        self.status = "open"

    @event("JudgesAssigned")
    def assign(self, payload: dict[str, Any], meta: dict[str, Any]) -> None:  # noqa: ARG002
        self.judge_ids = list(payload["judge_ids"])
        self.status = "assigned"

    @event("AssignmentBlocked")
    def block(self, payload: dict[str, Any], meta: dict[str, Any]) -> None:  # noqa: ARG002
        self.judge_ids = []
        self.status = "blocked"

    def entry(self, unit_names: tuple[str, ...] = (), certificates: tuple[str, ...] = ()) -> EntryToAssign:
        return EntryToAssign(
            self.season_id, self.entry_id, self.stage, self.credit_code, self.recommender_id, unit_names, certificates
        )
