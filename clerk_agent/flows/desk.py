"""The counter desk every step shares: the current case, the message on the screens, the queue of hub writes.

The card, camera and counter flows all build on it and import it; it imports none of them, so the flows
import in one direction (tests/clerk_agent/test_agent_contract.py): the steps return what they found, and the
counter flow (counter.py) decides what follows.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid
from collections.abc import Awaitable

from clerk_agent.errors import LinkError
from clerk_agent.flows.case import CounterCase, current_step
from clerk_agent.flows.writes import HubWrites
from clerk_agent.link.client import HubClient, HubWrite
from clerk_agent.link.hub import HubLink, HubRefused
from clerk_agent.link.store import LocalStore

logger = logging.getLogger(__name__)


class Desk:
    """The current case and its screens' message, the hub client and the durable write queue."""

    def __init__(self, link: HubLink, store: LocalStore) -> None:
        self.link = link
        self.client = HubClient(link)
        self.store = store
        self.writes = HubWrites(self.client, store)
        self.case: CounterCase | None = None
        self._notice: str | None = None
        self._notice_at: tuple[str | None, str] = (None, "procedure")
        self.problem_code = ""  # the hub's problem code behind a `hub_refused` notice
        self._tasks: set[asyncio.Task[None]] = set()

    # --- the message on the screens -------------------------------------------------------------

    @property
    def notice(self) -> str | None:
        """The message for the current step; one set at another step or for another case is gone."""
        if self._notice is not None and self._notice_at != self._where():
            self._notice, self.problem_code = None, ""
        return self._notice

    @notice.setter
    def notice(self, value: str | None) -> None:
        self._notice, self._notice_at = value, self._where()
        if value is None:
            self.problem_code = ""

    def _where(self) -> tuple[str | None, str]:
        return (self.case.local_id if self.case else None, self.current_step())

    def refused(self, exc: HubRefused) -> None:
        """Show why the hub refused a step (a repeated action the hub already applied is not an error)."""
        # An action the hub already applied before a lost answer comes back as a wrong-state 409: nothing to do.
        if exc.status == 409 and exc.problem_code == "invalid_transition":
            logger.info("hub already past this step (%s)", exc.problem_code)
            return
        self.notice = (
            "hub_refused"  # shown with the problem code's own wording (clerk_agent/wording/problems.py)
        )
        self.problem_code = exc.problem_code
        logger.warning("hub refused a counter write: %s", exc.problem_code)

    # --- the case and its writes -------------------------------------------------------------------

    def require_case(self) -> CounterCase:
        """The current case; LookupError (a 409 to the UI) when there is none."""
        if self.case is None:
            raise LookupError("no case at the counter")
        return self.case

    def current_step(self) -> str:
        """Where the progress bar stands."""
        return current_step(self.case)

    async def save(self) -> None:
        """Store the local record of the current case."""
        if self.case is not None:
            await self.store.save_case(
                self.case.local_id, dataclasses.asdict(self.case), finished=self.case.finished
            )

    async def enqueue(self, request: HubWrite, key: str | None = None) -> None:
        """Queue a write for the current case, after those already queued."""
        # Every write is keyed, so a resend after a lost answer gets the first answer back, applied once.
        await self.writes.add(self.require_case().local_id, request, key or f"agent-{uuid.uuid4()}")

    async def settle(self, timeout_s: float = 30.0) -> None:
        """Wait until every queued hub write has been answered (tests, and before a new case)."""
        await self.writes.settle(timeout_s)

    async def case_id(self, *, settled: bool) -> str | None:
        """The hub's id of the current case, once its create is answered (None if the hub refused it).

        `settled`: wait for every write queued so far to be answered, so the create's own follow-ups (check-in)
        are queued before what the caller queues next.
        """
        case = self.require_case()
        if settled or case.case_id is None:
            await self.settle(timeout_s=3600)  # the create must be answered before its id is known
        return case.case_id

    def spawn(self, work: Awaitable[None]) -> None:
        """Run a queued action without holding the clerk's HTTP request; kept until done (owned here)."""

        async def guarded() -> None:
            try:
                await work
            except LinkError as exc:
                self.notice = exc.code

        task = asyncio.create_task(guarded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def cancel_tasks(self) -> None:
        """Cancel the spawned actions still running (on stop)."""
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
