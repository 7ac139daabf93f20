"""取消推荐资格 in review: when the organizer cancels a recommending unit (RecommenderCancelled on
registration.events), its recommendations are withdrawn by compensating events.

A process manager with its own consumer group (`review.cancellation`, dead letters to
`review.cancellation.dlq`). For the cancelled unit it records, in one transaction of review's event store:
- `RecommendationWithdrawn` (推荐无效) on each entry it recommended that is not yet published or already
  withdrawn, with the reason and the id of the cancellation event: the entry's review ends there;
- its slate (the bookkeeping of its quota) emptied of those entries, so their quota is freed, and closed,
  so a recommendation that reaches review after the cancellation is refused even before review's
  projection learns of it (`recommendation.recommender.cancelled`).
Handling the same cancellation again finds the slate closed and records nothing; two workers handling it at
once collide on the slate's version in the event store, and the second finds it closed. Published results
stay: a published certificate is not revoked here (see the README).
"""

from __future__ import annotations

import asyncio
import logging
from typing import cast

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError
from pydantic import BaseModel

from contracts import Actor, Envelope
from contracts.codes import Channel, Role
from contracts.recommended import RecommendationWithdrawn
from contracts.registered import RecommenderCancelled
from infra.bootstrap import ProcessContext, ProcessDefinition
from infra.eventstore import CommandContext, EventStoreApplication, stamp
from services.review.domain.entry_review import EntryReview, ReviewProgress, entry_review_id
from services.review.domain.quota import RecommenderSlate, slate_id

log = logging.getLogger(__name__)

WITHDRAWER = "review.cancellation"
STAYS = (ReviewProgress.PUBLISHED, ReviewProgress.RESULT_WITHDRAWN, ReviewProgress.REVOKED, ReviewProgress.WITHDRAWN)
ATTEMPTS = 5


def withdraw_recommendations(
    application: EventStoreApplication, cancelled: RecommenderCancelled, cause: Envelope, context: CommandContext
) -> list[str]:
    """Withdraw the cancelled unit's recommendations and close its slate; the entries withdrawn (none when done before)."""
    for _ in range(ATTEMPTS):
        try:
            return _withdraw_once(application, cancelled, cause, context)
        except IntegrityError:
            continue  # another worker (or a recommendation) saved the slate meanwhile: read it again
    raise RuntimeError(f"could not withdraw the recommendations of {cancelled.recommender_id}: the slate kept changing")


def _withdraw_once(
    application: EventStoreApplication, cancelled: RecommenderCancelled, cause: Envelope, context: CommandContext
) -> list[str]:
    season_id, recommender_id = cancelled.season_id, cancelled.recommender_id
    aggregate_id = slate_id(season_id, recommender_id)
    slate: RecommenderSlate = (
        application.repository.get(aggregate_id) if aggregate_id in application.repository
        else RecommenderSlate(season_id, recommender_id)
    )
    if slate.closed:
        return []
    changed: list[Aggregate] = []
    for entry_id in sorted(slate.active):
        review: EntryReview = application.repository.get(entry_review_id(season_id, entry_id))
        if review.progress in STAYS:
            continue
        payload = RecommendationWithdrawn(
            season_id=season_id, entry_id=entry_id, recommender_id=recommender_id, reason=cancelled.reason,
            previous_progress=review.progress.value if review.progress else "recommended",
            cause_event_id=str(cause.event_id),
        )
        review.withdraw_recommendation(**stamp(payload, context, season_id=season_id, organizer=cause.organizer))
        slate.remove(entry_id)
        changed.append(review)
    slate.close(cancelled.reason)
    application.save(slate, *changed)
    return [cast(EntryReview, item).entry_id for item in changed]


class CancellationProcess:
    """The handler of review's `cancellation` consumer group (see the module's docstring)."""

    def __init__(self, application: EventStoreApplication | None) -> None:
        self.application = application

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def apply(self, envelope: Envelope, payload: BaseModel) -> bool:
        if envelope.type != "RecommenderCancelled":
            return False
        if self.application is None:
            raise RuntimeError("the cancellation process needs review's event store")
        cancelled = cast(RecommenderCancelled, payload)
        withdrawn = await asyncio.to_thread(
            withdraw_recommendations, self.application, cancelled, envelope, self._context(envelope)
        )
        if withdrawn:
            log.info("recommendations of %s withdrawn: %s", cancelled.recommender_id, ", ".join(withdrawn))
        return bool(withdrawn)

    @staticmethod
    def _context(cause: Envelope) -> CommandContext:
        """The platform acts on the organizer's cancellation, under its trace."""
        org = cause.organizer or (cause.season_id or "review").split("-", 1)[0]
        return CommandContext(Actor(id=WITHDRAWER, role=Role.SYSTEM, org=org), Channel.SYSTEM, trace_id=cause.trace_id)


def cancellation_process() -> ProcessDefinition:
    """Review's cancellation process manager, as its workers run it."""

    def build(context: ProcessContext) -> CancellationProcess:
        return CancellationProcess(context.application)

    return ProcessDefinition(name="cancellation", consumes=["registration.events"], build_handler=build)
