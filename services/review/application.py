"""Review's write model: the event store that recommendations, scores and publications are recorded in."""

from __future__ import annotations

from infra.eventstore import EventStoreApplication


class ReviewApplication(EventStoreApplication):
    """Recommendations, scores and results; its commands arrive with the review capability."""
