"""Deployment material; `deploy.cluster` is the production-shaped cluster on one machine."""
