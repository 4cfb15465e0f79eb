"""Interforces contracts: the only code every service shares.

Envelope (CloudEvents 1.0), event catalogue, operation charter, NATS subjects and the
vocabulary of the perimeter (agencies, categories, reason codes).
"""
