"""Accounts, roles, sessions, clerk-agent devices and integration clients."""
