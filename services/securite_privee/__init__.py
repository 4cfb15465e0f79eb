"""Private security's agency service: its units' reports and its feed (its own site only)."""
