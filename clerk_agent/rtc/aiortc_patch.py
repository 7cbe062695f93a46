"""Patch to aiortc 1.16: the audio level of each sent frame computed with numpy, not a Python loop.

aiortc's sender puts an RFC 6465 audio level in every Opus packet's header extension and computes it in
`aiortc.rtp.compute_audio_level_dbov` by unpacking the frame's 16-bit samples one by one in Python: 960
iterations per 20 ms frame, on the event loop, 50 times a second for each call. `install()` replaces that
function with the same formula over a numpy view of the samples (the result is identical, see the test), in
the module the sender reads it from at each call. docs/live-link.md §11.

Dropping it: once aiortc computes the level without a per-sample loop (look at `compute_audio_level_dbov`
in aiortc/rtp.py), delete this module, its `install()` call in clerk_agent/rtc/peer.py and its test.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Final

import numpy as np
from av import AudioFrame

logger = logging.getLogger(__name__)

_MAX_SAMPLE: Final = 32767
_MIN_LEVEL: Final = -127
_original: Any = None


def audio_level_dbov(frame: AudioFrame) -> int:
    """RFC 6465 Appendix A level of the frame's first plane of s16 samples, as aiortc computes it."""
    samples = np.frombuffer(memoryview(frame.planes[0]), dtype=np.int16)
    if frame.samples == 0:
        return _MIN_LEVEL
    # Over the whole plane (all channels of packed stereo) divided by the per-channel count, like aiortc.
    energy = float(np.dot(samples.astype(np.float64), samples.astype(np.float64)))
    rms = math.sqrt(energy / (frame.samples * _MAX_SAMPLE * _MAX_SAMPLE))
    if rms <= 0:
        return _MIN_LEVEL
    return round(min(max(20 * math.log10(rms), _MIN_LEVEL), 0))


def install() -> bool:
    """Replace aiortc's audio level function; idempotent. False (and nothing changed) if aiortc has changed."""
    global _original
    from aiortc import rtp

    current = getattr(rtp, "compute_audio_level_dbov", None)
    if current is audio_level_dbov:
        return True
    if current is None or not callable(current):
        logger.warning("aiortc.rtp has no compute_audio_level_dbov: audio level patch not installed")
        return False
    _original = current
    rtp.compute_audio_level_dbov = audio_level_dbov
    return True
