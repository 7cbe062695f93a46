"""Operational metrics of the hub (Prometheus): counts, ages and latencies — never a person's data."""
