"""Submission's adapters: its MongoDB read model."""
