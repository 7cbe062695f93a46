"""The pyscard adapter: a Transport over a PC/SC reader, and an event-driven reader/card monitor.

pyscard's low-level `smartcard.scard` API returns PC/SC codes instead of raising; `_call` turns a failing code
into `PcscFailure`, and every public method translates that at this boundary into the AgentError tree
(`raise ... from exc`, httpx style). Nothing above this module sees a pyscard type or code.
Longer than our usual ~400 lines on purpose: it is that one boundary, and splitting the transport from the monitor
would let pyscard's codes leak into a second module.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from smartcard import scard

from clerk_agent.card import part10
from clerk_agent.errors import (
    AgentError,
    CardAbsent,
    CardRemoved,
    ReaderUnavailable,
    TransactionFailed,
)

log = logging.getLogger(__name__)

PNP_NOTIFICATION = "\\\\?PnP?\\Notification"
_NO_SERVICE = {scard.SCARD_E_NO_SERVICE, scard.SCARD_E_SERVICE_STOPPED, scard.SCARD_E_INVALID_HANDLE}
_NO_READER = {
    scard.SCARD_E_NO_READERS_AVAILABLE,
    scard.SCARD_E_UNKNOWN_READER,
    scard.SCARD_E_READER_UNAVAILABLE,
}


class PcscFailure(Exception):
    """A PC/SC call failed with `hresult` (internal; translated before it leaves this module)."""

    def __init__(self, call: str, hresult: int) -> None:
        self.call = call
        self.hresult = hresult & 0xFFFFFFFF
        super().__init__(f"{call}: {scard.SCardGetErrorMessage(hresult)} (0x{self.hresult:08X})")


def _call(name: str, result: Any) -> Any:
    """Check a pyscard low-level result (`hresult` or `(hresult, *values)`); return the values."""
    # SWIG hands back (hresult, values...) as a list or tuple, or a bare hresult.
    if isinstance(result, (tuple, list)):
        hresult, *values = result
    else:
        hresult, values = result, []
    if hresult != scard.SCARD_S_SUCCESS:
        raise PcscFailure(name, hresult)
    if not values:
        return None
    return values[0] if len(values) == 1 else tuple(values)


def translate(exc: PcscFailure, reader: str = "") -> AgentError:
    """Map a PC/SC failure onto the agent's error tree (retriable or fatal)."""
    code = exc.hresult
    where = f" ({reader})" if reader else ""
    if code in {c & 0xFFFFFFFF for c in _NO_SERVICE}:
        return ReaderUnavailable(f"pcscd is not running or restarted{where}: {exc}")
    if code in {c & 0xFFFFFFFF for c in _NO_READER}:
        return ReaderUnavailable(f"reader not available{where}: {exc}")
    if code == scard.SCARD_E_NO_SMARTCARD & 0xFFFFFFFF:
        return CardAbsent(f"no card in the reader{where}")
    if code in {scard.SCARD_W_REMOVED_CARD & 0xFFFFFFFF, scard.SCARD_W_RESET_CARD & 0xFFFFFFFF}:
        return CardRemoved(f"the card was removed or reset{where}")
    return TransactionFailed(f"{exc}{where}")


