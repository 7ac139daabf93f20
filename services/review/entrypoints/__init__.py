"""Review's entrypoints: HTTP and messaging."""
