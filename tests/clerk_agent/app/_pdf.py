"""The text lines of a receipt PDF as a reader sees them, without a PDF library the suite does not have.

The receipt draws each line with one text operator in a CID font (UTF-16 big-endian); its page streams are
ASCII85 and zlib (deflate) encoded (ReportLab's default). Image streams fail to decode as text and are skipped.
"""

from __future__ import annotations

import base64
import re
import zlib

_STREAM = re.compile(rb"stream\r?\n(.*?)endstream", re.S)
_SHOWN = re.compile(rb"\(((?:\\.|[^\\)])*)\) Tj", re.S)
_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}


def _literal(raw: bytes) -> bytes:
    out = bytearray()
    i = 0
    while i < len(raw):
        if raw[i : i + 1] == b"\\":
            octal = re.match(rb"[0-7]{1,3}", raw[i + 1 : i + 4])
            if octal:
                out.append(int(octal.group(), 8))
                i += 1 + len(octal.group())
                continue
            nxt = raw[i + 1 : i + 2]
            out += _ESCAPES.get(nxt, nxt)
            i += 2
            continue
        out += raw[i : i + 1]
        i += 1
    return bytes(out)


def pdf_lines(pdf: bytes) -> list[str]:
    """Every string the PDF's page streams show, in drawing order."""
    lines: list[str] = []
    for stream in _STREAM.findall(pdf):
        try:
            content = zlib.decompress(base64.a85decode(stream.strip(), adobe=True))
        except ValueError:
            continue
        for shown in _SHOWN.findall(content):
            raw = _literal(shown)
            lines.append(raw.decode("utf-16-be") if len(raw) % 2 == 0 else raw.decode("latin-1"))
    return lines
