"""Tamper-evident audit trail: hash-chained, append-only, no personal data."""
