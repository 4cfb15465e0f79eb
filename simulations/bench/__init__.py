"""Benchmarks: measurements, not tests (they report figures and never fail on a slow run)."""
