"""Review's service layer, one module per part of the process; `ReviewApplication` composes them over one event store.

Synchronous (the `eventsourcing` application); the HTTP layer runs it off the event loop and hands each use case a
command (`commands.py`) with what review's projection knows of the season, the entry, the recommending unit and the
judges. What review itself decided (recommendations, assignments, scores, grades) is read from its event store, so
every rule sees the latest state; the rules of an entry's state are its aggregate's (`EntryReview`, `Score`,
`JudgeRound`). A retried command with the same Idempotency-Key returns the first result.
"""

from __future__ import annotations

from services.review.application import commands
from services.review.application.formal_review import FormalReview
from services.review.application.national import National
from services.review.application.objections import Objections
from services.review.application.provincial import ProvincialRecords
from services.review.application.recommendation import Recommendation
from services.review.application.results import Results
from services.review.application.rounds import Rounds
from services.review.application.scoring import Scoring


class ReviewApplication(Recommendation, FormalReview, Scoring, Rounds, Results, Objections, National, ProvincialRecords):
    """Recommendations, formal review, scores, grades and results, stored as events in one store."""


__all__ = ["ReviewApplication", "commands"]
