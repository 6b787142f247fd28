"""Resampling for the speaker encoder (16 kHz)."""

from __future__ import annotations

import numpy as np


def to_16k(samples: np.ndarray, rate: int) -> np.ndarray:
    """Mono float ``samples`` (shape ``(n,)``) at ``rate`` Hz resampled to 16 kHz (polyphase,
    scipy ``resample_poly``), float32."""
    from scipy.signal import resample_poly

    if rate == 16000:
        return np.asarray(samples, np.float32)
    g = int(np.gcd(rate, 16000))
    return resample_poly(np.asarray(samples, np.float64), 16000 // g, rate // g).astype(np.float32)
