"""Hub settings (`HUB_` environment variables); defaults run the embedded single node."""

from __future__ import annotations

import os
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from service.kit.egress import AllowedDestinations

_PLACEHOLDERS = {"", "changeme", "change-me", "secret", "development-only-secret"}
# The deployment examples (deploy/) mark every value to fill in with this prefix.
_EXAMPLE_PLACEHOLDER_PREFIX = "replace_with"


class Environment(StrEnum):
    development = "development"
    test = "test"
    production = "production"


class IceServerSetting(BaseModel):
    """One STUN/TURN server of HUB_ICE_SERVERS; a TURN entry without credentials gets minted ones (HUB_TURN_SECRET)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    urls: list[str] = Field(min_length=1, max_length=8)
    username: str | None = None
    credential: str | None = None


class Settings(BaseSettings):
    """Every hub setting; see the README's configuration table."""

    model_config = SettingsConfigDict(env_prefix="HUB_", extra="ignore")

    environment: Environment = Environment.development
    data_dir: Path = Path("var/hub")
    # Empty means the embedded SQLite file in data_dir.
    database_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8300
    # The origin the console and agents reach the hub at; bound into card-proof nonces.
    public_origin: str = ""
    secret_key: SecretStr = SecretStr("development-only-secret")
    access_token_ttl_seconds: int = Field(default=900, ge=60)
    refresh_token_ttl_seconds: int = Field(default=8 * 3600, ge=300)
    # Per-account backoff (service/accounts/sessions.py): from this many failures in a row on, each failure opens
    # a window of base · 2^(failures − max) seconds, at most login_lockout_seconds, in which unfamiliar addresses
    # are refused.
    login_max_failures: int = Field(default=5, ge=1)
    login_backoff_base_seconds: int = Field(default=30, ge=1)
    login_lockout_seconds: int = Field(default=900, ge=1)
    # Login throttling per client address (token bucket): burst, then this many per minute.
    login_rate_burst: int = Field(default=20, ge=1)
    login_rate_per_minute: float = Field(default=20, gt=0)
    enrolment_code_ttl_seconds: int = Field(default=24 * 3600, ge=60)
    device_clock_skew_seconds: int = Field(default=60, ge=5)
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    # Document stills and the application photo (J-LIS accepts up to 7 MB for a photo).
    max_upload_bytes: int = Field(default=8 * 1_048_576, ge=1024)
    timezone: str = "Asia/Tokyo"
    sqlite_busy_timeout_ms: int = 15_000
    # Key-encryption keys for evidence at rest; development and tests generate one in data_dir when empty.
    kek_file: Path | None = None
    # Production trust anchors: JPKI authentication roots (every generation) and J-LIS card-face issuer keys (PEM).
    jpki_auth_root_files: list[Path] = Field(default_factory=list)
    card_face_issuer_key_files: list[Path] = Field(default_factory=list)
    # A `hub dev-pki` directory: its test roots are honoured only outside production.
    dev_pki_dir: Path | None = None
    # ID-document chip issuers (CSCAs, document roots, CRLs): <dir>/<kind>/*.pem|*.crl (docs/id-documents.md §Anchors).
    chip_anchor_dir: Path | None = None
    card_challenge_ttl_seconds: int = Field(default=300, ge=30, le=900)
    # The municipal document-signing root for certificates (trust/municipal-root.pem, private/municipal-root.key.pem);
    # outside production the dev PKI's or a generated one serves (docs/certificates.md §Signature).
    certificate_signing_dir: Path | None = None
    # The officer queue: how long an offer waits for an answer, the penalty for letting it lapse,
    # wrap-up time after a decision, and when a silent console counts as offline.
    offer_accept_timeout_seconds: int = Field(default=20, ge=3, le=300)
    offer_no_answer_penalty_seconds: int = Field(default=60, ge=0, le=3600)
    officer_wrapup_seconds: int = Field(default=30, ge=0, le=1800)
    presence_stale_seconds: int = Field(default=45, ge=5, le=600)
    queue_tick_seconds: float = Field(default=1.0, gt=0, le=30)
    # TLS of `hub serve` (PEM files); off when unset. Device mTLS (service/accounts/mtls.py): "optional" checks a
    # presented client certificate against X-Device-Id, "required" also refuses device requests without one.
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    tls_client_ca_file: Path | None = None
    device_mtls: Literal["off", "optional", "required"] = "off"
    # Graceful shutdown behind a load balancer (docs/operations.md §Cluster): on SIGTERM /readyz
    # answers 503 for this long while requests are still served, so the balancer's health check takes the replica
    # out first; then the hub stops listening, finishes in-flight requests and closes sockets with 1012 (resume).
    shutdown_drain_seconds: float = Field(default=0.0, ge=0, le=300)
    # Addresses of reverse proxies whose X-Forwarded-For / X-Forwarded-Proto the hub believes (e.g. ["127.0.0.1"]);
    # empty: the peer address is the client's.
    forwarded_allow_ips: list[str] = Field(default_factory=list, max_length=100)
    # The device CA that issues agents' client certificates; outside production generated in data_dir/device-ca.
    device_ca_cert_file: Path | None = None
    device_ca_key_file: Path | None = None
    # Ed25519 key that signs audit checkpoints; outside production one is generated in data_dir when unset.
    audit_signing_key_file: Path | None = None
    audit_checkpoint_interval_seconds: float = Field(default=300, gt=0)
    # Live link (シグナリング) between replicas. "auto": NATS when HUB_SIGNALING_NATS_URL is set, else PostgreSQL
    # LISTEN/NOTIFY when the database is PostgreSQL, else in-process. Past a few thousand offices the PostgreSQL bus
    # runs out (docs/capacity.md §Bus): set a NATS server.
    signaling_bus: Literal["auto", "memory", "postgres", "nats"] = "auto"
    # nats://host:4222 (or tls://); several servers of one cluster comma-separated. A secret when it holds credentials.
    signaling_nats_url: SecretStr = SecretStr("")
    signaling_ticket_ttl_seconds: int = Field(default=30, ge=5, le=300)
    signaling_resume_grace_seconds: float = Field(default=20.0, gt=0, le=300)
    signaling_heartbeat_seconds: float = Field(default=15.0, gt=0, le=300)
    signaling_rate_per_second: float = Field(default=20.0, gt=0)
    signaling_rate_burst: int = Field(default=60, ge=1)
    # Always handed to clients as an explicit list: empty means host candidates only, never a public STUN server.
    ice_servers: list[IceServerSetting] = Field(default_factory=list, max_length=8)
    turn_secret: SecretStr = SecretStr("")
    turn_ttl_seconds: int = Field(default=3600, ge=60)
    signaling_relay_only: bool = False
    # Integrations (issue 7). Outbox worker: "auto" runs it except in the test environment, where tests start
    # their own, so that background writes never race a test's database snapshot.
    outbox_worker: Literal["auto", "on", "off"] = "auto"
    outbox_poll_seconds: float = Field(default=2.0, gt=0, le=300)
    outbox_batch_size: int = Field(default=50, ge=1, le=1000)
    # A sender's claim on a delivery; a crashed sender's deliveries are retried once it runs out.
    outbox_lease_seconds: float = Field(default=60.0, gt=0, le=3600)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    webhook_concurrency: int = Field(default=8, ge=1, le=100)
    # Webhooks go to public unicast addresses only; these networks and host names (each optionally with `:port`)
    # are the operator's exceptions, e.g. ["10.20.0.0/16", "backoffice.city.internal:8443"] (service/kit/egress.py).
    webhook_allowed_destinations: list[str] = Field(default_factory=list, max_length=100)
    webhook_retry_base_seconds: float = Field(default=10.0, gt=0)
    webhook_retry_max_seconds: float = Field(default=3600.0, gt=0)
    webhook_retry_horizon_seconds: float = Field(default=86400.0, gt=0)
    # The retention job deletes finished webhook deliveries and dispatched outbox events older than this
    # (case.finalized events stay: they are the back office's finalized-case feed).
    outbox_retention_days: int = Field(default=30, ge=1)
    # J-LIS gateway: "auto" is the in-repo simulator in development and none in test and production (the back
    # office then reports production through the API).
    jlis_adapter: Literal["auto", "off", "simulator"] = "auto"
    jlis_poll_seconds: float = Field(default=60.0, gt=0)
    jlis_simulator_production_seconds: float = Field(default=300.0, ge=0)
    # Resident-record (住基) lookup: "auto" is the simulator outside production, with records from this file.
    resident_check_adapter: Literal["auto", "off", "simulator"] = "auto"
    resident_simulator_file: Path | None = None

    @model_validator(mode="after")
    def _ice_servers_usable(self) -> Settings:
        for server in self.ice_servers:
            minted = any(url.startswith("turn") for url in server.urls) and server.username is None
            if minted and not self.turn_secret.get_secret_value():
                raise ValueError("a TURN server in HUB_ICE_SERVERS without credentials needs HUB_TURN_SECRET")
        if self.signaling_relay_only and not any(
            url.startswith("turn") for server in self.ice_servers for url in server.urls
        ):
            raise ValueError("HUB_SIGNALING_RELAY_ONLY needs a TURN server in HUB_ICE_SERVERS")
        return self

    @model_validator(mode="after")
    def _signaling_bus_usable(self) -> Settings:
        urls = [u.strip() for u in self.signaling_nats_url.get_secret_value().split(",") if u.strip()]
        if self.signaling_bus == "nats" and not urls:
            raise ValueError(
                "HUB_SIGNALING_BUS=nats needs HUB_SIGNALING_NATS_URL (nats://host:4222, several comma-separated)"
            )
        if any(not u.startswith(("nats://", "tls://")) for u in urls):
            raise ValueError("HUB_SIGNALING_NATS_URL: every server must be a nats:// or tls:// URL")
        if self.signaling_bus == "postgres" and not self.effective_database_url.startswith("postgresql"):
            raise ValueError("HUB_SIGNALING_BUS=postgres needs a PostgreSQL HUB_DATABASE_URL")
        return self

    @property
    def effective_signaling_bus(self) -> Literal["memory", "postgres", "nats"]:
        """The bus HUB_SIGNALING_BUS selects, "auto" resolved."""
        if self.signaling_bus != "auto":
            return self.signaling_bus
        if self.signaling_nats_url.get_secret_value().strip():
            return "nats"
        return "postgres" if self.effective_database_url.startswith("postgresql") else "memory"

    @model_validator(mode="after")
    def _allowed_destinations_parse(self) -> Settings:
        AllowedDestinations.parse(self.webhook_allowed_destinations)  # a bad entry stops the hub at start
        return self

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Settings:
        if self.environment is Environment.production and (problems := self.production_problems()):
            # One error naming every problem, so an operator fixes them all in one go (see `hub check-config`).
            raise ValueError("\n".join(problems))
        return self

    def production_problems(self) -> list[str]:
        """Every setting production refuses, each with the fix; empty when the settings can serve production."""
        problems: list[str] = []
        secret_key = self.secret_key.get_secret_value().strip().lower()
        if secret_key in _PLACEHOLDERS or secret_key.startswith(_EXAMPLE_PLACEHOLDER_PREFIX):
            problems.append(
                "HUB_SECRET_KEY: a real secret is required in production (generate one with "
                "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`)"
            )
        if not self.database_url.startswith("postgresql"):
            problems.append(
                "HUB_DATABASE_URL: production runs on PostgreSQL (postgresql+asyncpg://user@host/db), not SQLite"
            )
        if self.kek_file is None:
            problems.append(
                "HUB_KEK_FILE: the key-encryption key file for evidence at rest is required (a file you back up)"
            )
        elif not self.kek_file.is_file():
            problems.append(f"HUB_KEK_FILE: {self.kek_file} does not exist or is not a file")
        if self.dev_pki_dir is not None:
            problems.append("HUB_DEV_PKI_DIR: test roots are refused in production; unset it")
        if self.audit_signing_key_file is None:
            problems.append(
                "HUB_AUDIT_SIGNING_KEY_FILE: the Ed25519 key that signs audit checkpoints is required in production"
            )
        elif not self.audit_signing_key_file.is_file():
            problems.append(
                f"HUB_AUDIT_SIGNING_KEY_FILE: {self.audit_signing_key_file} does not exist or is not a file"
            )
        return problems

    @property
    def effective_database_url(self) -> str:
        """The configured URL, or the embedded SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'hub.sqlite3').resolve()}"

    @property
    def webhook_allowed(self) -> AllowedDestinations:
        """The parsed HUB_WEBHOOK_ALLOWED_DESTINATIONS."""
        return AllowedDestinations.parse(self.webhook_allowed_destinations)

    @property
    def allow_test_roots(self) -> bool:
        """Test-PKI roots are accepted only in development and test mode."""
        return self.environment is not Environment.production

    @property
    def origin(self) -> str:
        """The hub's own origin (scheme://host:port)."""
        scheme = "https" if self.tls_cert_file is not None else "http"
        return self.public_origin or f"{scheme}://{self.host}:{self.port}"


def settings_problems(exc: ValidationError) -> list[str]:
    """The operator-readable lines of a settings error: one per invalid setting, named by its variable."""
    lines: list[str] = []
    for error in exc.errors(include_url=False, include_input=False):
        field = ".".join(str(part) for part in error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        if not field:
            lines.extend(message.splitlines())
        else:
            lines.append(f"HUB_{field.split('.')[0].upper()}: {message}")
    return lines


def credentials_dir() -> Path | None:
    """Where secrets arrive as files named like their variable (`HUB_SECRET_KEY`), if anywhere.

    systemd's `LoadCredential=` puts them in $CREDENTIALS_DIRECTORY; a Kubernetes Secret mounted as a volume does
    the same when the pod sets that variable. A variable in the environment still wins over a file.
    """
    raw = os.environ.get("CREDENTIALS_DIRECTORY", "")
    return Path(raw) if raw and Path(raw).is_dir() else None


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment and the credentials directory."""
    return Settings(_secrets_dir=credentials_dir())
