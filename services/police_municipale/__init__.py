"""Police municipale's agency service: its units' reports and its feed."""