class PcscTransport:
    """A Transport on one reader chosen by exact name; connects exclusively, resets the card on close.

    Exclusive because a verified PIN stays in effect until power-off and any process sharing the card
    could use it (docs/card.md §1.6); reset on close so it does not outlive this session.
    """

    def __init__(self, reader: str, *, exclusive: bool = True) -> None:
        self.reader = reader
        self.exclusive = exclusive
        self._context: Any = None
        self._card: Any = None
        self._protocol: int = 0
        self._atr = b""
        self._verify_pin_direct: int | None = None

    # --- connection -------------------------------------------------------------------------------

    def connect(self) -> PcscTransport:
        """Establish a context and connect to the card in the reader."""
        try:
            self._context = _call(
                "SCardEstablishContext", scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
            )
            share = scard.SCARD_SHARE_EXCLUSIVE if self.exclusive else scard.SCARD_SHARE_SHARED
            self._card, self._protocol = _call(
                "SCardConnect",
                scard.SCardConnect(
                    self._context, self.reader, share, scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1
                ),
            )
            _name, _state, _protocol, atr = _call("SCardStatus", scard.SCardStatus(self._card))
            self._atr = bytes(atr)
        except PcscFailure as exc:
            self.close()
            raise translate(exc, self.reader) from exc
        self._verify_pin_direct = self._probe_pinpad()
        return self

    def _probe_pinpad(self) -> int | None:
        try:
            raw = _call(
                "SCardControl",
                scard.SCardControl(
                    self._card, scard.SCARD_CTL_CODE(part10.CM_IOCTL_GET_FEATURE_REQUEST_CODE), []
                ),
            )
        except PcscFailure:
            # vpcd and most plain readers do not implement the request: no PIN pad.
            return None
        return part10.parse_features(bytes(raw or [])).get(part10.FEATURE_VERIFY_PIN_DIRECT)

    def close(self, *, reset: bool = True) -> None:
        """Disconnect (resetting the card by default) and release the context; never raises."""
        if self._card is not None:
            disposition = scard.SCARD_RESET_CARD if reset else scard.SCARD_LEAVE_CARD
            scard.SCardDisconnect(self._card, disposition)
            self._card = None
        if self._context is not None:
            scard.SCardReleaseContext(self._context)
            self._context = None

    def __enter__(self) -> PcscTransport:
        return self.connect() if self._card is None else self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- Transport --------------------------------------------------------------------------------

    @property
    def atr(self) -> bytes:
        """The ATR read at connect."""
        if self._card is None:
            raise CardAbsent(f"not connected to {self.reader}")
        return self._atr

    @property
    def has_pinpad(self) -> bool:
        """Whether the reader offers FEATURE_VERIFY_PIN_DIRECT."""
        return self._verify_pin_direct is not None

    def _transmit_once(self, apdu: list[int]) -> bytes:
        if self._card is None:
            raise CardAbsent(f"not connected to {self.reader}")
        try:
            response = _call("SCardTransmit", scard.SCardTransmit(self._card, self._protocol, apdu))
        except PcscFailure as exc:
            raise translate(exc, self.reader) from exc
        return bytes(response)

    def transmit(self, apdu: bytes | bytearray) -> bytes:
        """Send one APDU; handles T=0's 61xx (GET RESPONSE) and 6Cxx (wrong Le) so callers see data‖SW."""
        command = list(apdu)
        try:
            response = self._transmit_once(command)
            if len(response) == 2 and response[0] == 0x6C and len(command) >= 5:
                command[-1] = response[1]
                response = self._transmit_once(command)
            data = bytearray()
            while len(response) >= 2 and response[-2] == 0x61:
                data += response[:-2]
                response = self._transmit_once([0x00, 0xC0, 0x00, 0x00, response[-1]])
            return bytes(data) + response
        finally:
            # The list may hold a PIN; clear it (the bytes pyscard copied are beyond our reach).
            command[:] = [0] * len(command)

    def verify_pin_direct(self, verify_header: bytes, pin_length: int) -> bytes:
        """Have the reader's keypad collect the PIN and send VERIFY; returns the card's SW."""
        if self._card is None or self._verify_pin_direct is None:
            raise ReaderUnavailable(f"{self.reader} has no PIN pad")
        structure = list(part10.pin_verify_structure(verify_header, pin_length))
        try:
            return bytes(
                _call("SCardControl", scard.SCardControl(self._card, self._verify_pin_direct, structure))
            )
        except PcscFailure as exc:
            raise translate(exc, self.reader) from exc


def connect_with_backoff(
    reader: str,
    *,
    timeout: float = 10.0,
    exclusive: bool = True,
    first_delay: float = 0.05,
    max_delay: float = 1.0,
) -> PcscTransport:
    """Connect, retrying retriable failures (pcscd down, no card yet) with exponential backoff until `timeout`."""
    deadline = time.monotonic() + timeout
    delay = first_delay
    while True:
        try:
            return PcscTransport(reader, exclusive=exclusive).connect()
        except AgentError as exc:
            if not exc.retriable or time.monotonic() + delay > deadline:
                raise
            log.debug("connect to %s failed (%s); retrying in %.2fs", reader, exc.code, delay)
            time.sleep(delay)
            delay = min(delay * 2, max_delay)


