"""Stats' audit: the journal of every envelope received, an entry's history, its state as of an instant, digests."""
