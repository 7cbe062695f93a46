"""Reading a document's access data from a still of the counter camera (OCR), as an alternative to typing it.

A passport's chip opens with three fields of its machine-readable zone (BAC, docs/id-documents.md §Counter); a
residence card's with the 12-character card number printed top right. The clerk may hold the data page or the card
up to the counter camera instead of typing: Tesseract (through tesserocr, in process: the picture and the text never
touch a file or another process) reads the still, and the fields prefill the clerk's form, who confirms them.

Why this shape:
- The picture is measured before it is decoded (encoded size, then the header's dimensions), so an oversized or
  hostile upload costs nothing; a camera frame is measured by its shape.
- Tesseract runs in a worker thread with its own deadline (`Recognize(timeout)`), one recognition at a time (one
  engine, which is not thread-safe), so the event loop never waits on it.
- Characters are restricted to what the field can hold (the MRZ's `A–Z 0–9 <`; the card number's `A–Z 0–9`), and
  lines are found by their shape: a TD3 MRZ is a line of 44 characters laid out as ICAO 9303 part 4 says, a card
  number two letters, eight digits, two letters.
- Confusable characters (O/0, I/1, S/5, B/8, Z/2, Z/7, G/6, J/3) are fixed by the field's type where the type
  decides (a date holds digits, a nationality letters). In the document number, which may hold both, confusable characters
  are swapped only when the reading fails its check digits, the fewest swaps that make them all hold are taken, and
  only if that is a single reading (see `validate_td3_line2`). A check digit printed or read wrong is never
  "corrected" by a swap: with the composite check digit also over it, a swap would have to move the sum by 5
  modulo 10, and no confusable pair does (tests/clerk_agent/card/test_idchips_ocr.py proves it for every error).
  A reading whose check digits fail is refused and the clerk types the data. A card number has no check digit;
  a wrong one fails the chip's mutual authentication, which costs no try (the clerk confirms the number first).
- The result stays at the counter: it is never logged and never sent to the hub. The fields are kept in bytearrays
  that the caller wipes once they are answered (`OcrFields.wipe`); Tesseract's own text and the grey copies of the
  picture are dropped (the copies zeroed) as soon as the fields are taken from them.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import math
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

import numpy as np
from av import VideoFrame
from numpy.typing import NDArray
from PIL import Image

from service.wire.idchips_jp import RESIDENCE_CARD_NUMBER_LENGTH
from service.wire.mrz import TD3_LINE, check_digit

Gray = NDArray[np.uint8]

# Limits checked before anything is decoded. A 4K camera frame is 8.3 megapixels; a JPEG of it a few MB.
MAX_ENCODED_BYTES: Final = 12 * 1024 * 1024
MAX_PIXELS: Final = 16_000_000
MAX_SIDE: Final = 8192
MIN_SIDE: Final = 32
OCR_TIMEOUT_S: Final = 6.0
# Tesseract reads best with capitals 20–40 px high; a still wider than this is scaled down first (a full 4K frame
# costs several times as much and the MRZ of a page held up to the camera is far larger than needed).
WORK_WIDTH: Final = 1600

MRZ_ALPHABET: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<"
CARD_ALPHABET: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
# Confusable characters in both directions: where a field holds only digits (or only letters), the other reading is meant.
# Z reads as 7 as often as 2 in a monospace face, and J as 3, so a letter-only field takes those back too.
_TO_DIGIT: Final = {"O": "0", "Q": "0", "D": "0", "I": "1", "L": "1", "Z": "2", "S": "5", "G": "6", "B": "8"}
_TO_LETTER: Final = {"0": "O", "1": "I", "2": "Z", "3": "J", "7": "Z", "5": "S", "6": "G", "8": "B"}
# Where a field holds both, every other reading of a confusable character is a candidate for the check digits to decide.
_AMBIGUOUS: Final = {
    **_TO_DIGIT,
    "Z": "27",
    **{digit: letter for digit, letter in _TO_LETTER.items() if digit != "0"},
    "0": "OD",
}
MAX_NUMBER_FIXES: Final = (
    2  # confusable characters changed in a passport number; more is a guess, not a reading
)

_TD3_LINE2: Final = re.compile(r"[A-Z0-9<]{9}[0-9][A-Z<]{3}[0-9]{7}[MFX<][0-9]{7}[A-Z0-9<]{14}[0-9<][0-9]")
_USUAL_NUMBER: Final = re.compile(r"[A-Z]{0,3}[0-9]+<*")
_CARD_NUMBER: Final = re.compile(r"[A-Z]{2}[0-9]{8}[A-Z]{2}")


class OcrKind(StrEnum):
    """What the still shows."""

    passport = "passport"
    residence_card = "residence_card"


class OcrFailure(StrEnum):
    """Why no fields came back: the clerk's screen says so and the clerk types them."""

    too_large = "too_large"  # refused before decoding (bytes, dimensions)
    unreadable = "unreadable"  # not a picture we decode, or Tesseract could not run on it
    not_found = "not_found"  # no line of the right shape
    check_digit = "check_digit"  # an MRZ was found but its check digits do not hold
    ambiguous = "ambiguous"  # more than one card number of the right shape
    timeout = "timeout"  # Tesseract did not finish in time
    busy = "busy"  # another reading is still running