def list_readers() -> list[str]:
    """Reader names known to pcscd; [] when there are none; ReaderUnavailable when pcscd is down."""
    try:
        context = _call("SCardEstablishContext", scard.SCardEstablishContext(scard.SCARD_SCOPE_USER))
    except PcscFailure as exc:
        raise translate(exc) from exc
    try:
        return list(_call("SCardListReaders", scard.SCardListReaders(context, [])) or [])
    except PcscFailure as exc:
        if exc.hresult == scard.SCARD_E_NO_READERS_AVAILABLE & 0xFFFFFFFF:
            return []
        raise translate(exc) from exc
    finally:
        scard.SCardReleaseContext(context)


# --- monitor -------------------------------------------------------------------------------------


class CardEventKind(StrEnum):
    """What the monitor reports."""

    READER_ADDED = "reader_added"
    READER_REMOVED = "reader_removed"
    CARD_INSERTED = "card_inserted"
    CARD_REMOVED = "card_removed"


@dataclass(frozen=True)
class CardEvent:
    """One change seen by the monitor; `atr` is set for insertions."""

    kind: CardEventKind
    reader: str
    atr: bytes = b""


@dataclass
class _SlotState:
    event_state: int = scard.SCARD_STATE_UNAWARE
    present: bool = False
    insertions: int = -1


