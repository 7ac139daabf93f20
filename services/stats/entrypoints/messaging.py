"""Stats' messaging: every producing service's topic."""

CONSUMED_TOPICS = ["registration.events", "submission.events", "review.events"]
