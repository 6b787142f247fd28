"""The broadcast-style programme: dub dialogue over the music-and-effects bed, at a loudness target.

Steps (:func:`mix_programme`):

1. the bed (``(n, 2)`` at 48 kHz) is scaled by ``bed_db`` and ducked under the dub lines:
   the whole original by ``duck_db`` when nothing was separated (the bed still holds the
   original dialogue), a separated bed only by ``bed_duck_db`` and only under lines where
   Silero VAD still hears speech in it (gentle sidechain-style ducking, linear ramps);
2. the dub stem (mono, already level-matched per line by
   :func:`dubpreview.mix.duck.dub_stem`) is added to both channels;
3. the sum is normalised to ``target_lufs`` integrated loudness (ITU-R BS.1770-4 K-weighting
   and gating via ``pyloudnorm``; EBU R128 recommends -23 LUFS) with the true peak held at or
   below ``true_peak_db`` dBTP by a look-ahead limiter on the 4x oversampled signal
   (BS.1770-4 Annex 2 true-peak meter), re-measured and corrected until within 0.1 LU.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import minimum_filter1d, uniform_filter1d
from scipy.signal import resample_poly

from dubpreview.mix.duck import MIX_RATE, duck_levels

OVERSAMPLE = 4
"""True-peak oversampling factor (BS.1770-4 Annex 2: 4x at 48 kHz)."""


@dataclass
class ProgrammeReport:
    """What normalisation did: ``gain_db`` applied (dB), ``lufs`` integrated loudness after
    (LUFS), ``true_peak_db`` after (dBTP), ``limited`` whether the limiter acted."""

    gain_db: float
    lufs: float
    true_peak_db: float
    limited: bool


def integrated_loudness(x: np.ndarray, rate: int = MIX_RATE) -> float:
    """Integrated loudness (LUFS) of ``x`` (``(n,)`` or ``(n, channels)``, float), ITU-R
    BS.1770-4 with pyloudnorm's filters, measured chunk by chunk
    (:func:`dubpreview.mix.loudness.integrated_loudness`); ``-inf`` for silence or audio
    shorter than 0.4 s."""
    from dubpreview.mix import loudness

    if len(x) < int(0.4 * rate) or not np.any(x):
        return -np.inf
    return loudness.integrated_loudness(x, rate)


def _peak_envelope(x: np.ndarray, chunk: int = 1 << 18, reduce: bool = False) -> np.ndarray | float:
    """Per input sample, the largest |value| over channels and the 4x oversampled points
    around it (float32 ``(n,)``); computed in chunks with margins (bounded memory).
    ``reduce``: return only its maximum (a float), without the ``(n,)`` array."""
    a = x if x.ndim == 2 else x[:, None]
    n = len(a)
    out = None if reduce else np.empty(n, dtype=np.float32)
    top = 0.0
    margin = 64
    for s in range(0, n, chunk):
        lo, hi = max(0, s - margin), min(n, s + chunk + margin)
        up = resample_poly(a[lo:hi].astype(np.float32), OVERSAMPLE, 1, axis=0)
        up = _columns_max(_columns_max(np.abs(up)).reshape(-1, OVERSAMPLE))
        e = min(n, s + chunk)
        part = np.maximum(up[s - lo: e - lo], _columns_max(np.abs(a[s:e])))
        if reduce:
            top = max(top, float(part.max()))
        else:
            out[s:e] = part
    return top if reduce else out


def _columns_max(m: np.ndarray) -> np.ndarray:
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
    peak = _peak_envelope(np.asarray(x), reduce=True)
    return float(20 * np.log10(peak)) if peak > 0 else -np.inf


def limit(x: np.ndarray, ceiling_db: float, rate: int = MIX_RATE, lookahead_s: float = 0.005,
          envelope: np.ndarray | None = None, envelope_scale: float = 1.0, inplace: bool = False) -> np.ndarray:
    """Look-ahead peak limiter: ``x`` (``(n, c)`` float) with its true peak held at
    ``ceiling_db`` dBTP.

    The gain needed at each sample (from the oversampled peak envelope; pass ``envelope``
    when it is known, times ``envelope_scale`` when ``x`` is that audio scaled) is spread
    by a minimum filter over +-``lookahead_s`` and then smoothed by a moving average of the
    same width, so the gain falls before each peak and recovers after it, and never exceeds
    what that peak needs (no clipping, no instant gain steps). ``inplace``: ``x`` (float32)
    is scaled in place; at most two ``(n,)`` float32 arrays are made besides.
    """
    ceiling = 10 ** (ceiling_db / 20)
    env = _peak_envelope(x) if envelope is None else envelope
    need = np.maximum(env, 1e-12 / envelope_scale, dtype=np.float32)
    np.divide(np.float32(ceiling / envelope_scale), need, out=need)
    np.minimum(need, np.float32(1.0), out=need)
    if need.min() >= 1.0:
        return x
    w = 2 * max(1, int(lookahead_s * rate)) + 1
    spread = minimum_filter1d(need, w, mode="nearest")
    del need
    gain = uniform_filter1d(spread, w, mode="nearest")
    del spread
    # gain[i] <= need[i]: every window averaged covers i
    if inplace and x.dtype == np.float32:
        return np.multiply(x, gain[:, None], out=x)
    return np.multiply(x, gain[:, None], dtype=np.float32)


GAIN_LOCK_LU = 0.1
"""A re-render keeps the previous render's programme gain while that gain still meets the
target within this many LU: an edit then changes the programme only where it changed the
mix, so the preview's AAC track is re-encoded only there (:mod:`dubpreview.media.aac`)."""


