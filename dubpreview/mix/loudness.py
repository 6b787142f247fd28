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


class LoudnessMeter:
    """BS.1770-4 integrated loudness of audio fed a block at a time (:meth:`add`, any block
    lengths, ``(m, channels)`` float at ``rate`` Hz): the K-weighting filters' state is
    carried from block to block and only the sum of squares per :data:`STEP_S` step and
    channel is kept (8 bytes per channel per 100 ms). :meth:`integrated` gives the LUFS of
    everything added so far."""

    def __init__(self, rate: int, channels: int):
        from scipy.signal import lfilter_zi

        self.rate, self.channels = rate, channels
        self.step = int(round(STEP_S * rate))
        self.frames = 0
        self._stages = _filters(rate)
        self._states = [[lfilter_zi(b, a) * 0.0 for b, a, _ in self._stages] for _ in range(channels)]
        self._sums: list[np.ndarray] = []
        self._tail = np.zeros((0, channels), np.float64)  # squares of a step not yet complete

    def add(self, block: np.ndarray) -> None:
        """Feed the next ``(m, channels)`` (or ``(m,)`` for one channel) samples."""
        from scipy.signal import lfilter

        part = np.asarray(block[:, None] if block.ndim == 1 else block, dtype=np.float64)
        if not len(part):
            return
        self.frames += len(part)
        sq = np.empty(part.shape, np.float64)
        for c in range(self.channels):
            y = part[:, c]
            for k, (b, a, gain) in enumerate(self._stages):
                y, self._states[c][k] = lfilter(b, a, y, zi=self._states[c][k])
                y = y * gain
            sq[:, c] = np.square(y)
        sq = np.concatenate([self._tail, sq]) if len(self._tail) else sq
        whole = len(sq) // self.step * self.step
        if whole:
            self._sums.append(sq[:whole].reshape(-1, self.step, self.channels).sum(axis=1))
        self._tail = sq[whole:]

    def step_energies(self) -> np.ndarray:
        """Sum of squares per step and channel so far, float64 ``(steps, channels)`` (the last
        step zero-padded)."""
        parts = self._sums + ([self._tail.sum(axis=0, keepdims=True)] if len(self._tail) else [])
        return np.concatenate(parts) if parts else np.zeros((0, self.channels))

    def integrated(self) -> float:
        """Integrated loudness (LUFS) of everything added; ``-inf`` for silence or less than
        one 400 ms block."""
        return gated_loudness(self.step_energies(), self.frames, self.rate)


def step_energies(x: np.ndarray, rate: int, chunk_s: float = CHUNK_S) -> np.ndarray:
    """Sum of squares of the K-weighted signal per :data:`STEP_S` step and channel:
    float64 ``(steps, channels)`` for ``x`` ``(n,)`` or ``(n, channels)`` at ``rate`` Hz
    (the last step zero-padded), measured :data:`CHUNK_S` at a time (:class:`LoudnessMeter`)."""
    meter = LoudnessMeter(rate, 1 if x.ndim == 1 else x.shape[1])
    chunk = int(chunk_s * rate)
    for s in range(0, len(x), chunk):
        meter.add(x[s:s + chunk])
    return meter.step_energies()


def integrated_loudness(x: np.ndarray, rate: int) -> float:
    """Integrated loudness (LUFS) of ``x`` (``(n,)`` or ``(n, channels)``, up to 5 channels
    in BS.1770 order, float) at ``rate`` Hz, ITU-R BS.1770-4: K-weighting, 400 ms blocks at
    75 % overlap, absolute gate -70 LUFS, relative gate -10 LU. ``-inf`` for silence or audio
    shorter than one block. Agrees with ``pyloudnorm.Meter(rate).integrated_loudness``
    (tests/test_separation.py) in bounded memory (module docstring)."""
    return gated_loudness(step_energies(x, rate), len(x), rate)


def gated_loudness(e: np.ndarray, n: int, rate: int) -> float:
    """BS.1770-4 section 2.8 gating on step energies ``e`` (``(steps, channels)``, see
    :func:`step_energies`) of ``n`` samples at ``rate`` Hz: LUFS, ``-inf`` when nothing is
    above the gates or ``n`` is shorter than one block."""
    if n < int(BLOCK_S * rate) or not len(e):
        return -np.inf
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
