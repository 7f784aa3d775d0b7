"""xlingual.losses."""
