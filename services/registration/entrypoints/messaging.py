"""Registration's messaging: its own topic feeds its own read model."""

CONSUMED_TOPICS = ["registration.events"]
