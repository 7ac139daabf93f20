"""Submission's messaging: it learns seasons, windows and registered units from registration's events."""

CONSUMED_TOPICS = ["registration.events", "submission.events"]
