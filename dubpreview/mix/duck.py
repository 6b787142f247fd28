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
from dubpreview.settings import MixSettings

with warnings.catch_warnings():  # pydub warns at import when no ffmpeg is on PATH; we give it ours
    warnings.simplefilter("ignore", RuntimeWarning)
    from pydub import AudioSegment
AudioSegment.converter = ffmpeg_exe()

MIX_RATE = 48000
"""Sample rate of the dub stem and the programme (Hz)."""

MIN_LOUDNESS_S = 0.4
"""pyloudnorm (BS.1770) needs at least one 400 ms gating block."""


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


class DubStem:
    """The dub dialogue alone, for any sample range (``read(lo, hi)`` like
    :class:`~dubpreview.media.wav.WavReader`, float32 ``(hi - lo, 1)``): every line
    level-matched to the line it replaces and added in at its start, ``frames`` samples
    long at :data:`MIX_RATE` (a line that would run past the end is cut there).

    ``reference``: a reader of the loudness reference at :data:`MIX_RATE` (``read(lo, hi)``,
    first column used): the mono dialogue stem of the scene, or the scene's audio when it
    was not separated; each line's gain is measured when the line is first read. A range is summed from the
    lines that overlap it, each resampled when first needed and dropped once the reads have
    moved past it, so sequential reads (a pass over the programme) hold only the lines
    around the current block, whatever the scene's length. The lines are summed in float32
    at their own samples (pydub's ``overlay``, used before, built a new segment of the whole
    stem for every line: quadratic in the scene's length, 41 s for 236 lines over 10 minutes).
    """

    channels = 1

    def __init__(self, lines: list[MixedLine], reference, frames: int, settings: MixSettings):
        self.frames, self.rate = frames, MIX_RATE
        self.lines = sorted(lines, key=lambda line: line.start)
        self.starts = np.array([max(0, int(round(line.start * MIX_RATE))) for line in self.lines], np.int64)
        self.ends = self.starts + np.array([_resampled_length(line) for line in self.lines], np.int64)
        self.reference, self.settings = reference, settings
        self._clips: dict[int, np.ndarray] = {}
        self._gains: dict[int, np.float32] = {}

    def _clip(self, k: int) -> np.ndarray:
        """Line ``k`` resampled and level-matched (its gain measured when it is first read: a
        re-mix of a few regions measures only the lines in them)."""
        if k not in self._clips:
            line = self.lines[k]
            clip = resample(line.samples, line.rate)
            if k not in self._gains:
                a, b = int(line.ref_start * MIX_RATE), int(line.ref_end * MIX_RATE)
                ref = self.reference.read(a, b)[:, 0] if b > a else np.zeros(0, np.float32)
                self._gains[k] = np.float32(10 ** (match_gain_db(clip, MIX_RATE, ref, MIX_RATE, self.settings) / 20))
            self._clips[k] = clip * self._gains[k]
        return self._clips[k]

    def read(self, lo: int, hi: int) -> np.ndarray:
        """The dub at samples ``[lo, hi)``: float32 ``(hi - lo, 1)``, zeros outside the scene."""
        out = np.zeros((max(0, hi - lo), 1), np.float32)
        hi_in = min(hi, self.frames)
        for k in list(self._clips):
            if self.ends[k] <= lo or self.starts[k] >= hi:
                del self._clips[k]
        last = int(np.searchsorted(self.starts, hi_in, side="left"))
        for k in range(last):
            a, b = max(lo, int(self.starts[k])), min(hi_in, int(self.ends[k]))
            if b > a:
                clip = self._clip(k)
                out[a - lo: b - lo, 0] += clip[a - self.starts[k]: b - self.starts[k]]
        return out


def _resampled_length(line: MixedLine) -> int:
    """Length in samples of ``line`` once resampled to :data:`MIX_RATE` (as :func:`resample`)."""
    if line.rate == MIX_RATE:
        return len(line.samples)
    g = np.gcd(line.rate, MIX_RATE)
    return -(-len(line.samples) * (MIX_RATE // g) // (line.rate // g))


def dub_stem(lines: list[MixedLine], original: np.ndarray, duration_s: float,
             settings: MixSettings) -> np.ndarray:
    """:class:`DubStem` of an in-memory mono reference ``original`` (``(n,)`` at
    :data:`MIX_RATE`), made whole: float32 ``(round(duration_s * MIX_RATE),)``."""
    from dubpreview.media.wav import ArrayReader

    n = int(round(duration_s * MIX_RATE))
    return DubStem(lines, ArrayReader(original, MIX_RATE), n, settings).read(0, n)[:, 0]


def duck_levels(n: int, spans: list[tuple[float, float]], depths_db: list[float], ramp_s: float,
                rate: int = MIX_RATE, offset: int = 0) -> np.ndarray:
    """Gain per sample (float32 ``(n,)``, linear) of samples ``offset .. offset + n`` of the
    scene: 1 outside ``spans`` (seconds), each span's ``depths_db`` inside, with linear
    ramps of ``ramp_s`` seconds before and after (the same values whatever the range asked)."""
    env = np.ones(n, dtype=np.float32)
    ramp = max(1, int(ramp_s * rate))
    for (start, end), depth in zip(spans, depths_db):
        if depth >= 0:
            continue
        a, b = int(start * rate), int(end * rate)
        lo, hi = a - ramp - offset, b + ramp - offset
        s0, s1 = max(0, lo), min(n, hi)
        if s1 <= s0:
            continue
        low = 10 ** (depth / 20)
        shape = np.full(max(0, b - a) + 2 * ramp, low, dtype=np.float32)
        shape[:ramp] = np.linspace(1, low, ramp)
        shape[-ramp:] = np.linspace(low, 1, ramp)
        env[s0:s1] = np.minimum(env[s0:s1], shape[s0 - lo: s1 - lo])
    return env
