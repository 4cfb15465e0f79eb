"""Police nationale's agency service: its units' reports, its feed, the receipts of its
identity checks."""
