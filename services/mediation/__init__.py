"""Social mediation's agency service: its units' reports, its feed, its confidential case
notes."""