def normalise(x: np.ndarray, target_lufs: float = -23.0, ceiling_db: float = -1.0,
              rate: int = MIX_RATE, previous_gain_db: float | None = None,
              inplace: bool = False) -> tuple[np.ndarray, ProgrammeReport]:
    """``x`` (``(n, c)`` float32) brought to ``target_lufs`` integrated (EBU R128 / ITU-R
    BS.1770-4) with the true peak at most ``ceiling_db`` dBTP.

    Gain first, then the limiter (:func:`limit`) if the true peak exceeds the ceiling; the
    loudness is re-measured and the gain corrected (at most 4 rounds) until within 0.1 LU.
    Without limiting the gain alone meets the target (integrated loudness scales with the
    gain; only the -70 LUFS absolute gate could move a block), so it is not re-measured.
    The oversampled peak envelope of ``x`` is computed once and scaled with the gain.
    ``previous_gain_db``: the gain of the last render; kept when it meets the target within
    :data:`GAIN_LOCK_LU` and the limiter (a local operation) holds the ceiling without the
    final global trim. Silence or audio under 0.4 s is returned unchanged.
    ``inplace``: ``x`` (float32) may be scaled in place when no limiting is needed (a long
    programme is then never held twice; the peak envelope is made only for the limiter).
    Returns (audio, report).
    """
    lufs = integrated_loudness(x, rate)
    peak = _peak_envelope(x, reduce=True) if len(x) else 0.0
    tp_x = 20 * np.log10(peak) if peak > 0 else -np.inf
    if not np.isfinite(lufs):
        return x.astype(np.float32, copy=False), ProgrammeReport(0.0, lufs, float(tp_x), False)
    can_reuse = inplace and x.dtype == np.float32
    env = None  # the oversampled peak envelope, made only when the limiter needs it
    if previous_gain_db is not None and abs(lufs + previous_gain_db - target_lufs) <= GAIN_LOCK_LU:
        g = float(previous_gain_db)
        if tp_x + g <= ceiling_db:
            y = np.multiply(x, 10 ** (g / 20), out=x if can_reuse else None, dtype=np.float32)
            return y, ProgrammeReport(round(g, 3), float(lufs + g), float(tp_x + g), False)
        env = _peak_envelope(x)  # kept for the rounds below if the kept gain does not hold
        y = np.multiply(x, 10 ** (g / 20), dtype=np.float32)
        y = limit(y, ceiling_db - 0.05, rate, envelope=env, envelope_scale=10 ** (g / 20), inplace=True)
        tp, out_lufs = true_peak_db(y), integrated_loudness(y, rate)
        if tp <= ceiling_db and abs(out_lufs - target_lufs) <= GAIN_LOCK_LU:
            return y, ProgrammeReport(round(g, 3), float(out_lufs), float(tp), True)
    total = 0.0
    y = x
    limited = False
    for _ in range(4):
        total += target_lufs - lufs
        scale = 10 ** (round(total, 3) / 20)  # the gain as reported (and kept by the next render)
        if tp_x + total <= ceiling_db and not limited:  # a plain gain: the only round
            y = np.multiply(x, scale, out=x if can_reuse else None, dtype=np.float32)
            lufs = target_lufs  # a plain gain moves BS.1770 loudness by exactly that gain (gates aside)
            break
        y = None  # the previous round's programme is freed before this one is made
        y = np.multiply(x, scale, dtype=np.float32)
        if tp_x + total > ceiling_db:
            env = _peak_envelope(x) if env is None else env
            y = limit(y, ceiling_db - 0.05, rate, envelope=env, envelope_scale=scale, inplace=True)
            limited = True
        lufs = integrated_loudness(y, rate)
        if abs(lufs - target_lufs) <= 0.1:
            break
    tp = true_peak_db(y) if limited else float(tp_x + total)
    if tp > ceiling_db:  # the limiter's own inter-sample overshoot: a last tiny trim
        y *= np.float32(10 ** ((ceiling_db - tp - 0.01) / 20))
        tp, lufs = true_peak_db(y), integrated_loudness(y, rate)
    return y, ProgrammeReport(round(total, 3), float(lufs), float(tp), limited)


