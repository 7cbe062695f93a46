"""The outbox worker: a background task owned by the app's lifespan that fans out events and sends webhooks."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from service.db import database_unavailable, unit_of_work
from service.kit import clock
from service.kit.hashing import canonical_json
from service.kit.ids import random_id
from service.outbox import repository, service, wakeup
from service.outbox.secretbox import SecretBox, SecretBoxError
from service.outbox.sender import Attempt, DeliveryError, Outcome, WebhookSender

log = logging.getLogger(__name__)


class Job(Protocol):
    """Periodic outbox work besides webhooks (e.g. J-LIS submission and production polling)."""

    async def run_due(self, owner: str) -> int:
        """Do whatever is due; returns how much was done."""
        ...

    async def next_due_at(self) -> dt.datetime | None:
        """When something will next be due, if known."""
        ...


class OutboxWorker:
    """Fans out events, sends due deliveries under a lease, runs jobs; sleeps until woken or the next due time."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        sender: WebhookSender,
        box: SecretBox,
        policy: service.RetryPolicy,
        poll_seconds: float,
        lease_seconds: float,
        batch_size: int = 50,
        concurrency: int = 8,
        effects: Sequence[service.EventEffect] = (),
        jobs: Sequence[Job] = (),
    ) -> None:
        self._sessionmaker = sessionmaker
        self._sender = sender
        self._box = box
        self._policy = policy
        self._poll = poll_seconds
        self._lease = dt.timedelta(seconds=lease_seconds)
        self._batch = batch_size
        self._limit = asyncio.Semaphore(concurrency)
        self._effects = list(effects)
        self._jobs = list(jobs)
        # Each process claims under its own name, so a lease tells which process holds a delivery.
        self.owner = random_id("worker")
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._kept: AsyncConnection | None = None  # the delivery stage's own connection, see _delivery_unit
        self._kept_busy = False
        self._kept_failed = (
            False  # the last delivery transaction failed on a connection kept from an earlier pass
        )

    def start(self) -> None:
        """Start the background task (idempotent)."""
        if self._task is not None:
            return
        self._loop = asyncio.get_running_loop()
        wakeup.subscribe(self.wake)
        self._task = asyncio.create_task(self._run(), name=f"outbox-worker-{self.owner}")

    async def stop(self) -> None:
        """Cancel the task and wait for it; leases of interrupted sends expire and another pass retries them."""
        wakeup.unsubscribe(self.wake)
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._drop_kept()

    async def _drop_kept(self) -> None:
        kept, self._kept = self._kept, None
        if kept is not None:
            with contextlib.suppress(Exception):
                await kept.close()

    @contextlib.asynccontextmanager
    async def _delivery_unit(self) -> AsyncIterator[AsyncSession]:
        """The delivery stage's transaction, on a connection this worker keeps between passes.

        A checkout from the pool pings the server first (pool_pre_ping; on asyncpg BEGIN, a statement and ROLLBACK,
        three round trips and ~0.3 ms of CPU) — on every pass, between an event's commit and its request (#18). The
        kept connection is pinged once, when it is taken from the pool; a pass that fails on it (the server
        restarted, say) drops it, and _deliver runs once more on a fresh, pinged one. Another pass running at the
        same time (a test calling run_once beside the task) uses the pool as before.
        """
        bind = self._sessionmaker.kw.get("bind")
        if self._kept_busy or not isinstance(bind, AsyncEngine):
            async with unit_of_work(self._sessionmaker) as session:
                yield session
            return
        self._kept_busy = True
        self._kept_failed = False
        earlier = self._kept is not None
        try:
            if self._kept is None:
                self._kept = await bind.connect()
            session = AsyncSession(bind=self._kept, expire_on_commit=False, autoflush=False)
            try:
                yield session
                await session.commit()
            except BaseException:
                self._kept_failed = earlier
                with contextlib.suppress(Exception):
                    await session.rollback()
                await self._drop_kept()
                raise
            finally:
                await session.close()
        finally:
            self._kept_busy = False

    def wake(self) -> None:
        """Run a pass now (callable from any thread)."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake.set)

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                done = await self.run_once()
            except Exception:
                log.exception("outbox pass failed; retrying after the poll interval")
                done = 0
                await asyncio.sleep(self._poll)
            # A pass that filled its batch may have left more; otherwise the idle look below finds what is due
            # (a delivery freed by its predecessor's success is due now). A second full pass here cost one more
            # transaction before the worker listened again, and a commit in that window waited for it (#18).
            if done >= self._batch or self._wake.is_set():
                continue
            timeout = await self._idle_seconds()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    async def _idle_seconds(self) -> float:
        try:
            async with unit_of_work(self._sessionmaker) as session:
                if await repository.has_undispatched(session):
                    return 0.0
                due = [await repository.next_due_at(session)]
            due += [await job.next_due_at() for job in self._jobs]
        except Exception:
            log.exception("outbox: could not read the next due time")
            return self._poll
        known = [d for d in due if d is not None]
        if not known:
            return self._poll
        wait = (min(known) - clock.now()).total_seconds()
        return min(self._poll, max(wait, 0.005))

    async def run_once(self) -> int:
        """One pass: fan out and send due deliveries, run jobs; returns how much was done.

        Each stage fails alone: a failed delivery stage does not skip the jobs (J-LIS), nor one job the next.
        """
        done = 0
        try:
            done += await self._deliver()
        except Exception:
            log.exception("outbox: the delivery stage failed; jobs still run")
        for job in self._jobs:
            try:
                done += await job.run_due(self.owner)
            except Exception:
                log.exception("outbox: job %s failed", type(job).__name__)
        return done

    async def _deliver(self) -> int:
        try:
            return await self._deliver_once()
        except Exception as exc:
            if not (self._kept_failed and database_unavailable(exc)):
                raise
        # The kept connection died since the last pass (a database restart): what a pool checkout's ping would
        # have caught. Once more at once, on a fresh connection, rather than after the poll interval.
        log.info("outbox: the kept database connection was gone; the pass runs again on a fresh one")
        return await self._deliver_once()

    async def _deliver_once(self) -> int:
        # One transaction fans out new events and leases what is due (the new deliveries included): one commit
        # between an event's commit and its request, not two.
        async with self._delivery_unit() as session:
            fan_out = await service.dispatch(session, limit=self._batch, effects=self._effects)
            now = clock.now()
            rows = await repository.claim_deliveries(
                session,
                now=now,
                limit=self._batch,
                owner=self.owner,
                lease_until=now + self._lease,
                fresh=fan_out.deliveries,
            )
            attempts: list[Attempt | tuple[str, DeliveryError]] = []
            for delivery, sub, event in rows:
                try:
                    secret = self._box.open(sub.secret_ciphertext, sub.id)
                    attempts.append(
                        Attempt(
                            delivery_id=delivery.id,
                            attempt=delivery.attempts + 1,
                            url=sub.url,
                            secret=secret,
                            event_id=event.event_id,
                            event_type=event.event_type,
                            body=canonical_json(event.payload),
                        )
                    )
                except SecretBoxError:
                    attempts.append((delivery.id, DeliveryError.secret_unreadable))
                except Exception:
                    # Failing the transaction here would roll back every lease and repeat on every pass.
                    log.exception("outbox: could not prepare delivery %s", delivery.id)
                    attempts.append((delivery.id, DeliveryError.internal))
        # The lease is committed before any request leaves: no transaction is open while we wait on a receiver.
        # _attempt never raises, so one delivery's failure cannot cancel its siblings in the group.
        async with asyncio.TaskGroup() as group:
            for attempt in attempts:
                group.create_task(self._attempt(attempt))
        return fan_out.events + len(attempts)

    async def _attempt(self, attempt: Attempt | tuple[str, DeliveryError]) -> None:
        if isinstance(attempt, Attempt):
            delivery_id = attempt.delivery_id
            try:
                async with self._limit:
                    outcome = await self._sender.send(attempt, timestamp=int(clock.now().timestamp()))
            except Exception:
                log.exception("outbox: sending delivery %s failed unexpectedly", delivery_id)
                outcome = Outcome(None, DeliveryError.unreachable)
        else:
            delivery_id, error = attempt
            outcome = Outcome(None, error)
        try:
            async with unit_of_work(self._sessionmaker) as session:
                await service.finish_delivery(
                    session,
                    delivery_id=delivery_id,
                    owner=self.owner,
                    status_code=outcome.status_code,
                    error=outcome.error,
                    policy=self._policy,
                )
        except Exception:
            # The lease runs out and the delivery is tried again: at least once, never lost.
            log.exception("outbox: could not record the outcome of delivery %s", delivery_id)
