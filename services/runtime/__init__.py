"""Plumbing every service shares: settings, logging, tracing, the NATS broker."""
