"""One production-shaped cluster (deploy/cluster) for the whole session: PostgreSQL, two replicas, HAProxy, coturn.

Each fault test leaves it as it found it: every replica running and UP in HAProxy, PostgreSQL running.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from deploy.cluster import Cluster
from service.config import Environment, Settings
from service.db import create_engine, create_sessionmaker
from tests._services import missing_service

# Quick outbox retries, so a delivery claimed by a killed replica is retried within seconds, not a minute.
CLUSTER_ENV = {
    "HUB_JLIS_ADAPTER": "off",
    "HUB_OUTBOX_POLL_SECONDS": "0.2",
    "HUB_OUTBOX_LEASE_SECONDS": "6",
    # Long enough that a delivery stalled at the receiver is still on the wire when the test looks for its sender.
    "HUB_WEBHOOK_TIMEOUT_SECONDS": "5",
    "HUB_WEBHOOK_RETRY_BASE_SECONDS": "0.1",
    "HUB_WEBHOOK_RETRY_MAX_SECONDS": "1",
    "HUB_WEBHOOK_ALLOWED_DESTINATIONS": '["127.0.0.1"]',  # the tests' receiver listens on loopback
    "HUB_OFFICER_WRAPUP_SECONDS": "0",
    "HUB_SIGNALING_RESUME_GRACE_SECONDS": "20",
}


@pytest.fixture(scope="session")
def cluster_pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A `hub dev-pki` directory shared by the replicas and the virtual card."""
    from service.cardproof.devpki import main as devpki_main

    out = tmp_path_factory.mktemp("cluster-pki")
    assert devpki_main(["--out", str(out), "--force"]) == 0
    return out


@pytest.fixture(scope="session")
def cluster(cluster_pki: Path) -> Iterator[Cluster]:
    """The session's cluster, started once (about half a minute on a loaded machine)."""
    if shutil.which("haproxy") is None:
        missing_service("haproxy (deploy/system-deps.sh)")
    if shutil.which("turnserver") is None:
        missing_service("coturn (deploy/system-deps.sh)")
    with Cluster(replicas=2, dev_pki_dir=cluster_pki, extra_env=CLUSTER_ENV, turn=True) as running:
        yield running


@pytest.fixture
def healthy(cluster: Cluster) -> Iterator[Cluster]:
    """The cluster, all parts running before and again after the test (a failed test must not break the next)."""
    yield cluster
    if cluster.postgres.pid() is None:
        cluster.start_postgres()
    for replica in cluster.nodes:
        cluster.start_replica(replica.name)


@pytest.fixture
async def sessionmaker(cluster: Cluster) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Direct sessions on the cluster's database (for tenants and for checking what was kept)."""
    engine = create_engine(cluster.database_url)
    try:
        yield create_sessionmaker(engine)
    finally:
        await engine.dispose()


@pytest.fixture
def seed_settings(cluster: Cluster, tmp_path: Path) -> Settings:
    """Settings for the factories that write tenants straight into the cluster's database."""
    return Settings(
        environment=Environment.test, database_url=cluster.database_url, data_dir=tmp_path / "seed"
    )
