"""Time-stretching a clip with ffmpeg's ``atempo`` (WSOLA-like, pitch kept).

Used only where the synthesizer has no native speed control: re-synthesis at a higher
native speed sounds better (``design.md``). ``atempo`` measured best and fastest of the
stretchers tried here (``shared/models.md``), but its output length is not exact, so the
result is trimmed or padded to exactly ``round(len / factor)`` samples.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import ffmpeg
import numpy as np
import soundfile as sf

from dubpreview.media.ffmpeg import run

ATEMPO_RANGE = (0.5, 100.0)
"""atempo's accepted factor per filter instance (ffmpeg 5+)."""


def time_stretch(samples: np.ndarray, rate: int, factor: float) -> np.ndarray:
    """Play ``samples`` (float32 mono, ``rate`` Hz) ``factor`` times faster, pitch kept.

    Returns float32 mono of exactly ``round(len(samples) / factor)`` samples.

    Raises:
        ValueError: ``factor`` outside 0.5-100.
        DubError: ffmpeg failed.
    """
    if not ATEMPO_RANGE[0] <= factor <= ATEMPO_RANGE[1]:
        raise ValueError(f"atempo factor {factor} outside {ATEMPO_RANGE}")
    target = int(round(len(samples) / factor))
    if factor == 1.0 or not len(samples):
        out = samples.astype(np.float32)
    else:
        with tempfile.TemporaryDirectory(prefix="dubpreview-stretch-") as tmp:
            src = Path(tmp) / "in.wav"
            sf.write(src, samples, rate, subtype="FLOAT")
            raw = run(ffmpeg.input(str(src)).filter("atempo", factor)
                      .output("pipe:", format="f32le", ac=1, ar=rate), "time-stretch a clip", capture_stdout=True)
        out = np.frombuffer(raw, dtype="<f4").astype(np.float32)
    if len(out) >= target:
        return out[:target].copy()
    return np.pad(out, (0, target - len(out)))
