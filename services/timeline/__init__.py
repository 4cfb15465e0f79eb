"""The timeline service: projects the timeline streams into PostgreSQL, idempotently, with its
checkpoint in the same transaction, so the crisis cell can query and replay it."""
