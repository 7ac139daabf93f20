"""Review's adapters: its MongoDB read model."""
