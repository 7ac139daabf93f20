"""Stats writes nothing: its reports are projections of the whole event log."""
