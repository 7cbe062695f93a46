"""The counter's local web UI (clerk and applicant screens)."""
