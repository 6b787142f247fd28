"""True peak (ITU-R BS.1770-4 Annex 2): the 4x oversampled peak envelope of a programme and
its maximum, in bounded memory, skipping what cannot reach the level a caller needs.

The interpolation is :func:`scipy.signal.resample_poly` with its own default filter; the
bound that lets a quiet stretch go without oversampling is the filter's largest polyphase
L1 norm (:data:`GAIN`).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import maximum_filter1d
from scipy.signal import firwin, resample_poly

OVERSAMPLE = 4
"""True-peak oversampling factor (BS.1770-4 Annex 2: 4x at 48 kHz)."""


FIR = firwin(2 * 10 * OVERSAMPLE + 1, 1.0 / OVERSAMPLE, window=("kaiser", 5.0))
"""The 4x interpolation filter: :func:`scipy.signal.resample_poly`'s own default design
(10 x ``up`` taps each side, Kaiser window, beta 5), passed to it so it is designed once."""
GAIN = float(max(np.abs(FIR[p::OVERSAMPLE] * OVERSAMPLE).sum() for p in range(OVERSAMPLE))) * (1 + 1e-5)
"""Bound on an oversampled point over the input samples it is made from: the largest L1 norm
of the filter's polyphase branches (|y| <= sum |h_k| max |x|; about 2.24, +7 dB)."""
SUB_BLOCK = 4096
"""Samples per sub-block of :func:`peak_envelope`'s test: a sub-block whose samples (and the
64 around it) times :data:`GAIN` stay under the ``floor`` is not oversampled."""


def peak_envelope(x: np.ndarray, chunk: int = 1 << 18, reduce: bool = False,
                  floor: float = 0.0) -> np.ndarray | float:
    """Per input sample, the largest |value| over channels and the 4x oversampled points
    around it (float32 ``(n,)``); computed in chunks with margins (bounded memory).
    ``reduce``: return only its maximum (a float), without the ``(n,)`` array.

    ``floor`` (linear): values the caller does not need above it. Where no oversampled point
    can exceed it (the samples within 64 of a :data:`SUB_BLOCK`, times :data:`GAIN`), the
    envelope is the sample peak, itself under ``floor``: exact for a limiter whose ceiling
    is ``floor`` and for a maximum already at least ``floor``, and most of a programme is
    quieter than its peaks (issue 16: the true peak was half of a warm render)."""
    a = x if x.ndim == 2 else x[:, None]
    n = len(a)
    out = None if reduce else np.empty(n, dtype=np.float32)
    top = float(np.abs(a).max()) if reduce and n else 0.0  # the true peak is at least the sample peak
    margin = 64
    for s in range(0, n, chunk):
        e = min(n, s + chunk)
        lo, hi = max(0, s - margin), min(n, e + margin)
        threshold = max(floor, top if reduce else 0.0)
        if threshold <= 0.0:  # every point needed: the chunk oversampled whole
            up = resample_poly(a[lo:hi].astype(np.float32), OVERSAMPLE, 1, axis=0, window=FIR)
            up = columns_max(columns_max(np.abs(up)).reshape(-1, OVERSAMPLE))
            part = np.maximum(up[s - lo: e - lo], columns_max(np.abs(a[s:e])))
            if reduce:
                top = max(top, float(part.max()))
            else:
                out[s:e] = part
            continue
        near = maximum_filter1d(columns_max(np.abs(a[lo:hi])).astype(np.float32, copy=False), 2 * margin + 1)
        part = columns_max(np.abs(a[s:e])).astype(np.float32, copy=False)
        core = near[s - lo: e - lo]
        blocks = -(-len(core) // SUB_BLOCK)
        padded = np.zeros(blocks * SUB_BLOCK, dtype=np.float32)
        padded[:len(core)] = core
        hot = padded.reshape(blocks, SUB_BLOCK).max(axis=1) * GAIN > threshold
        k = 0
        while k < blocks:  # each run of hot sub-blocks oversampled at once
            if not hot[k]:
                k += 1
                continue
            j = k
            while j < blocks and hot[j]:
                j += 1
            u, v = s + k * SUB_BLOCK, min(e, s + j * SUB_BLOCK)
            ulo, vhi = max(0, u - margin), min(n, v + margin)
            up = resample_poly(a[ulo:vhi].astype(np.float32), OVERSAMPLE, 1, axis=0, window=FIR)
            up = columns_max(columns_max(np.abs(up)).reshape(-1, OVERSAMPLE))
            np.maximum(part[u - s: v - s], up[u - ulo: v - ulo], out=part[u - s: v - s])
            k = j
        if reduce:
            top = max(top, float(part.max()) if len(part) else 0.0)
        else:
            out[s:e] = part
    return top if reduce else out


def columns_max(m: np.ndarray) -> np.ndarray:
    """Row-wise maximum of a ``(k, c)`` array with few columns, as ``c - 1`` element-wise
    maxima (numpy's ``max(axis=1)`` over 2-4 columns is several times slower)."""
    out = np.array(m[:, 0], copy=True)
    for j in range(1, m.shape[1]):
        np.maximum(out, m[:, j], out=out)
    return out


def true_peak_db(x: np.ndarray) -> float:
    """True peak (dBTP) of ``x`` (``(n,)`` or ``(n, channels)``): the maximum of the 4x
    oversampled signal (ITU-R BS.1770-4 Annex 2); ``-inf`` for silence."""
    if len(x) == 0:
        return -np.inf
    peak = peak_envelope(np.asarray(x), reduce=True)
    return float(20 * np.log10(peak)) if peak > 0 else -np.inf
