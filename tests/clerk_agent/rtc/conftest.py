"""Fixtures of the in-process RTC tests."""

from tests.clerk_agent.rtc._call import call

__all__ = ["call"]
