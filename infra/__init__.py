"""Deployment-side definitions: JetStream streams, SQL migrations, charters, server configs."""
