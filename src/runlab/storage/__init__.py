"""runlab.storage."""
