"""The event catalogue: frozen past-tense payloads, a discriminated union on `type`."""
