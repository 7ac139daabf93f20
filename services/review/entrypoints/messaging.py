"""Review's messaging: it consumes registration's and submission's events, and its own."""

CONSUMED_TOPICS = ["registration.events", "submission.events", "review.events"]
