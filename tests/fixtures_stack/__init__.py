"""Stand-in services for the supervisor's and the stack's tests."""
