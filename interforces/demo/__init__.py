"""The main job: a festival evening played through the running system, then its summary."""
