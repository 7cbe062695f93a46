"""Booth mode (出張申請受付): the officer's laptop at a post-office lobby, working offline (docs/booths.md)."""
