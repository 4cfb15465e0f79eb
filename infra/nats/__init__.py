"""nats-server configurations of the deployed shape."""
