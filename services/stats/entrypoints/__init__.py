"""Stats' entrypoints: HTTP and messaging."""
