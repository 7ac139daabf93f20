"""Shared infrastructure every service imports: settings, auth, event store, relay, projections, metrics."""
