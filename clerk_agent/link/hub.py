"""The agent's REST link to the hub: signed requests, retries with backoff while the hub is unreachable.

A refused request (4xx) is not retried: it is a business answer (wrong state, bad reason) for the flow to show.
An unreachable hub (connection refused, timeout, 502/503/504) is retried until it answers, while `online`
tells the UI to say so plainly.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from clerk_agent.errors import LinkError
from clerk_agent.link.auth import tls_context

logger = logging.getLogger(__name__)

JsonObject = dict[str, object]
_UNAVAILABLE = frozenset({502, 503, 504})


class HubUnavailable(LinkError):
    """The hub did not answer (network, restart); retrying later helps."""

    retriable = True
    code = "hub_unavailable"


class HubRefused(LinkError):
    """The hub answered with a problem (4xx/5xx); `problem_code` is its stable code."""

    retriable = False
    code = "hub_refused"

    def __init__(self, status: int, problem_code: str, detail: str) -> None:
        super().__init__(f"hub refused ({status} {problem_code}): {detail}")
        self.status = status
        self.problem_code = problem_code
        self.detail = detail


@dataclass
class LinkStatus:
    """What the UI shows about the hub connection."""

    online: bool | None = None
    failures: int = 0
    next_retry_s: float = 0.0
    last_error: str = ""
    extra: dict[str, str] = field(default_factory=dict)


class HubLink:
    """Signed JSON requests to the hub with unbounded retry on unavailability (cancel to stop)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 10.0,
    ) -> None:
        self.http = http
        self.status = LinkStatus()
        self._backoff_initial_s = backoff_initial_s
        self._backoff_max_s = backoff_max_s

    async def request(
        self,
        method: str,
        path: str,
        body: Mapping[str, object] | None = None,
        *,
        idempotency_key: str | None = None,
        params: Mapping[str, str] | None = None,
        retry: bool = True,
    ) -> JsonObject:
        """Send one JSON request; retry while the hub is unreachable (unless retry=False: HubUnavailable)."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return await self._send(method, path, headers, params, retry=retry, json=body)

    async def upload(
        self,
        path: str,
        content: bytes,
        media_type: str,
        params: Mapping[str, str],
        *,
        idempotency_key: str | None = None,
        retry: bool = True,
    ) -> JsonObject:
        """POST a binary body (a still); retried like `request` while the hub is unreachable."""
        headers = {"Content-Type": media_type}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        return await self._send("POST", path, headers, params, retry=retry, content=content)

    async def download(
        self, path: str, *, params: Mapping[str, str] | None = None, retry: bool = False
    ) -> tuple[bytes, httpx.Headers]:
        """GET a binary answer (a certificate PDF) with its headers; a problem answer raises HubRefused."""
        delay = self._backoff_initial_s
        while True:
            try:
                response = await self.http.get(path, params=params)
            except httpx.TransportError as exc:
                failure = type(exc).__name__
            else:
                if response.status_code not in _UNAVAILABLE:
                    self._mark_online()
                    if response.status_code >= 400:
                        _result(response)  # raises HubRefused with the problem's code
                    return response.content, response.headers
                failure = f"HTTP {response.status_code}"
            self.status.online = False
            self.status.failures += 1
            self.status.last_error = failure
            if not retry:
                raise HubUnavailable(f"the hub is unreachable ({failure})")
            await asyncio.sleep(min(delay, self._backoff_max_s))
            delay = min(delay * 2, self._backoff_max_s)

    async def _send(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],
        params: Mapping[str, str] | None,
        *,
        retry: bool,
        json: Mapping[str, object] | None = None,
        content: bytes | None = None,
    ) -> JsonObject:
        """The one retry loop of the link: JSON and uploads alike, jittered backoff, failures counted."""
        delay = self._backoff_initial_s
        while True:
            try:
                response = await self.http.request(
                    method, path, json=json, content=content, headers=headers, params=params
                )
            except httpx.TransportError as exc:
                failure: str = f"{type(exc).__name__}"
            else:
                if response.status_code not in _UNAVAILABLE:
                    self._mark_online()
                    return _result(response)
                failure = f"HTTP {response.status_code}"
            self.status.online = False
            self.status.failures += 1
            self.status.last_error = failure
            if not retry:
                raise HubUnavailable(f"the hub is unreachable ({failure})")
            # Jitter so a whole office's agents do not reconnect in step after a hub restart.
            wait = min(delay, self._backoff_max_s) * random.uniform(0.8, 1.2)  # noqa: S311
            self.status.next_retry_s = wait
            logger.warning("hub unreachable (%s) for %s %s; retrying in %.1fs", failure, method, path, wait)
            await asyncio.sleep(wait)
            delay = min(delay * 2, self._backoff_max_s)

    async def probe(self) -> bool:
        """One health check without retry; updates `status`."""
        try:
            response = await self.http.get("/healthz", timeout=3)
        except httpx.TransportError as exc:
            self.status.online = False
            self.status.last_error = type(exc).__name__
            return False
        ok = response.status_code == 200
        if ok:
            self._mark_online()
        else:
            self.status.online = False
        return ok

    def _mark_online(self) -> None:
        if self.status.online is False:
            logger.info("hub reachable again after %d failures", self.status.failures)
        self.status.online = True
        self.status.failures = 0
        self.status.next_retry_s = 0.0
        self.status.last_error = ""


def hub_http_client(
    hub_url: str,
    auth: httpx.Auth,
    *,
    ca_file: Path | None = None,
    cert_file: Path | None = None,
    key_file: Path | None = None,
    timeout: float = 10,
) -> httpx.AsyncClient:
    """The HTTP client of the hub link: signed requests, and over https the device's client certificate if given."""
    verify: ssl.SSLContext | bool = True
    if hub_url.startswith("https:"):
        verify = tls_context(ca_file=ca_file, cert_file=cert_file, key_file=key_file)
    client = httpx.AsyncClient(base_url=hub_url, auth=auth, timeout=timeout, verify=verify)
    if isinstance(verify, ssl.SSLContext):
        _TLS[client] = verify
    return client


# The TLS context each hub client was made with, so the signaling socket (wss://) trusts the same CA and presents
# the same client certificate as the REST calls.
_TLS: weakref.WeakKeyDictionary[httpx.AsyncClient, ssl.SSLContext] = weakref.WeakKeyDictionary()


def tls_of(client: httpx.AsyncClient) -> ssl.SSLContext | None:
    """The TLS context `hub_http_client` gave `client` (None for plain http or a client made elsewhere)."""
    return _TLS.get(client)


def _result(response: httpx.Response) -> JsonObject:
    if response.status_code >= 400:
        try:
            problem = response.json()
        except ValueError:
            problem = {}
        code = str(problem.get("code", "error")) if isinstance(problem, dict) else "error"
        detail = str(problem.get("detail") or problem.get("title") or "") if isinstance(problem, dict) else ""
        raise HubRefused(response.status_code, code, detail or response.reason_phrase)
    if not response.content:
        return {}
    data = response.json()
    if not isinstance(data, dict):
        raise LinkError(f"unexpected hub answer to {response.request.url.path}")
    return data