class OcrError(Exception):
    """The still cannot be read; `failure` says why."""

    def __init__(self, failure: OcrFailure, detail: str = "") -> None:
        super().__init__(detail or failure.value)
        self.failure = failure


@dataclass(repr=False)
class OcrFields:
    """The fields read, each in a bytearray the caller wipes; `repr` is redacted so no log line can hold them."""

    kind: OcrKind
    values: dict[str, bytearray] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"OcrFields({self.kind.value}, <redacted>)"

    def text(self) -> dict[str, str]:
        """The fields as text, for the one answer to the clerk's screen."""
        return {name: value.decode("ascii") for name, value in self.values.items()}

    def wipe(self) -> None:
        """Overwrite every field in place."""
        for value in self.values.values():
            value[:] = bytes(len(value))


# --- the picture ----------------------------------------------------------------------------------------------


def _check_size(width: int, height: int) -> None:
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        raise OcrError(OcrFailure.too_large, f"{width}×{height} is larger than a camera still")
    if width < MIN_SIDE or height < MIN_SIDE:
        raise OcrError(OcrFailure.unreadable, f"{width}×{height} is too small to hold text")


def grey_of(still: bytes | Gray | VideoFrame) -> Gray:
    """The still as an 8-bit grey array: JPEG/PNG bytes, a BGR or grey camera array, or a PyAV frame.

    Measured before decoding: the encoded length, then the dimensions from the header (PIL reads only the header on
    `open`), and the decoded size is bounded again by PIL's own decompression-bomb limit.
    """
    if isinstance(still, bytes | bytearray):
        if len(still) > MAX_ENCODED_BYTES:
            raise OcrError(OcrFailure.too_large, f"{len(still)} bytes is larger than a camera still")
        try:
            with Image.open(io.BytesIO(still), formats=("JPEG", "PNG")) as image:
                _check_size(*image.size)
                return np.asarray(image.convert("L"), dtype=np.uint8).copy()
        except OcrError:
            raise
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            raise OcrError(OcrFailure.unreadable, "not a JPEG or PNG picture") from exc
    if isinstance(still, VideoFrame):
        from av.video.reformatter import VideoReformatter

        _check_size(still.width, still.height)
        # A reformatter of our own: the frame's cached one may be in use by the call's scaler (rtc/stills.py).
        grey = VideoReformatter().reformat(still, format="gray").to_ndarray()
        return np.asarray(grey, dtype=np.uint8)
    if (
        still.dtype != np.uint8
        or still.ndim not in (2, 3)
        or (still.ndim == 3 and still.shape[2] not in (3, 4))
    ):
        raise OcrError(OcrFailure.unreadable, "expected an 8-bit grey, BGR or BGRA camera frame")
    _check_size(still.shape[1], still.shape[0])
    if still.ndim == 2:
        return still.copy()
    import cv2

    code = cv2.COLOR_BGR2GRAY if still.shape[2] == 3 else cv2.COLOR_BGRA2GRAY
    converted: Gray = cv2.cvtColor(still, code)  # type: ignore[assignment]
    return converted


def _work_size(grey: Gray) -> Gray:
    height, width = grey.shape[:2]
    if width <= WORK_WIDTH:
        return grey
    import cv2

    scale = WORK_WIDTH / width
    small: Gray = cv2.resize(grey, (WORK_WIDTH, round(height * scale)), interpolation=cv2.INTER_AREA)  # type: ignore[assignment]
    return small


