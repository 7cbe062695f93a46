"""The booth laptop's calls to the hub (service/booths/router.py), one attempt each: the booth works offline.

Every call raises HubUnavailable when the network is down (the caller keeps working and tries later) and
HubRefused with the hub's problem code otherwise; `wipe_ordered` tells a revocation from any other refusal.
"""

from __future__ import annotations

from clerk_agent.link.client import BOOTH_SESSIONS_PATH, LOGIN_PATH, booth_session_path
from clerk_agent.link.hub import HubLink, HubRefused
from service.wire import booths as wire


def wipe_ordered(exc: HubRefused) -> bool:
    """Whether the hub's refusal means: this laptop or its session is revoked, wipe the store."""
    return exc.problem_code in wire.WIPE_CODES


class BoothHub:
    """Typed booth calls over the signed link (no retry loop: the caller decides when to try again)."""

    def __init__(self, link: HubLink) -> None:
        self.link = link

    async def login(self, username: str, password: str, totp: str | None) -> str:
        """The officer's own login; answers the access token that opens the booth session."""
        body: dict[str, object] = {"username": username, "password": password}
        if totp:
            body["totp"] = totp
        answer = await self.link.request("POST", LOGIN_PATH, body, retry=False)
        return str(answer["access_token"])

    async def open_session(self, booth_id: str, officer_token: str) -> wire.SessionRead:
        body = wire.SessionOpen(booth_id=booth_id, officer_token=officer_token).model_dump()
        return wire.SessionRead.model_validate(
            await self.link.request("POST", BOOTH_SESSIONS_PATH, body, retry=False)
        )

    async def session(self, session_id: str) -> wire.SessionRead:
        return wire.SessionRead.model_validate(
            await self.link.request("GET", booth_session_path(session_id), retry=False)
        )

    async def announce(self, session_id: str, cases: list[wire.PendingCase]) -> int:
        body = wire.PendingBody(cases=cases).model_dump(mode="json")
        answer = await self.link.request("POST", booth_session_path(session_id, "pending"), body, retry=False)
        return int(str(answer.get("pending", 0)))

    async def sync(self, session_id: str, body: wire.CaseSync) -> wire.SyncResult:
        return wire.SyncResult.model_validate(
            await self.link.request(
                "POST",
                booth_session_path(session_id, "cases"),
                body.model_dump(mode="json"),
                retry=False,
            )
        )

    async def cases(self, session_id: str) -> wire.BoothCases:
        return wire.BoothCases.model_validate(
            await self.link.request("GET", booth_session_path(session_id, "cases"), retry=False)
        )
