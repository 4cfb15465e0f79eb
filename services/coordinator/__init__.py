"""The coordinator: decides every proposal against the operation charter."""
