"""The assignment process manager: runs in every review worker, in its own consumer group.

- FormalReviewPassed (review.events) → the entry's assignment for each round it enters (its season's first
  rounds up to the first gate, where the round assigns on entry; 文审 for a season opened before rounds):
  JudgesAssigned, or AssignmentBlocked when too few judges are free of conflicts.
- EntryAdvanced (review.events) → the same for the rounds after the gate the entry passed (only entries
  a gate advanced get judges for the next round).
  Stored in review's event store; the aggregate id is derived from (season, entry, round), so when two
  workers handle the same event (a redelivery after a crash or a rebalance) the second creation collides
  (IntegrityError) and the assignment already stored is used instead. Exactly once per entry and round,
  whatever the workers do.
- JudgeRegistered (registration.events) → the season's blocked assignments are tried again.
- JudgesAssigned, AssignmentBlocked, ScoreRecorded, ScoreRevised (review.events) → the judges' queues
  (idempotent; the worker that stored an assignment has already applied it).

Judges, units and seasons come from review's projection of registration.events; before it reads them
the process waits until that projection has consumed what was on the topic (infra.catch_up), so a
backlog consumed from scratch is not assigned before its judges are known.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import cast
from uuid import UUID

from eventsourcing.persistence import IntegrityError
from pydantic import BaseModel
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts import Actor, Envelope, parse_payload
from contracts.codes import Channel, Role
from contracts.recommended import FormalReviewPassed
from contracts.registered import JudgeRegistered
from contracts.scored import EntryAdvanced, ReviewStage, ScoreFields
from infra.bootstrap import ProcessContext, ProcessDefinition
from infra.catch_up import CatchUp
from infra.kafka_security import kafka_security
from infra.eventstore import CommandContext, EventStoreApplication, stamp, to_envelope
from infra.projection import Event, Outcome, asks_to_wait
from services.review.assignment.domain import (
    DEFAULT_JUDGES_PER_ENTRY,
    Assignment,
    Choice,
    EntryToAssign,
    assigned_payload,
    assignment_id,
    blocked_payload,
    choose_judges,
    judges_per_entry,
)
from services.review.assignment.read_model import HANDLED_TYPES, AssignmentReadModel
from services.review.domain.rounds import rounds_entered
from services.review.adapters.documents import season_from_document

log = logging.getLogger(__name__)

ASSIGNER = "review.assignment"
SCORE_TYPES = frozenset({"ScoreRecorded", "ScoreRevised"})


class AssignmentSettings(BaseSettings):
    """QCP_ASSIGNMENT_JUDGES_PER_ENTRY='{"material_review": 5, "presentation": 7}' sets k per stage
    where the season does not (a season's `judges_per_entry` wins)."""

    model_config = SettingsConfigDict(env_prefix="QCP_ASSIGNMENT_", extra="ignore")

    judges_per_entry: dict[str, int] = dict(DEFAULT_JUDGES_PER_ENTRY)
    catch_up_timeout_seconds: float = 10.0
    catch_up_fresh_for_seconds: float = 1.0
    # Loads are counted from the judges' queues at most this often (and at most 10% of the time);
    # in between, a worker adds its own assignments and sees the other workers' at the next count.
    loads_refresh_seconds: float = 2.0


class LoadCache:
    """Each judge's load per (season, stage), as counted from the read model now and then.

    Counting is an aggregation over every queue document of the stage, too costly for each entry, so
    a count is reused for `refresh` seconds (longer when counting itself is slow) with this worker's
    own assignments added. Other workers' assignments show at the next count: the balance across
    workers is approximate, within what they assign between two counts.
    """

    def __init__(self, read_model: AssignmentReadModel, refresh: float = 2.0) -> None:
        self.read_model = read_model
        self.refresh = refresh
        self.counted: dict[tuple[str, str], tuple[float, Counter[str]]] = {}
        self.cost: dict[tuple[str, str], float] = {}

    async def get(self, season_id: str, stage: str) -> Counter[str]:
        key = (season_id, stage)
        cached = self.counted.get(key)
        interval = max(self.refresh, 10 * self.cost.get(key, 0.0))
        if cached is None or time.monotonic() - cached[0] >= interval:
            started = time.monotonic()
            loads = Counter(await self.read_model.loads(season_id, stage))
            self.cost[key] = time.monotonic() - started
            cached = (started, loads)
            self.counted[key] = cached
        return cached[1]

    def add(self, season_id: str, stage: str, judge_ids: list[str]) -> None:
        cached = self.counted.get((season_id, stage))
        if cached is not None:
            cached[1].update(judge_ids)


class AssignmentRecorder:
    """The write side: opens an entry's assignment once, in review's event store (synchronous: run off the loop)."""

    def __init__(self, application: EventStoreApplication | None) -> None:
        self.application = application

    @property
    def app(self) -> EventStoreApplication:
        if self.application is None:
            raise RuntimeError("the assignment process needs review's event store")
        return self.application

    def open(self, entry: EntryToAssign, choice: Choice, context: CommandContext, organizer: str | None) -> tuple[list[Envelope], bool]:
        """Store the assignment with its outcome; if it was stored before (by any worker), nothing new.

        Returns the assignment's published events and whether this call stored them.
        """
        assignment = Assignment(
            season_id=entry.season_id, entry_id=entry.entry_id, stage=entry.stage,
            credit_code=entry.credit_code, recommender_id=entry.recommender_id,
        )
        self._decide(assignment, entry, choice, context, organizer)
        return self._save(assignment)

    def assign_blocked(
        self,
        aggregate_id: UUID,
        choice_for: Callable[[Assignment], tuple[EntryToAssign, Choice]],
        context: CommandContext,
        organizer: str | None,
    ) -> tuple[list[Envelope], bool]:
        """Assign a blocked assignment if `choice_for(entry)` now finds enough judges."""
        assignment: Assignment = self.app.repository.get(aggregate_id)
        if assignment.status != "blocked":
            return self.app.history(aggregate_id), False
        entry, choice = choice_for(assignment)
        if choice.blocked:
            return [], False
        self._decide(assignment, entry, choice, context, organizer)
        return self._save(assignment)

    def load(self, aggregate_id: UUID) -> Assignment:
        return self.app.repository.get(aggregate_id)

    def find(self, aggregate_id: UUID) -> Assignment | None:
        return self.app.repository.get(aggregate_id) if aggregate_id in self.app.repository else None

    def _decide(
        self, assignment: Assignment, entry: EntryToAssign, choice: Choice, context: CommandContext, organizer: str | None
    ) -> None:
        if choice.blocked:
            assignment.block(**stamp(blocked_payload(entry, choice), context, season_id=entry.season_id, organizer=organizer))
        else:
            assignment.assign(
                **stamp(assigned_payload(entry, choice, ASSIGNER), context, season_id=entry.season_id, organizer=organizer)
            )

    def _save(self, assignment: Assignment) -> tuple[list[Envelope], bool]:
        try:
            recordings = self.app.save(assignment)
        except IntegrityError:
            return self.app.history(assignment.id), False
        return [to_envelope(item.domain_event) for item in recordings if hasattr(item.domain_event, "meta")], True


class AssignmentProcess:
    """The handler of review's `assignment` consumer group (see the module's docstring)."""

    def __init__(
        self,
        *,
        application: EventStoreApplication | None,
        read_model: AssignmentReadModel,
        settings: AssignmentSettings | None = None,
        catch_up: CatchUp | None = None,
    ) -> None:
        self.recorder = AssignmentRecorder(application)
        self.read_model = read_model
        self.settings = settings or AssignmentSettings()
        self.catch_up = catch_up
        self.loads = LoadCache(read_model, self.settings.loads_refresh_seconds)

    async def start(self) -> None:
        await self.read_model.create_indexes()

    async def close(self) -> None:
        if self.catch_up is not None:
            await self.catch_up.close()

    async def apply_batch(self, events: Sequence[Event]) -> list[Outcome]:
        """A batch in order: each run of scores goes to the judges' queues in bulk, every other event one by one
        (as `apply`); at an error that says "wait", what follows is left untried."""
        outcomes: list[Outcome] = [None] * len(events)
        scores: list[tuple[int, Envelope, ScoreFields]] = []
        for index, event in enumerate(events):
            if event.envelope.type in SCORE_TYPES:
                scores.append((index, event.envelope, cast(ScoreFields, event.payload)))
                continue
            if not await self._scores_applied(scores, outcomes):
                return outcomes
            try:
                outcomes[index] = await self.apply(event.envelope, event.payload)
            except Exception as error:  # noqa: BLE001 - classified by the consumer
                outcomes[index] = error
                if asks_to_wait(error):
                    return outcomes
        await self._scores_applied(scores, outcomes)
        return outcomes

    async def _scores_applied(self, scores: list[tuple[int, Envelope, ScoreFields]], outcomes: list[Outcome]) -> bool:
        """Apply the scores gathered so far in bulk; whether the batch may go on (no score met a store away)."""
        if not scores:
            return True
        await self.read_model.apply_scores(scores, outcomes)
        indexes = [index for index, _, _ in scores]
        scores.clear()
        return not any(
            outcomes[index] is None or (isinstance(outcomes[index], BaseException) and asks_to_wait(outcomes[index]))
            for index in indexes
        )

    async def apply(self, envelope: Envelope, payload: BaseModel) -> bool:
        if envelope.type == "FormalReviewPassed":
            return await self.formal_review_passed(envelope, cast(FormalReviewPassed, payload))
        if envelope.type == "EntryAdvanced":
            return await self.entry_advanced(envelope, cast(EntryAdvanced, payload))
        if envelope.type == "JudgeRegistered":
            return await self.judge_registered(envelope, cast(JudgeRegistered, payload))
        if envelope.type in HANDLED_TYPES:
            return await self.read_model.apply(envelope, payload)
        return False

    async def formal_review_passed(self, envelope: Envelope, passed: FormalReviewPassed) -> bool:
        stages = await self._rounds_entered(passed.season_id, None)
        return await self._assign_rounds(envelope, passed.season_id, passed.entry_id, passed.credit_code,
                                         passed.recommender_id, stages)

    async def entry_advanced(self, envelope: Envelope, advanced: EntryAdvanced) -> bool:
        """Judges for the rounds after the gate; the entry's unit and recommending unit from the first assignment."""
        first = await asyncio.to_thread(
            self.recorder.find, assignment_id(advanced.season_id, advanced.entry_id, advanced.stage)
        )
        if first is None:
            log.warning("entry %s advanced from %s without an assignment there", advanced.entry_id, advanced.stage)
            return False
        stages = await self._rounds_entered(advanced.season_id, advanced.stage)
        return await self._assign_rounds(envelope, advanced.season_id, advanced.entry_id, first.credit_code,
                                         first.recommender_id, stages)

    async def _rounds_entered(self, season_id: str, through_gate: str | None) -> list[str]:
        """The rounds whose judges are assigned as an entry enters them (a season opened before rounds: 文审)."""
        document = await self.read_model.season(season_id)
        try:
            season = season_from_document(document or {})
        except (KeyError, ValueError):  # not projected yet, or too little of it: the rounds every season had
            return [ReviewStage.MATERIAL_REVIEW.value]
        return [item.code for item in rounds_entered(season, through_gate) if item.assign_on_entry]

    async def _assign_rounds(self, envelope: Envelope, season_id: str, entry_id: str, credit_code: str,
                             recommender_id: str | None, stages: list[str]) -> bool:
        recorded_any = False
        for stage in stages:
            recorded_any = await self._assign(envelope, season_id, entry_id, credit_code, recommender_id, stage) \
                or recorded_any
        return recorded_any

    async def _assign(self, envelope: Envelope, season_id: str, entry_id: str, credit_code: str,
                      recommender_id: str | None, stage: str) -> bool:
        aggregate_id = assignment_id(season_id, entry_id, stage)
        if await self.read_model.assignment(aggregate_id) is not None:
            return False  # assigned and applied before
        await self._facts_current()
        entry = EntryToAssign(
            season_id=season_id, entry_id=entry_id, stage=stage, credit_code=credit_code,
            recommender_id=recommender_id,
            unit_names=await self.read_model.unit_names(season_id, credit_code),
            recommendation_certificates=await self.read_model.recommendation_certificates(season_id, entry_id),
        )
        choice = await self._choose(entry)
        envelopes, recorded = await asyncio.to_thread(
            self.recorder.open, entry, choice, self._context(envelope), envelope.organizer
        )
        await self._apply_all(envelopes)
        if recorded:
            self._count(envelopes)
        if recorded and choice.blocked:
            log.warning("assignment of %s for %s blocked: %s", entry_id, stage, choice.message())
        return recorded

    async def judge_registered(self, envelope: Envelope, judge: JudgeRegistered) -> bool:
        """A new judge may unblock the season's blocked assignments: try each again."""
        blocked = await self.read_model.blocked(judge.season_id)
        if not blocked:
            return False
        await self._facts_current()
        judges = await self.read_model.judges(judge.season_id)
        season = await self.read_model.season(judge.season_id)
        unblocked = False
        for document in blocked:
            aggregate = await asyncio.to_thread(self.recorder.load, UUID(document["_id"]))
            names = await self.read_model.unit_names(aggregate.season_id, aggregate.credit_code)
            certificates = await self.read_model.recommendation_certificates(aggregate.season_id, aggregate.entry_id)
            stage_loads = await self.loads.get(aggregate.season_id, aggregate.stage)
            k = judges_per_entry(season, aggregate.stage, self.settings.judges_per_entry)

            def choice_for(current: Assignment, names=names, loads=stage_loads, k=k,  # noqa: ANN001
                           certificates=certificates) -> tuple[EntryToAssign, Choice]:  # noqa: ANN001
                entry = current.entry(names, certificates)
                return entry, choose_judges(entry, judges, loads, k)

            envelopes, recorded = await asyncio.to_thread(
                self.recorder.assign_blocked, aggregate.id, choice_for, self._context(envelope), envelope.organizer
            )
            await self._apply_all(envelopes)
            if recorded:
                self._count(envelopes)
            unblocked = unblocked or recorded
        return unblocked

    async def _choose(self, entry: EntryToAssign) -> Choice:
        season = await self.read_model.season(entry.season_id)
        k = judges_per_entry(season, entry.stage, self.settings.judges_per_entry)
        judges = await self.read_model.judges(entry.season_id)
        loads = await self.loads.get(entry.season_id, entry.stage)
        return choose_judges(entry, judges, loads, k)

    async def _facts_current(self) -> None:
        if self.catch_up is not None:
            await self.catch_up.wait(timeout=self.settings.catch_up_timeout_seconds)

    async def _apply_all(self, envelopes: list[Envelope]) -> None:
        for item in envelopes:
            await self.read_model.apply(item, parse_payload(item.type, item.schema_version, item.payload))

    def _count(self, envelopes: list[Envelope]) -> None:
        """This worker's new assignments, added to its loads until the next count."""
        for item in envelopes:
            if item.type == "JudgesAssigned":
                self.loads.add(item.payload["season_id"], item.payload["stage"], item.payload["judge_ids"])

    @staticmethod
    def _context(cause: Envelope) -> CommandContext:
        """The assigner acts for the platform, under the trace of the event that caused it."""
        org = cause.organizer or (cause.season_id or "review").split("-", 1)[0]
        return CommandContext(Actor(id=ASSIGNER, role=Role.SYSTEM, org=org), Channel.SYSTEM, trace_id=cause.trace_id)


def assignment_process() -> ProcessDefinition:
    """Review's assignment process manager, as its workers run it."""

    def build(context: ProcessContext) -> AssignmentProcess:
        settings = AssignmentSettings()
        catch_up = CatchUp(
            context.settings.kafka_bootstrap,
            context.settings.consumer_group,
            [context.settings.topic("registration.events")],
            fresh_for=settings.catch_up_fresh_for_seconds,
            security=kafka_security(context.settings),
        )
        return AssignmentProcess(
            application=context.application,
            read_model=AssignmentReadModel(context.database),
            settings=settings,
            catch_up=catch_up,
        )

    return ProcessDefinition(name="assignment", consumes=["review.events", "registration.events"], build_handler=build)
