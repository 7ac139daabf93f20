"""Registration's entrypoints: HTTP and messaging."""
