"""Stats' adapters: its MongoDB projections."""
