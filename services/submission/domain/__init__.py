"""Submission's domain: entries (成果 / 班组经验), unit confirmations, statistics tables."""
