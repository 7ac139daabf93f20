"""Submission's write model: the event store that entries, confirmations and statistics are recorded in."""

from __future__ import annotations

from infra.eventstore import EventStoreApplication


class SubmissionApplication(EventStoreApplication):
    """Entries and statistics tables; its commands arrive with the submission capability."""