class PcscMonitor:
    """Watches readers and cards with SCardGetStatusChange and the PnP pseudo-reader (no polling of card state).

    Runs in its own thread and hands every event to the asyncio loop with `call_soon_threadsafe`. When pcscd
    goes away it reports every reader removed, then re-establishes the context with backoff.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sink: Callable[[CardEvent], None],
        *,
        reader_filter: Callable[[str], bool] | None = None,
        wait_ms: int = 1000,
        max_backoff: float = 2.0,
    ) -> None:
        self._loop = loop
        self._sink = sink
        self._filter = reader_filter or (lambda _name: True)
        self._wait_ms = wait_ms
        self._max_backoff = max_backoff
        self._stop = threading.Event()
        self._context: Any = None
        self._context_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._slots: dict[str, _SlotState] = {}

    def start(self) -> None:
        """Start the monitor thread."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="pcsc-monitor", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop and join; SCardCancel wakes a blocked SCardGetStatusChange at once."""
        self._stop.set()
        with self._context_lock:
            if self._context is not None:
                scard.SCardCancel(self._context)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _emit(self, event: CardEvent) -> None:
        try:
            self._loop.call_soon_threadsafe(self._sink, event)
        except RuntimeError:
            # The loop is closed: nobody is listening any more.
            self._stop.set()

    def _run(self) -> None:
        delay = 0.05
        while not self._stop.is_set():
            hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
            if hresult != scard.SCARD_S_SUCCESS:
                self._stop.wait(delay)
                delay = min(delay * 2, self._max_backoff)
                continue
            delay = 0.05
            with self._context_lock:
                self._context = context
            try:
                self._watch(context)
            finally:
                with self._context_lock:
                    self._context = None
                scard.SCardReleaseContext(context)
            self._forget_all()
            if not self._stop.is_set():
                self._stop.wait(delay)

    def _forget_all(self) -> None:
        for name in list(self._slots):
            self._drop_reader(name)

    def _drop_reader(self, name: str) -> None:
        slot = self._slots.pop(name)
        if slot.present:
            self._emit(CardEvent(CardEventKind.CARD_REMOVED, name))
        self._emit(CardEvent(CardEventKind.READER_REMOVED, name))

    def _refresh_readers(self, context: Any) -> bool:
        """Sync the reader set with pcscd; False when pcscd is gone."""
        hresult, names = scard.SCardListReaders(context, [])
        if hresult == scard.SCARD_E_NO_READERS_AVAILABLE:
            names = []
        elif hresult != scard.SCARD_S_SUCCESS:
            return False
        current = {n for n in names if self._filter(n)}
        for gone in set(self._slots) - current:
            self._drop_reader(gone)
        for name in sorted(current - set(self._slots)):
            self._slots[name] = _SlotState()
            self._emit(CardEvent(CardEventKind.READER_ADDED, name))
        return True

    def _watch(self, context: Any) -> None:
        if not self._refresh_readers(context):
            return
        pnp_state = scard.SCARD_STATE_UNAWARE
        while not self._stop.is_set():
            states = [(PNP_NOTIFICATION, pnp_state)]
            states += [(name, slot.event_state) for name, slot in self._slots.items()]
            hresult, changes = scard.SCardGetStatusChange(context, self._wait_ms, states)
            if hresult in (scard.SCARD_E_TIMEOUT, scard.SCARD_E_CANCELLED):
                continue
            if hresult in (scard.SCARD_E_UNKNOWN_READER, scard.SCARD_E_READER_UNAVAILABLE):
                if not self._refresh_readers(context):
                    return
                continue
            if hresult != scard.SCARD_S_SUCCESS:
                log.debug("SCardGetStatusChange: %s", scard.SCardGetErrorMessage(hresult))
                return
            readers_changed = False
            for name, event_state, atr in changes:
                if name == PNP_NOTIFICATION:
                    readers_changed = bool(event_state & scard.SCARD_STATE_CHANGED)
                    pnp_state = event_state & ~scard.SCARD_STATE_CHANGED
                    continue
                slot = self._slots.get(name)
                if slot is not None:
                    self._update_slot(name, slot, event_state, bytes(atr))
            if readers_changed and not self._refresh_readers(context):
                return

    def _update_slot(self, name: str, slot: _SlotState, event_state: int, atr: bytes) -> None:
        slot.event_state = event_state & ~scard.SCARD_STATE_CHANGED
        present = bool(event_state & scard.SCARD_STATE_PRESENT) and not event_state & scard.SCARD_STATE_MUTE
        # pcsc-lite counts card events in the high 16 bits: a swap between two waits still shows up.
        insertions = (event_state >> 16) & 0xFFFF
        swapped = slot.present and present and slot.insertions not in (-1, insertions)
        if slot.present and (not present or swapped):
            self._emit(CardEvent(CardEventKind.CARD_REMOVED, name))
        if present and (not slot.present or swapped):
            self._emit(CardEvent(CardEventKind.CARD_INSERTED, name, atr))
        slot.present = present
        slot.insertions = insertions


def reader_state(reader: str) -> tuple[bool, int]:
    """(card present, pcsc-lite's card event counter) of one reader, without connecting to the card."""
    try:
        context = _call("SCardEstablishContext", scard.SCardEstablishContext(scard.SCARD_SCOPE_USER))
    except PcscFailure as exc:
        raise translate(exc, reader) from exc
    try:
        (_name, event_state, _atr), *_ = _call(
            "SCardGetStatusChange",
            scard.SCardGetStatusChange(context, 0, [(reader, scard.SCARD_STATE_UNAWARE)]),
        )
    except PcscFailure as exc:
        raise translate(exc, reader) from exc
    finally:
        scard.SCardReleaseContext(context)
    return bool(event_state & scard.SCARD_STATE_PRESENT), (event_state >> 16) & 0xFFFF


def wait_for_card_event(
    reader: str, *, present: bool, after: int | None = None, timeout: float = 10.0
) -> int:
    """Block until the reader shows `present` (and, if given, an event counter other than `after`)."""
    deadline = time.monotonic() + timeout
    while True:
        is_present, counter = reader_state(reader)
        if is_present == present and (after is None or counter != after):
            return counter
        if time.monotonic() > deadline:
            state = "inserted" if present else "removed"
            raise TransactionFailed(f"card not {state} in {reader} within {timeout}s")
        time.sleep(0.02)
