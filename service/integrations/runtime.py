"""What integrations need at run time: the adapters and the outbox worker, built and owned by the app lifespan."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.config import Environment, Settings
from service.integrations.jlis import JlisAdapter, JlisSimulator
from service.integrations.jlis_job import JlisJob, JlisSubmissionEffect
from service.integrations.resident import ResidentRecordAdapter, ResidentRegistrySimulator
from service.kit.egress import EgressPolicy, Resolver, SystemResolver
from service.kit.egress_http import PinnedTransport
from service.outbox.secretbox import SecretBox
from service.outbox.sender import WebhookSender
from service.outbox.service import RetryPolicy
from service.outbox.worker import Job, OutboxWorker


def worker_enabled(settings: Settings) -> bool:
    """Whether this process runs the outbox worker."""
    if settings.outbox_worker == "auto":
        return settings.environment is not Environment.test
    return settings.outbox_worker == "on"


def jlis_adapter_for(settings: Settings) -> JlisAdapter | None:
    """The configured J-LIS adapter; the simulator never in production."""
    choice = settings.jlis_adapter
    if choice == "auto":
        choice = "simulator" if settings.environment is Environment.development else "off"
    if choice == "off":
        return None
    if settings.environment is Environment.production:
        raise RuntimeError("HUB_JLIS_ADAPTER=simulator is refused in production")
    return JlisSimulator(dt.timedelta(seconds=settings.jlis_simulator_production_seconds))


def resident_adapter_for(settings: Settings) -> ResidentRecordAdapter | None:
    """The configured resident-record adapter; the simulator never in production."""
    choice = settings.resident_check_adapter
    if choice == "auto":
        choice = "off" if settings.environment is Environment.production else "simulator"
    if choice == "off":
        return None
    if settings.environment is Environment.production:
        raise RuntimeError("HUB_RESIDENT_CHECK_ADAPTER=simulator is refused in production")
    if settings.resident_simulator_file is not None:
        return ResidentRegistrySimulator.from_file(settings.resident_simulator_file)
    return ResidentRegistrySimulator()


def retry_policy(settings: Settings) -> RetryPolicy:
    """Webhook retries from settings."""
    return RetryPolicy(
        base=dt.timedelta(seconds=settings.webhook_retry_base_seconds),
        cap=dt.timedelta(seconds=settings.webhook_retry_max_seconds),
        horizon=dt.timedelta(seconds=settings.webhook_retry_horizon_seconds),
    )


@dataclass
class IntegrationsRuntime:
    """Adapters and the worker of one app; `stop()` ends the worker and closes its HTTP client."""

    box: SecretBox
    egress: EgressPolicy
    worker: OutboxWorker
    http: httpx.AsyncClient
    jlis: JlisAdapter | None
    resident: ResidentRecordAdapter | None
    running: bool = False

    @classmethod
    def build(
        cls,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        resolver: Resolver | None = None,
    ) -> IntegrationsRuntime:
        """Wire adapters, sender and worker from settings (a test may pass an httpx transport or a resolver)."""
        if settings.outbox_lease_seconds <= settings.webhook_timeout_seconds:
            raise RuntimeError("HUB_OUTBOX_LEASE_SECONDS must exceed HUB_WEBHOOK_TIMEOUT_SECONDS")
        box = SecretBox(settings.secret_key.get_secret_value())
        egress = EgressPolicy(
            settings.webhook_allowed, resolver or SystemResolver(settings.webhook_timeout_seconds)
        )
        # Redirects are not followed (a 3xx is a failed attempt): the checked URL is the only one requested.
        http = httpx.AsyncClient(
            timeout=settings.webhook_timeout_seconds,
            follow_redirects=False,
            trust_env=False,
            transport=transport or PinnedTransport(egress),
        )
        jlis = jlis_adapter_for(settings)
        jobs: list[Job] = []
        effects = []
        if jlis is not None:
            effects.append(JlisSubmissionEffect())
            jobs.append(
                JlisJob(
                    sessionmaker,
                    jlis,
                    poll=dt.timedelta(seconds=settings.jlis_poll_seconds),
                    lease=dt.timedelta(seconds=settings.outbox_lease_seconds),
                    settings=settings,
                )
            )
        worker = OutboxWorker(
            sessionmaker,
            sender=WebhookSender(http),
            box=box,
            policy=retry_policy(settings),
            poll_seconds=settings.outbox_poll_seconds,
            lease_seconds=settings.outbox_lease_seconds,
            batch_size=settings.outbox_batch_size,
            concurrency=settings.webhook_concurrency,
            effects=effects,
            jobs=jobs,
        )
        return cls(box, egress, worker, http, jlis, resident_adapter_for(settings))

    @classmethod
    def start(cls, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]) -> IntegrationsRuntime:
        """Build, and start the worker when this process runs one."""
        runtime = cls.build(settings, sessionmaker)
        if worker_enabled(settings):
            runtime.worker.start()
            runtime.running = True
        return runtime

    async def stop(self) -> None:
        """Stop the worker and close the HTTP client."""
        await self.worker.stop()
        await self.http.aclose()
