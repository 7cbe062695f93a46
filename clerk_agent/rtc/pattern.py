"""The synthetic camera's picture: moving colour bars, a bouncing box, a burnt-in clock and a frame code.

Drawn straight into YUV 4:2:0 planes with numpy slices (no per-pixel Python, no colour conversion), so a
640×480 frame costs well under a millisecond. The frame code is a row of black/white blocks that survives
VP8 at call bitrates, so a receiver can read which frame it decoded (`read_frame_code`).
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

Plane = npt.NDArray[np.uint8]

CODE_BITS: Final = 24
_BLACK: Final = 16
_WHITE: Final = 235
# SMPTE-like bars as (Y, U, V): white, yellow, cyan, green, magenta, red, blue, black.
_BARS: Final = (
    (235, 128, 128),
    (210, 16, 146),
    (170, 166, 16),
    (145, 54, 34),
    (106, 202, 222),
    (81, 90, 240),
    (41, 240, 110),
    (16, 128, 128),
)
# Seven-segment layout: which of the segments a..g each glyph lights.
_SEGMENTS: Final = {
    "0": "abcdef",
    "1": "bc",
    "2": "abdeg",
    "3": "abcdg",
    "4": "bcfg",
    "5": "acdfg",
    "6": "acdefg",
    "7": "abc",
    "8": "abcdefg",
    "9": "abcdfg",
}


class PatternPainter:
    """Paints frame n of the pattern into a (H*3/2, W) yuv420p buffer."""

    def __init__(self, width: int, height: int) -> None:
        if width % 32 or height % 4 or width < 160 or height < 120:
            raise ValueError(
                f"pattern size must be ≥160×120, width a multiple of 32, height of 4: {width}×{height}"
            )
        self.width = width
        self.height = height
        bar = np.arange(width) * len(_BARS) // width
        table = np.array(_BARS, dtype=np.uint8)
        # Each row twice over, so that a scrolled row is a slice rather than an np.roll copy.
        self._y_row: Plane = np.tile(table[bar, 0], 2)
        self._u_row: Plane = np.tile(table[bar[::2], 1], 2)
        self._v_row: Plane = np.tile(table[bar[::2], 2], 2)
        self._digit_h = max(height // 12, 20) // 2 * 2
        self._digit_w = self._digit_h // 2
        self._stroke = max(self._digit_h // 9, 2)
        self._block_w = width // (CODE_BITS + 8)
        self._block_h = max(height // 30, 8)

    def new_buffer(self) -> Plane:
        """A zeroed frame buffer in the layout `VideoFrame.from_ndarray(..., format="yuv420p")` takes."""
        return np.zeros((self.height * 3 // 2, self.width), dtype=np.uint8)

    def paint(self, buffer: Plane, index: int, clock_text: str) -> None:
        """Draw frame `index` with `clock_text` (digits, ':' and '.') burnt in."""
        self.paint_planes(*self._planes(buffer), index, clock_text)

    def paint_planes(self, y: Plane, u: Plane, v: Plane, index: int, clock_text: str) -> None:
        """`paint` into separate planes (e.g. a VideoFrame's own, so nothing is copied afterwards)."""
        w = self.width
        shift = (index * 4) % w  # bars scroll 4 px per frame: motion the encoder must code
        y[:] = self._y_row[w - shift : 2 * w - shift]
        u[:] = self._u_row[w // 2 - shift // 2 : w - shift // 2]
        v[:] = self._v_row[w // 2 - shift // 2 : w - shift // 2]
        self._box(y, u, v, index)
        self._clock(y, u, v, clock_text)
        self._code(y, u, v, index)

    def _planes(self, buffer: Plane) -> tuple[Plane, Plane, Plane]:
        h, w = self.height, self.width
        y = buffer[:h]
        u = buffer[h : h + h // 4].reshape(h // 2, w // 2)
        v = buffer[h + h // 4 :].reshape(h // 2, w // 2)
        return y, u, v

    def _box(self, y: Plane, u: Plane, v: Plane, index: int) -> None:
        size = self.height // 6 // 2 * 2
        span_x, span_y = self.width - size, self.height - size
        # Bounce: a triangle wave over the free span, even coordinates so chroma lines up.
        x = abs((index * 6) % (2 * span_x) - span_x) // 2 * 2
        top = abs((index * 4) % (2 * span_y) - span_y) // 2 * 2
        y[top : top + size, x : x + size] = _WHITE
        u[top // 2 : (top + size) // 2, x // 2 : (x + size) // 2] = 128
        v[top // 2 : (top + size) // 2, x // 2 : (x + size) // 2] = 128

    def _clock(self, y: Plane, u: Plane, v: Plane, text: str) -> None:
        dh, dw, s = self._digit_h, self._digit_w, self._stroke
        pad = s * 2
        advance = dw + s * 2
        width = min(len(text) * advance + pad * 2, self.width) // 2 * 2
        height = dh + pad * 2
        y[:height, :width] = _BLACK
        u[: height // 2, : width // 2] = 128
        v[: height // 2, : width // 2] = 128
        x = pad
        for char in text:
            if x + dw > width:
                break
            self._glyph(y, char, pad, x)
            x += advance

    def _glyph(self, y: Plane, char: str, top: int, left: int) -> None:
        dh, dw, s = self._digit_h, self._digit_w, self._stroke
        mid = top + dh // 2 - s // 2
        if char == ":":
            y[top + dh // 4 : top + dh // 4 + s, left + dw // 2 - s // 2 : left + dw // 2 + s] = _WHITE
            y[top + 3 * dh // 4 : top + 3 * dh // 4 + s, left + dw // 2 - s // 2 : left + dw // 2 + s] = (
                _WHITE
            )
            return
        if char == ".":
            y[top + dh - s : top + dh, left + dw // 2 - s // 2 : left + dw // 2 + s] = _WHITE
            return
        rects = {
            "a": (top, top + s, left, left + dw),
            "b": (top, mid + s, left + dw - s, left + dw),
            "c": (mid, top + dh, left + dw - s, left + dw),
            "d": (top + dh - s, top + dh, left, left + dw),
            "e": (mid, top + dh, left, left + s),
            "f": (top, mid + s, left, left + s),
            "g": (mid, mid + s, left, left + dw),
        }
        for segment in _SEGMENTS.get(char, ""):
            r0, r1, c0, c1 = rects[segment]
            y[r0:r1, c0:c1] = _WHITE

    def _code(self, y: Plane, u: Plane, v: Plane, index: int) -> None:
        bw, bh = self._block_w, self._block_h
        top = self.height - 2 * bh
        y[top - bh // 2 :, :] = _BLACK
        u[(top - bh // 2) // 2 :, :] = 128
        v[(top - bh // 2) // 2 :, :] = 128
        for bit in range(CODE_BITS):
            if index >> (CODE_BITS - 1 - bit) & 1:
                left = (bit + 4) * bw
                y[top : top + bh, left : left + bw] = _WHITE


def read_frame_code(luma_plane: npt.ArrayLike) -> int:
    """Read the frame index from the luma plane of a decoded (possibly rescaled) pattern frame."""
    luma = np.asarray(luma_plane)
    height, width = luma.shape
    bw = width / (CODE_BITS + 8)
    bh = max(height // 30, 8)
    row = height - 2 * bh + bh // 2
    value = 0
    for bit in range(CODE_BITS):
        column = int((bit + 4.5) * bw)
        value = value << 1 | int(luma[row, column] > (_BLACK + _WHITE) // 2)
    return value
