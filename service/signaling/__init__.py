"""Signaling (シグナリング) of the live link: tickets, rooms per case, relay across hub replicas, TURN credentials."""
