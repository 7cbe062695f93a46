"""Transactional outbox: events written with the state change, signed webhooks sent after commit."""
