"""Submission's entrypoints: HTTP and messaging."""
