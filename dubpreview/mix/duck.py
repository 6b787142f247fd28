"""The dub stem and the ducking mix.

Each dub line is level-matched to the original line it replaces: loudness by ITU-R
BS.1770 (``pyloudnorm``) for lines of 0.4 s or more (BS.1770's gating block), RMS
for shorter ones, measured on the dialogue stem when the scene was separated
(:mod:`dubpreview.separate`), else on the original. The dub stem is assembled from
the clips. :func:`duck_levels` is the ducking gain: lowered while a dub line plays, with
short linear ramps (like a broadcast sidechain duck). The programme (bed, ducking, loudness
normalisation) is :mod:`dubpreview.mix.programme`.
"""

from __future__ import annotations

from dataclasses import dataclass

import warnings

import numpy as np
from scipy.signal import resample_poly

from dubpreview.media.ffmpeg import ffmpeg_exe

with warnings.catch_warnings():  # pydub warns at import when no ffmpeg is on PATH; we give it ours
    warnings.simplefilter("ignore", RuntimeWarning)
    from pydub import AudioSegment
AudioSegment.converter = ffmpeg_exe()

MIX_RATE = 48000
"""Sample rate of the dub stem and the programme (Hz)."""

MIN_LOUDNESS_S = 0.4
"""pyloudnorm (BS.1770) needs at least one 400 ms gating block."""


@dataclass(frozen=True)
class MixSettings:
    """``duck_db``: gain of the original under a dub line when nothing was separated (dB,
    negative); ``ramp_s``: fade time of the duck (s); ``max_gain_db``: bound on level
    matching (dB); ``bed_db``: level of the music-and-effects bed (dB, 0 = as separated);
    ``bed_duck_db``: gentle duck of a separated bed under lines where it still holds speech
    (dB); ``target_lufs``: programme loudness (LUFS integrated, EBU R128 default -23);
    ``true_peak_db``: true-peak ceiling (dBTP). See :mod:`dubpreview.mix.programme`."""

    duck_db: float = -14.0
    ramp_s: float = 0.08
    max_gain_db: float = 15.0
    bed_db: float = 0.0
    bed_duck_db: float = -6.0
    target_lufs: float = -23.0
    true_peak_db: float = -1.0


@dataclass
class MixedLine:
    """A clip placed in the programme: ``start`` s, ``samples`` float32 mono at ``rate`` Hz,
    and the source line's span (``ref_start``, ``ref_end``, s) whose loudness it matches."""

    start: float
    samples: np.ndarray
    rate: int
    ref_start: float
    ref_end: float


def resample(samples: np.ndarray, rate: int, target: int = MIX_RATE) -> np.ndarray:
    """Polyphase resampling (scipy ``resample_poly``) of mono float32 audio to ``target`` Hz."""
    if rate == target:
        return samples.astype(np.float32)
    g = np.gcd(rate, target)
    return resample_poly(samples, target // g, rate // g).astype(np.float32)


def loudness_db(samples: np.ndarray, rate: int) -> float:
    """Loudness of mono float audio: BS.1770 integrated LUFS when long enough, else RMS dBFS
    (about the same scale for speech); ``-inf`` for silence."""
    if samples.size == 0 or not np.any(samples):
        return -np.inf
    if samples.size >= MIN_LOUDNESS_S * rate:
        import pyloudnorm

        value = pyloudnorm.Meter(rate).integrated_loudness(samples.astype(np.float64))
        if np.isfinite(value):
            return float(value)
    rms = float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))
    return 20 * np.log10(rms) - 0.691 if rms > 0 else -np.inf


def match_gain_db(clip: np.ndarray, clip_rate: int, reference: np.ndarray, ref_rate: int,
                  settings: MixSettings) -> float:
    """Gain (dB) that brings ``clip`` to the loudness of ``reference``, within ±max_gain_db.
    A silent reference (no measurable loudness) leaves the clip at -23 LUFS (EBU R128)."""
    have = loudness_db(clip, clip_rate)
    want = loudness_db(reference, ref_rate)
    if not np.isfinite(want):
        want = -23.0
    if not np.isfinite(have):
        return 0.0
    return float(np.clip(want - have, -settings.max_gain_db, settings.max_gain_db))


def dub_stem(lines: list[MixedLine], original: np.ndarray, duration_s: float,
             settings: MixSettings) -> np.ndarray:
    """The dub dialogue alone: every line level-matched and added in at its start.

    ``original`` is the reference for each line's loudness at :data:`MIX_RATE`, mono: the
    dialogue stem of the scene (or the scene's audio when it was not separated).
    Returns float32 mono samples at :data:`MIX_RATE`, exactly ``duration_s`` long; a line
    that would run past the end is cut there.

    The lines are summed into one float32 array, each at its own samples: pydub's
    ``overlay`` (used before) builds a new segment of the whole stem for every line, which
    made the stage quadratic in the scene's length (41 s for 236 lines over 10 minutes,
    some 25 minutes for an hour); pydub still exports the stems.
    """
    n = int(round(duration_s * MIX_RATE))
    stem = np.zeros(n, dtype=np.float32)
    for line in lines:
        clip = resample(line.samples, line.rate)
        ref = original[int(line.ref_start * MIX_RATE): int(line.ref_end * MIX_RATE)]
        gain = match_gain_db(clip, MIX_RATE, ref, MIX_RATE, settings)
        a = max(0, int(round(line.start * MIX_RATE)))
        b = min(n, a + len(clip))
        if b > a:
            stem[a:b] += clip[: b - a] * np.float32(10 ** (gain / 20))
    return stem


def duck_levels(n: int, spans: list[tuple[float, float]], depths_db: list[float], ramp_s: float,
                rate: int = MIX_RATE) -> np.ndarray:
    """Gain per sample (float32 ``(n,)``, linear): 1 outside ``spans`` (seconds), each span's
    ``depths_db`` inside, with linear ramps of ``ramp_s`` seconds before and after."""
    env = np.ones(n, dtype=np.float32)
    ramp = max(1, int(ramp_s * rate))
    for (start, end), depth in zip(spans, depths_db):
        if depth >= 0:
            continue
        low = 10 ** (depth / 20)
        a, b = int(start * rate), int(end * rate)
        shape = np.full(max(0, b - a) + 2 * ramp, low, dtype=np.float32)
        shape[:ramp] = np.linspace(1, low, ramp)
        shape[-ramp:] = np.linspace(low, 1, ramp)
        lo, hi = a - ramp, b + ramp
        s0, s1 = max(0, lo), min(n, hi)
        if s1 > s0:
            env[s0:s1] = np.minimum(env[s0:s1], shape[s0 - lo: s1 - lo])
    return env
