"""Idempotency-Key support for creating POSTs."""
