"""The agency kit: what the five agency services share (each adds only its private part)."""
