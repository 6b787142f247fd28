"""Integrated loudness (ITU-R BS.1770-4) of a whole programme in bounded memory.

``pyloudnorm.Meter.integrated_loudness`` copies its input to float64 and filters each
channel whole: about 4 bytes of float64 per input byte, 5.5 GB for an hour of 48 kHz stereo
float32. The same measurement is made here chunk by chunk: pyloudnorm's own K-weighting
filters (its ``Meter._filters``, pyloudnorm 0.2.0) run through ``scipy.signal.lfilter``
with their state carried from chunk to chunk, and only the sums of squares per 100 ms step
are kept; the 400 ms gating blocks (75 % overlap), the -70 LUFS absolute gate and the
-10 LU relative gate then follow BS.1770-4 section 2.8 on those sums, as pyloudnorm does.
Memory: one chunk (:data:`CHUNK_S`) in float64 plus 8 bytes per channel per 100 ms.
"""

from __future__ import annotations

import numpy as np

BLOCK_S = 0.4
"""Gating block (s), BS.1770-4."""
STEP_S = 0.1
"""Step between blocks (s): 75 % overlap."""
CHANNEL_GAINS = (1.0, 1.0, 1.0, 1.41, 1.41)
"""BS.1770-4 channel weights for L, R, C, Ls, Rs (pyloudnorm's order; the LFE is not measured)."""
CHUNK_S = 20.0
"""Seconds filtered at a time."""
ABSOLUTE_GATE = -70.0
RELATIVE_GATE = -10.0


def _filters(rate: int) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """pyloudnorm's K-weighting stages at ``rate``: (b, a, passband gain) each."""
    import pyloudnorm

    meter = pyloudnorm.Meter(rate)
    return [(np.asarray(f.b, np.float64), np.asarray(f.a, np.float64), float(f.passband_gain))
            for f in meter._filters.values()]


def step_energies(x: np.ndarray, rate: int, chunk_s: float = CHUNK_S) -> np.ndarray:
    """Sum of squares of the K-weighted signal per :data:`STEP_S` step and channel:
    float64 ``(steps, channels)`` for ``x`` ``(n,)`` or ``(n, channels)`` at ``rate`` Hz
    (the last step zero-padded)."""
    from scipy.signal import lfilter, lfilter_zi

    a2 = x[:, None] if x.ndim == 1 else x
    n, channels = a2.shape
    step = int(round(STEP_S * rate))
    chunk = max(1, int(chunk_s * rate) // step) * step
    stages = _filters(rate)
    states = [[lfilter_zi(b, a) * 0.0 for b, a, _ in stages] for _ in range(channels)]
    out = np.zeros((-(-n // step), channels), np.float64)
    for s in range(0, n, chunk):
        part = np.asarray(a2[s:s + chunk], dtype=np.float64)
        for c in range(channels):
            y = part[:, c]
            for k, (b, a, gain) in enumerate(stages):
                y, states[c][k] = lfilter(b, a, y, zi=states[c][k])
                y = y * gain
            sq = np.square(y)
            pad = (-len(sq)) % step
            if pad:
                sq = np.concatenate([sq, np.zeros(pad)])
            out[s // step: s // step + len(sq) // step, c] = sq.reshape(-1, step).sum(axis=1)
    return out


def integrated_loudness(x: np.ndarray, rate: int) -> float:
    """Integrated loudness (LUFS) of ``x`` (``(n,)`` or ``(n, channels)``, up to 5 channels
    in BS.1770 order, float) at ``rate`` Hz, ITU-R BS.1770-4: K-weighting, 400 ms blocks at
    75 % overlap, absolute gate -70 LUFS, relative gate -10 LU. ``-inf`` for silence or audio
    shorter than one block. Agrees with ``pyloudnorm.Meter(rate).integrated_loudness``
    (tests/test_separation.py) in bounded memory (module docstring)."""
    n = len(x)
    if n < int(BLOCK_S * rate):
        return -np.inf
    e = step_energies(x, rate)
    per = int(round(BLOCK_S / STEP_S))
    blocks = int(np.round((n / rate - BLOCK_S) / STEP_S)) + 1  # as BS.1770 (and pyloudnorm) count them
    csum = np.vstack([np.zeros((1, e.shape[1])), np.cumsum(e, axis=0)])
    hi = np.minimum(np.arange(blocks) + per, len(e))
    z = (csum[hi] - csum[np.arange(blocks)]) / (BLOCK_S * rate)  # (blocks, channels) mean squares
    g = np.asarray(CHANNEL_GAINS[: z.shape[1]])
    with np.errstate(divide="ignore"):
        power = z @ g
        loud = -0.691 + 10 * np.log10(power)
        above = loud >= ABSOLUTE_GATE
        if not above.any():
            return -np.inf
        gamma_r = -0.691 + 10 * np.log10(power[above].mean()) + RELATIVE_GATE
        keep = (loud > gamma_r) & above
        if not keep.any():
            return -np.inf
        return float(-0.691 + 10 * np.log10(power[keep].mean()))
