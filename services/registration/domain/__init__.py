"""Registration's domain: seasons and the units registered for them."""