# --- Tesseract ------------------------------------------------------------------------------------------------


def tessdata_dir() -> str:
    """Where the `eng` model is: TESSDATA_PREFIX, else Debian's tesseract-ocr-eng (deploy/system-deps.sh)."""
    configured = os.environ.get("TESSDATA_PREFIX")
    candidates = [Path(configured)] if configured else []
    candidates += sorted(Path("/usr/share/tesseract-ocr").glob("*/tessdata"), reverse=True)
    candidates.append(Path("/usr/share/tessdata"))
    for folder in candidates:
        if (folder / "eng.traineddata").is_file():
            return f"{folder}/"
    raise OcrError(OcrFailure.unreadable, "Tesseract's eng model is not installed (tesseract-ocr-eng)")


class _Engine:
    """One Tesseract engine for the process, loaded on first use; one recognition at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._api: Any = None  # tesserocr.PyTessBaseAPI (tesserocr ships no py.typed)

    def recognise(self, grey: Gray, alphabet: str, *, sparse: bool, timeout_s: float) -> Reading:
        """What Tesseract reads in `grey` with only `alphabet` allowed (blocking: a worker thread)."""
        import tesserocr

        if not self._lock.acquire(timeout=timeout_s):
            raise OcrError(OcrFailure.busy, "another reading is still running")
        try:
            if self._api is None:
                self._api = tesserocr.PyTessBaseAPI(path=tessdata_dir(), lang="eng")
            api = self._api
            api.SetPageSegMode(tesserocr.PSM.SPARSE_TEXT if sparse else tesserocr.PSM.SINGLE_BLOCK)
            api.SetVariable("tessedit_char_whitelist", alphabet)
            height, width = grey.shape[:2]
            contiguous = np.ascontiguousarray(grey)
            api.SetImageBytes(contiguous.tobytes(), width, height, 1, width)
            if not api.Recognize(timeout=max(1, int(timeout_s * 1000))):
                api.Clear()
                raise OcrError(OcrFailure.timeout, f"Tesseract did not finish within {timeout_s:g} s")
            try:
                text = str(api.GetUTF8Text())
            except RuntimeError:  # nothing recognised at all
                text = ""
            reading = Reading(text, _line_angles(api) if text else ())
            api.Clear()  # the engine keeps no copy of the picture or its text past this call
            return reading
        finally:
            self._lock.release()


@dataclass(frozen=True, repr=False)
class Reading:
    """Tesseract's text and, per text line, the line's text and its baseline's angle in degrees."""

    text: str
    lines: tuple[tuple[str, float], ...]


def _line_angles(api: Any) -> tuple[tuple[str, float], ...]:
    import tesserocr

    out: list[tuple[str, float]] = []
    level = tesserocr.RIL.TEXTLINE
    iterator = api.GetIterator()
    if iterator is None:
        return ()
    for line in tesserocr.iterate_level(iterator, level):
        baseline = line.Baseline(level)
        try:
            text = line.GetUTF8Text(level)
        except RuntimeError:  # tesserocr's word for a line without text
            continue
        if baseline is None or not text:
            continue
        (x1, y1), (x2, y2) = baseline
        if x2 != x1:
            out.append((re.sub(r"\s+", "", text), math.degrees(math.atan2(y2 - y1, x2 - x1))))
    return tuple(out)


def skew_of(reading: Reading) -> float:
    """The MRZ's skew in degrees, from the baseline of its longest filler-bearing line (0 if there is none)."""
    mrz = [(len(text), angle) for text, angle in reading.lines if text.count("<") >= 3 and len(text) >= 30]
    return max(mrz)[1] if mrz else 0.0


def _rotated(grey: Gray, degrees: float) -> Gray:
    import cv2

    height, width = grey.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    out: Gray = cv2.warpAffine(  # type: ignore[assignment]
        grey, matrix, (width, height), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE
    )
    return out


def _scaled(grey: Gray, factor: float) -> Gray:
    import cv2

    out: Gray = cv2.resize(grey, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)  # type: ignore[assignment]
    return out


@dataclass(frozen=True)
class Band:
    """A long thin run of dark print, as an MRZ line is: its centre, length, height and angle (degrees)."""

    x: float
    y: float
    length: float
    height: float
    angle: float


