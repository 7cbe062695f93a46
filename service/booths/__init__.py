"""Outreach booths (出張申請受付): schedules, booth sessions, offline cases synced once (docs/booths.md)."""
