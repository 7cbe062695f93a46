"""Errors of ID-document chip evidence."""

from __future__ import annotations

from service.errors import Unprocessable


class MalformedReadout(Unprocessable):
    code = "malformed_chip_readout"
    title = "The chip readout is not well formed (an object is not base64, or too large)"


class ChipKindUnsupported(Unprocessable):
    code = "chip_kind_unsupported"
    title = "The hub has no verifier for this document kind"
