"""The clerk agent's exception tree; every error says whether retrying can help (web-eid style).

`retriable` errors are conditions a clerk or the agent can fix by waiting, reinserting the card or
reconnecting (no card, card removed, pcscd restarting). The others need a different action: a blocked
PIN goes to the municipal counter, an unexpected status word is a defect or a foreign card.
"""

from __future__ import annotations

from typing import ClassVar


class AgentError(Exception):
    """Base of every error the clerk agent raises on purpose."""

    retriable: ClassVar[bool] = False
    code: ClassVar[str] = "agent_error"


class CardError(AgentError):
    """Something about the card or the exchange with it."""

    code = "card_error"


class CardAbsent(CardError):
    """No card in the reader."""

    retriable = True
    code = "card_absent"


class CardRemoved(CardError):
    """The card left the reader (or was reset) during a session; its state, such as a verified PIN, is gone."""

    retriable = True
    code = "card_removed"


class TransactionFailed(CardError):
    """The reader or pcscd failed one exchange (timeout, sharing violation); a new connection usually works."""

    retriable = True
    code = "transaction_failed"


class NotMyNumberCard(CardError):
    """The card in the reader is not a My Number Card (no JPKI AP or a different token string)."""

    code = "not_my_number_card"


class PinBlocked(CardError):
    """The PIN or access code is blocked; only a municipal office can reset it."""

    code = "pin_blocked"


class CodeBBlocked(PinBlocked):
    """照合番号B is blocked (every try spent on wrong codes); the card face cannot be read at the counter."""

    code = "code_b_blocked"


class PinIncorrect(CardError):
    """VERIFY failed; `retries_left` tries remain."""

    retriable = True
    code = "pin_incorrect"

    def __init__(self, retries_left: int) -> None:
        super().__init__(f"PIN incorrect; {retries_left} tries left")
        self.retries_left = retries_left


class CodeBIncorrect(PinIncorrect):
    """照合番号B (code B, typed by the clerk from the card face) was wrong: its own counter, not the PIN's."""

    code = "code_b_incorrect"


class LastTryConfirmationRequired(CardError):
    """One try is left and the clerk has not confirmed spending it (confirm_last_try=True)."""

    retriable = True
    code = "last_try_confirmation_required"
    MESSAGE_JA: ClassVar[str] = (
        "残り1回です。市区町村窓口での初期化が必要になる前に、暗証番号をご本人に確認してください。"
    )
    MESSAGE_EN: ClassVar[str] = (
        "One try left. Before the card has to be reset at the municipal office, confirm the PIN with the applicant."
    )

    def __init__(self) -> None:
        super().__init__(f"{self.MESSAGE_JA} / {self.MESSAGE_EN}")
        self.retries_left = 1


class InvalidPinFormat(CardError):
    """The PIN or access code has the wrong shape (checked before it reaches the card, so no try is spent)."""

    code = "invalid_pin_format"


class CardAdminUnavailable(CardError):
    """The card work needs the issuer's channel (a reset or a certificate write) and none is plugged in here.

    Raised before anything is sent to the card: the card is as it was.
    """

    code = "card_admin_unavailable"


class ApduFailed(CardError):
    """The card answered a status word the protocol does not expect here."""

    code = "apdu_failed"

    def __init__(self, sw: int, command: str = "") -> None:
        where = f" to {command}" if command else ""
        super().__init__(f"card answered {sw:04X}{where}")
        self.sw = sw
        self.command = command


class CardDataMalformed(CardError):
    """A file on the card does not have the structure the protocol expects."""

    code = "card_data_malformed"


class ForbiddenFileAccess(CardError):
    """A code path asked for a file that holds the My Number; refused before any APDU is sent."""

    code = "forbidden_file_access"


class ReaderUnavailable(AgentError):
    """pcscd is down, or the configured reader is not attached."""

    retriable = True
    code = "reader_unavailable"


class LinkError(AgentError):
    """The connection to the hub failed."""

    retriable = True
    code = "link_error"


class PeerError(AgentError):
    """The WebRTC peer (the officer's console) failed."""

    retriable = True
    code = "peer_error"


class PrinterError(AgentError):
    """The office printer could not print a document (clerk_agent/printing/ipp.py)."""

    code = "printer_error"


class PrinterUnreachable(PrinterError):
    """No answer from the printer or the CUPS server (powered off, cable, cupsd stopped)."""

    retriable = True
    code = "printer_unreachable"


class PrinterOffline(PrinterError):
    """The printer answers but does not print: stopped, paused, jammed or not accepting jobs."""

    retriable = True
    code = "printer_offline"


class PrinterPaperOut(PrinterError):
    """The printer reports no paper (media-empty / media-needed)."""

    retriable = True
    code = "printer_paper_out"


class PrintJobFailed(PrinterError):
    """The printer took the job but aborted, cancelled or did not finish it in time; the job was cancelled."""

    retriable = True
    code = "print_job_failed"

    def __init__(self, message: str, *, job_id: int | None = None) -> None:
        super().__init__(message)
        self.job_id = job_id
