"""Pitch and formant modification with the WORLD vocoder (pyworld).

WORLD (Morise, Yokomori and Ozawa, "WORLD: a vocoder-based high-quality speech synthesis
system for real-time applications", IEICE Trans. Inf. & Syst. E99-D(7), 2016) splits
speech into F0 (DIO + StoneMask), a smooth spectral envelope (CheapTrick) and
aperiodicity (D4C), and synthesises it back. Changing F0 moves the pitch; warping the
envelope's frequency axis moves the formants (a shorter or longer vocal tract) without
changing the words or the timing. No model weights: signal processing only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from dubpreview.errors import DubError

FRAME_MS = 5.0
"""WORLD analysis hop in milliseconds."""
F0_FLOOR, F0_CEIL = 60.0, 500.0
"""Search range of F0 in Hz (adult and child speech)."""


@dataclass
class F0Stats:
    """F0 statistics of voiced frames: ``median_hz`` (Hz), ``log_mean``/``log_std`` (of
    natural-log Hz), ``voiced_s`` seconds of voiced speech analysed."""

    median_hz: float
    log_mean: float
    log_std: float
    voiced_s: float

    def to_dict(self) -> dict:
        return {k: round(v, 4) for k, v in asdict(self).items()}


def _check(samples: np.ndarray, rate: int) -> np.ndarray:
    x = np.asarray(samples)
    if x.ndim != 1:
        raise DubError(f"pitch analysis needs mono audio of shape (n,), got shape {x.shape}")
    if rate < 8000:
        raise DubError(f"pitch analysis needs a sample rate of at least 8 kHz, not {rate} Hz")
    return x.astype(np.float64)


def f0_contour(samples: np.ndarray, rate: int) -> np.ndarray:
    """F0 per 5 ms frame in Hz (0 where unvoiced), DIO refined by StoneMask; ``samples``
    mono float of shape ``(n,)`` at ``rate`` Hz."""
    import pyworld as pw

    x = _check(samples, rate)
    if x.size < rate // 20:
        return np.zeros(0)
    f0, t = pw.dio(x, rate, f0_floor=F0_FLOOR, f0_ceil=F0_CEIL, frame_period=FRAME_MS)
    return pw.stonemask(x, f0, t, rate)


def f0_stats(samples: np.ndarray, rate: int) -> F0Stats:
    """:class:`F0Stats` of ``samples`` (mono, shape ``(n,)``, ``rate`` Hz).

    Raises:
        DubError: fewer than 0.2 s of voiced speech.
    """
    f0 = f0_contour(samples, rate)
    v = f0[f0 > 0]
    if v.size * FRAME_MS / 1000 < 0.2:
        raise DubError("too little voiced speech to measure the pitch (under 0.2 s)")
    lv = np.log(v)
    lo, hi = np.percentile(lv, [5, 95])  # drop octave errors at the tails
    lv = lv[(lv >= lo) & (lv <= hi)] if lv.size > 20 else lv
    return F0Stats(float(np.exp(np.median(lv))), float(lv.mean()), float(lv.std()), v.size * FRAME_MS / 1000)


@dataclass
class VoiceTransform:
    """A pitch map and formant warp.

    Voiced F0 maps as ``log f0' = target_log_mean + (log f0 - source_log_mean) * range_ratio``
    (a straight line in log-Hz: the dub voice's register moved onto the actor's, its
    intonation range scaled by ``range_ratio``); the spectral envelope is resampled at
    ``f / formant_ratio`` (``formant_ratio`` > 1 raises the formants, as a shorter vocal
    tract does). The identity is ``source_log_mean == target_log_mean``, ratios 1.
    """

    source_log_mean: float
    target_log_mean: float
    range_ratio: float = 1.0
    formant_ratio: float = 1.0

    def to_dict(self) -> dict:
        return {k: round(v, 5) for k, v in asdict(self).items()}

    @property
    def is_identity(self) -> bool:
        return (abs(self.source_log_mean - self.target_log_mean) < 1e-4 and abs(self.range_ratio - 1) < 1e-4
                and abs(self.formant_ratio - 1) < 1e-4)


def warp_envelope(sp: np.ndarray, ratio: float) -> np.ndarray:
    """Envelope ``sp`` (frames x bins, power) with its frequency axis scaled by ``ratio``:
    the value at bin ``k`` becomes the original's at ``k / ratio`` (linear interpolation,
    the top bin held)."""
    if abs(ratio - 1.0) < 1e-6:
        return sp
    n = sp.shape[1]
    src = np.clip(np.arange(n) / ratio, 0, n - 1)
    lo = np.floor(src).astype(int)
    hi = np.minimum(lo + 1, n - 1)
    w = src - lo
    return np.ascontiguousarray(sp[:, lo] * (1 - w) + sp[:, hi] * w)


def analyse(samples: np.ndarray, rate: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """WORLD features of mono ``samples``: (f0 Hz per 5 ms frame, envelope, aperiodicity)."""
    import pyworld as pw

    x = _check(samples, rate)
    f0, t = pw.dio(x, rate, f0_floor=F0_FLOOR, f0_ceil=F0_CEIL, frame_period=FRAME_MS)
    f0 = pw.stonemask(x, f0, t, rate)
    sp = pw.cheaptrick(x, f0, t, rate)
    ap = pw.d4c(x, f0, t, rate)
    return f0, sp, ap


def synthesize(f0: np.ndarray, sp: np.ndarray, ap: np.ndarray, rate: int, transform: VoiceTransform,
               length: int | None = None) -> np.ndarray:
    """WORLD synthesis of features after ``transform``; float32 mono at ``rate`` Hz,
    cut or zero-padded to ``length`` samples when given, peak kept under 0.99."""
    import pyworld as pw

    f0 = f0.copy()
    v = f0 > 0
    f0[v] = np.exp(transform.target_log_mean + (np.log(f0[v]) - transform.source_log_mean) * transform.range_ratio)
    f0 = np.clip(f0, 0, F0_CEIL * 1.5)
    y = pw.synthesize(f0, warp_envelope(sp, transform.formant_ratio), ap, rate, frame_period=FRAME_MS)
    if length is not None:
        y = y[:length] if len(y) >= length else np.pad(y, (0, length - len(y)))
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    if peak > 0.99:
        y = y * (0.99 / peak)
    return y.astype(np.float32)


def apply(samples: np.ndarray, rate: int, transform: VoiceTransform) -> np.ndarray:
    """``samples`` (mono float, shape ``(n,)``, ``rate`` Hz) with pitch and formants changed
    by ``transform``; same length, float32. The identity returns the input unchanged."""
    x = _check(samples, rate)
    if transform.is_identity or x.size < rate // 20:
        return x.astype(np.float32)
    f0, sp, ap = analyse(x, rate)
    return synthesize(f0, sp, ap, rate, transform, length=len(x))
