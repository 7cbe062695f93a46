"""Untrusted images: the size is read from the header before a pixel is decoded, and decoding runs off the loop.

A few kilobytes of PNG (an IHDR of 12,000 × 12,000 and zlib-compressed zeros) decode to hundreds of megabytes.
So an image is first opened lazily — Pillow's `Image.open` reads only the header (PNG IHDR, JPEG SOFn, the
JPEG 2000 image-size marker) — and refused on its pixel count; only then is it decoded, in a worker thread, at
most `DECODE_SLOTS` at a time per event loop, so what a decode takes is bounded and the loop keeps serving.
"""

from __future__ import annotations

import asyncio
import io
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from PIL import Image, UnidentifiedImageError

T = TypeVar("T")

# Two decodes at once: with the callers' pixel limits (≤ 25 MP, 4 bytes a pixel) that is ≤ 200 MB in flight.
DECODE_SLOTS = 2
_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()


class ImageRefused(ValueError):
    """The bytes are not an image of an accepted format, or not a readable one."""


class ImageTooLarge(ImageRefused):
    """The header declares more pixels than the caller accepts (a decompression bomb, or simply too big)."""


@dataclass(frozen=True)
class ImageHeader:
    format: str
    width: int
    height: int


def read_header(data: bytes, *, formats: Sequence[str], max_pixels: int) -> ImageHeader:
    """Format and size from the header alone (no pixel is decoded); ImageRefused or ImageTooLarge otherwise."""
    try:
        # Pillow warns past its own limit (an exception where warnings are errors) and raises past twice that; no
        # filter is changed here (catch_warnings is not thread-safe): the pixel check below refuses either way.
        with Image.open(io.BytesIO(data), formats=list(formats)) as image:
            header = ImageHeader(image.format or "", image.width, image.height)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLarge(f"the image declares more than {max_pixels} pixels") from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise ImageRefused(f"the bytes are not a readable {' or '.join(formats)} image") from exc
    if header.width <= 0 or header.height <= 0:
        raise ImageRefused("the image has no pixels")
    if header.width * header.height > max_pixels:
        raise ImageTooLarge(
            f"the image is {header.width}×{header.height} ({header.width * header.height} pixels); "
            f"at most {max_pixels} are accepted"
        )
    return header


def decode(data: bytes, *, formats: Sequence[str], max_pixels: int, use: Callable[[Image.Image], T]) -> T:
    """Check the header, then decode every pixel and hand the image to `use` (blocking: run it in a thread)."""
    read_header(data, formats=formats, max_pixels=max_pixels)
    try:
        with Image.open(io.BytesIO(data), formats=list(formats)) as probe:
            probe.verify()  # structure and checksums, without decoding
        with Image.open(io.BytesIO(data), formats=list(formats)) as image:
            image.load()  # truncated or corrupt pixel data fails here
            return use(image)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ImageRefused(f"the bytes are not a readable {' or '.join(formats)} image") from exc


async def decoded(
    data: bytes, *, formats: Sequence[str], max_pixels: int, use: Callable[[Image.Image], T]
) -> T:
    """`decode` without blocking the event loop: the header is checked here, the pixels in a worker thread."""
    read_header(data, formats=formats, max_pixels=max_pixels)  # a bomb is refused before it costs a thread
    loop = asyncio.get_running_loop()
    slots = _slots.get(loop)
    if slots is None:
        slots = _slots[loop] = asyncio.Semaphore(DECODE_SLOTS)
    async with slots:
        return await asyncio.to_thread(decode, data, formats=formats, max_pixels=max_pixels, use=use)
