"""Registration's adapters: its MongoDB read model."""