def bed_speech_by_span(probs: np.ndarray | None, spans: list[tuple[float, float]]) -> list[float]:
    """Mean Silero speech probability of the bed inside each span (seconds); ``probs`` are
    per 32 ms window at 16 kHz (:func:`dubpreview.asr.vad.speech_probabilities`). All 1.0
    when ``probs`` is None (unknown: assume the bed may hold speech)."""
    if probs is None:
        return [1.0] * len(spans)
    win = 512 / 16000
    out = []
    for s, e in spans:
        a, b = int(s / win), max(int(s / win) + 1, int(np.ceil(e / win)))
        part = probs[a:b]
        out.append(float(part.mean()) if len(part) else 0.0)
    return out


def mix_programme(bed: np.ndarray, dub: np.ndarray, spans: list[tuple[float, float]], settings,
                  separated: bool, bed_speech: np.ndarray | None = None,
                  speech_threshold: float = 0.3,
                  previous_gain_db: float | None = None) -> tuple[np.ndarray, ProgrammeReport]:
    """The programme: ``bed`` (float32 ``(n, 2)`` at 48 kHz) at ``settings.bed_db``, ducked
    under the dub ``spans`` (seconds), plus the mono ``dub`` stem (``(n,)``) on both
    channels, normalised by :func:`normalise` to ``settings.target_lufs`` and
    ``settings.true_peak_db``.

    ``separated``: the bed is a music-and-effects estimate (then it is ducked by
    ``settings.bed_duck_db`` only under lines where ``bed_speech``, the bed's per-window
    speech probability, averages above ``speech_threshold``); otherwise the bed is the
    original mix and is ducked by ``settings.duck_db`` under every line.
    ``previous_gain_db``: the last render's programme gain (see :func:`normalise`).
    Returns (programme float32 ``(n, 2)``, report).
    """
    n = len(bed)
    if separated:
        depths = [settings.bed_duck_db if p > speech_threshold else 0.0
                  for p in bed_speech_by_span(bed_speech, spans)]
    else:
        depths = [settings.duck_db] * len(spans)
    env = duck_levels(n, spans, depths, settings.ramp_s)
    env *= np.float32(10 ** (settings.bed_db / 20))
    out = np.multiply(bed, env[:, None], dtype=np.float32)
    del env
    d = dub[:n]
    out[: len(d)] += d[:, None]
    return normalise(out, settings.target_lufs, settings.true_peak_db, previous_gain_db=previous_gain_db,
                     inplace=True)


def check_options(separation: str, target_lufs: float, bed_db: float) -> None:
    """Raise DubError (one line) unless the user's mix options are usable: ``separation`` one
    of :data:`dubpreview.separate.METHODS`, ``target_lufs`` within -40..-5 LUFS, ``bed_db``
    within -40..+12 dB."""
    from dubpreview.errors import DubError
    from dubpreview.separate import METHODS

    if separation not in METHODS:
        raise DubError(f"unknown separation method '{separation}'; choose one of {', '.join(METHODS)}")
    if not np.isfinite(target_lufs) or not -40.0 <= target_lufs <= -5.0:
        raise DubError(f"target loudness {target_lufs} LUFS is outside -40..-5 (EBU R128 broadcast is -23, "
                       "streaming -14 to -16)")
    if not np.isfinite(bed_db) or not -40.0 <= bed_db <= 12.0:
        raise DubError(f"bed level {bed_db} dB is outside -40..+12")