def mrz_bands(grey: Gray) -> list[Band]:
    """The lines of print whose shape is an MRZ line's: far longer than high and a good part of the still's width.

    Dark print on a light page stands out in a black-hat transform; closing it along the line joins the characters
    (and the fillers between them) into one band per line. Blurring first keeps sensor noise from joining up too.
    """
    import cv2

    width = grey.shape[1]
    unit = max(3, width // 200)
    smooth = cv2.GaussianBlur(grey, (5, 5), 0)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (unit * 4, unit * 2))
    dark = cv2.morphologyEx(smooth, cv2.MORPH_BLACKHAT, kernel)
    _, mask = cv2.threshold(dark, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    joined = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (unit * 5, 1)))
    contours, _ = cv2.findContours(joined, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    bands: list[Band] = []
    for contour in contours:
        (cx, cy), (w, h), angle = cv2.minAreaRect(contour)
        if w < h:
            w, h, angle = h, w, angle - 90
        angle = (angle + 90) % 180 - 90
        if w > 0.3 * width and w > 12 * h and abs(angle) <= 15:
            bands.append(Band(cx, cy, w, h, angle))
    return sorted(bands, key=lambda band: band.y)


def _mrz_crop(work: Gray) -> Gray | None:
    """The MRZ's lines straightened and cut out (the bottom-most long bands), or None if no band has the shape."""
    bands = mrz_bands(work)
    if not bands:
        return None
    lines = bands[-2:]  # an MRZ is the last print on a data page
    angle = sum(band.angle for band in lines) / len(lines)
    straight = _rotated(work, angle) if abs(angle) >= 0.3 else work.copy()
    again = mrz_bands(straight)[-2:] or lines
    margin = max(band.height for band in again)
    top = max(0, int(min(b.y - b.height / 2 for b in again) - margin))
    bottom = min(work.shape[0], int(max(b.y + b.height / 2 for b in again) + margin))
    left = max(0, int(min(b.x - b.length / 2 for b in again) - margin))
    right = min(work.shape[1], int(max(b.x + b.length / 2 for b in again) + margin))
    crop = straight[top:bottom, left:right].copy()
    straight.fill(0)
    return crop if crop.size else None


_ENGINE: Final = _Engine()


# --- the MRZ --------------------------------------------------------------------------------------------------


def _digits(text: str) -> str:
    return "".join(_TO_DIGIT.get(c, c) for c in text)


def _letters(text: str) -> str:
    return "".join(_TO_LETTER.get(c, c) for c in text)


def _line2_by_type(line: str) -> str:
    """TD3 line 2 with confusable characters fixed where the position's type decides (9303 part 4 §4.2.2)."""
    return (
        line[0:9]  # document number: letters and digits both allowed, left to the check digits
        + _digits(line[9])
        + _letters(line[10:13])  # nationality
        + _digits(line[13:20])  # birth date and its check digit
        + line[20]  # sex
        + _digits(line[21:28])  # expiry and its check digit
        + line[28:42]  # optional data: either type
        + ("<" if line[42] == "<" else _digits(line[42]))
        + _digits(line[43])
    )


def _fit_line2(raw: str) -> str | None:
    """A line read as TD3 line 2 at 44 characters: a filler run miscounted by OCR is made good in the optional data.

    The fields BAC needs come first (positions 0–27) and the check digits last (42, 43); only the run of fillers
    in between is stretched or shrunk, so no field moves. The composite check digit then tells if that was right.
    """
    if len(raw) == TD3_LINE:
        return raw
    if not TD3_LINE - 6 <= len(raw) <= TD3_LINE + 6:
        return None
    head, middle, tail = raw[:28], raw[28:-2], raw[-2:]
    core = middle.rstrip("<")
    if len(core) > 14:
        return None
    return head + core.ljust(14, "<") + tail


def _composite(line: str) -> str:
    return line[0:10] + line[13:20] + line[21:43]


def _digits_hold(line: str) -> bool:
    optional_ok = check_digit(line[28:42]) == line[42] or (line[42] == "<" and line[28:42].strip("<") == "")
    return (
        check_digit(line[0:9]) == line[9]
        and check_digit(line[13:19]) == line[19]
        and check_digit(line[21:27]) == line[27]
        and optional_ok
        and check_digit(_composite(line)) == line[43]
    )


def _number_variants(number: str, count: int) -> Iterator[str]:
    """The document number with exactly `count` confusable characters swapped."""
    places = [i for i, c in enumerate(number) if c in _AMBIGUOUS]
    for chosen in itertools.combinations(places, count):
        for swaps in itertools.product(*(_AMBIGUOUS[number[i]] for i in chosen)):
            chars = list(number)
            for i, swap in zip(chosen, swaps, strict=True):
                chars[i] = swap
            yield "".join(chars)


def validate_td3_line2(raw: str) -> str | None:
    """TD3 line 2 as printed, if `raw` can be read as one whose check digits all hold; None if not.

    The reading as it came (with type-decided fixes) wins if its check digits hold. Otherwise confusable characters
    in the document number are swapped: the fewest swaps that make every check digit hold, and only if they leave a
    single reading. A check digit printed or read wrong is never "corrected" into a different number.
    """
    fitted = _fit_line2(raw)
    if fitted is None:
        return None
    line = _line2_by_type(fitted)
    if not _TD3_LINE2.fullmatch(line):
        return None
    if _digits_hold(line):
        return line
    # The fewest swaps that make every check digit hold. The composite adds nothing here (the number's characters
    # carry the same weights in it), so one check digit has to choose: where it leaves several, the one shaped as
    # most document numbers are (letters, then digits) is taken, and none if that does not single one out.
    for count in range(1, MAX_NUMBER_FIXES + 1):
        good = {v for v in _number_variants(line[0:9], count) if _digits_hold(v + line[9:])}
        if len(good) > 1:
            good = {v for v in good if _USUAL_NUMBER.fullmatch(v)}
        if len(good) == 1:
            return good.pop() + line[9:]
        if good:
            return None
    return None


def _mrz_candidates(text: str) -> list[str]:
    """Lines of the OCR text that have the shape of TD3 line 2 (spaces dropped), after a `P` line where there is one."""
    lines = [re.sub(r"\s+", "", line) for line in text.splitlines()]
    lines = [line for line in lines if line]
    shaped = [
        (i, line)
        for i, line in enumerate(lines)
        if TD3_LINE - 6 <= len(line) <= TD3_LINE + 6
        and _TD3_LINE2.fullmatch(_line2_by_type(_fit_line2(line) or line))
    ]
    # Line 2 under a line 1 (P, the issuer, the name in letters and fillers) first; a lone line 2 after.
    shaped.sort(key=lambda item: not (item[0] > 0 and lines[item[0] - 1].startswith("P")))
    return [line for _, line in shaped]


def _looks_like_mrz(text: str) -> bool:
    return any(line.count("<") >= 3 and len(line) >= 30 for line in re.sub(r"[ \t]", "", text).splitlines())


def passport_fields(text: str) -> OcrFields:
    """BAC's fields from the OCR text of a data page: OcrError(not_found | check_digit) if they cannot be had."""
    candidates = _mrz_candidates(text)
    for candidate in candidates:
        line = validate_td3_line2(candidate)
        if line is not None:
            return OcrFields(
                OcrKind.passport,
                {
                    "document_number": bytearray(line[0:9].rstrip("<").encode()),
                    "birth": bytearray(line[13:19].encode()),
                    "expiry": bytearray(line[21:27].encode()),
                },
            )
    if candidates or _looks_like_mrz(text):
        raise OcrError(OcrFailure.check_digit, "an MRZ was read but its check digits do not hold")
    raise OcrError(OcrFailure.not_found, "no MRZ in the picture")


# --- the residence card number --------------------------------------------------------------------------------


def _card_number_by_type(token: str) -> str:
    return _letters(token[0:2]) + _digits(token[2:10]) + _letters(token[10:12])


MAX_CARD_FIXES: Final = (
    2  # confusable characters fixed by type in a card number; more is garbage of the same length
)


def card_number_fields(text: str) -> OcrFields:
    """The residence card number from the OCR text of the card's face: the one run of its shape, else OcrError.

    The number has no check digit, so the shape must carry the weight: a run of twelve characters that is two
    letters, eight digits, two letters once at most MAX_CARD_FIXES confusable characters are read by type. The run needing the
    fewest fixes wins; two different ones at that count are refused as ambiguous. A run inside a slightly longer
    token is also looked at (a stroke of 番号 beside the number read as a letter).
    """
    length = RESIDENCE_CARD_NUMBER_LENGTH
    by_fixes: dict[int, set[str]] = {}
    for token in re.split(r"[^A-Z0-9]+", text):
        if not length <= len(token) <= length + 2:
            continue
        for start in range(len(token) - length + 1):
            run = token[start : start + length]
            fixed = _card_number_by_type(run)
            fixes = sum(a != b for a, b in zip(run, fixed, strict=True)) + (len(token) - length)
            if fixes <= MAX_CARD_FIXES and _CARD_NUMBER.fullmatch(fixed):
                by_fixes.setdefault(fixes, set()).add(fixed)
    if not by_fixes:
        raise OcrError(OcrFailure.not_found, "no card number in the picture")
    best = by_fixes[min(by_fixes)]
    if len(best) > 1:
        raise OcrError(OcrFailure.ambiguous, f"{len(best)} different card numbers in the picture")
    return OcrFields(OcrKind.residence_card, {"card_number": bytearray(best.pop().encode())})


# --- entry points ---------------------------------------------------------------------------------------------


def _read_passport(work: Gray, timeout_s: float) -> OcrFields:
    """The MRZ band cut out and straightened first; then the whole still, straightened by the MRZ's baseline if
    Tesseract saw one askew; sparse mode last. The first reading whose check digits hold is the answer."""
    failures: list[OcrError] = []
    crops: list[Gray] = []

    def attempt(grey: Gray, *, sparse: bool = False) -> OcrFields | None:
        try:
            return passport_fields(
                _ENGINE.recognise(grey, MRZ_ALPHABET, sparse=sparse, timeout_s=timeout_s).text
            )
        except OcrError as exc:
            if exc.failure in (OcrFailure.timeout, OcrFailure.busy):
                raise
            failures.append(exc)
            return None

    try:
        band = _mrz_crop(work)
        if band is not None:
            crops.append(band)
            if found := attempt(band):
                return found
            crops.append(_scaled(band, 1.5))  # thin strokes read better a little larger
            if found := attempt(crops[-1]):
                return found
        reading = _ENGINE.recognise(work, MRZ_ALPHABET, sparse=False, timeout_s=timeout_s)
        try:
            return passport_fields(reading.text)
        except OcrError as exc:
            failures.append(exc)
        skew = skew_of(reading)
        if abs(skew) >= 0.3:
            crops.append(_rotated(work, skew))
            if found := attempt(crops[-1]):
                return found
        if found := attempt(work if abs(skew) < 0.3 else crops[-1], sparse=True):
            return found
    finally:
        for crop in crops:
            crop.fill(0)
    # A check-digit failure anywhere says more than "not found" elsewhere: an MRZ was there.
    raise next((f for f in failures if f.failure is OcrFailure.check_digit), failures[-1])


def _read_card_number(work: Gray, timeout_s: float) -> OcrFields:
    """Sparse text (the number stands alone in a corner); a noisy still once more after a 3×3 median filter."""
    import cv2

    try:
        return card_number_fields(
            _ENGINE.recognise(work, CARD_ALPHABET, sparse=True, timeout_s=timeout_s).text
        )
    except OcrError as exc:
        if exc.failure is not OcrFailure.not_found:
            raise
    smooth: Gray = cv2.medianBlur(work, 3)  # type: ignore[assignment]
    try:
        return card_number_fields(
            _ENGINE.recognise(smooth, CARD_ALPHABET, sparse=True, timeout_s=timeout_s).text
        )
    finally:
        smooth.fill(0)


def read_still(
    still: bytes | Gray | VideoFrame, kind: OcrKind, *, timeout_s: float = OCR_TIMEOUT_S
) -> OcrFields:
    """Measure, decode and read one still (blocking: call from a worker thread). OcrError says why not."""
    grey = grey_of(still)
    work = _work_size(grey)
    try:
        if kind is OcrKind.passport:
            return _read_passport(work, timeout_s)
        return _read_card_number(work, timeout_s)
    finally:
        grey.fill(0)
        if work is not grey:
            work.fill(0)


async def read_still_async(
    still: bytes | Gray | VideoFrame, kind: OcrKind, *, timeout_s: float = OCR_TIMEOUT_S
) -> OcrFields:
    """`read_still` off the event loop; the loop gives up a little after Tesseract's own deadline would."""
    try:
        async with asyncio.timeout(3 * timeout_s + 2):  # up to two recognitions and the engine's first load
            return await asyncio.to_thread(read_still, still, kind, timeout_s=timeout_s)
    except TimeoutError as exc:
        raise OcrError(OcrFailure.timeout, "the reading did not finish in time") from exc
