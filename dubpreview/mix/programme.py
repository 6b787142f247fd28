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

The programme is computed a block at a time (:func:`normalise_stream` over a
:class:`MixSource` of file readers), one pass to measure and one per candidate written, so
an hour-long scene is mixed in the memory of a few blocks; each sample depends only on the
inputs within :data:`LIMIT_MARGIN` of it, so the result does not depend on the block size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import minimum_filter1d, uniform_filter1d

from dubpreview.mix.duck import MIX_RATE, duck_levels
from dubpreview.mix.peak import peak_envelope, true_peak_db  # noqa: F401 (true_peak_db re-exported)

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
    env = peak_envelope(x) if envelope is None else envelope
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


ROUNDS = 8
"""Gain corrections at most when the limiter acts: each round's loudness rises by less than its
gain once the limiter holds the peaks, so a loud target (-8 LUFS at -1 dBTP) takes several."""

GAIN_LOCK_LU = 0.5
"""A re-render keeps the previous render's programme gain while that gain still meets the
target within this many LU: EBU R 128's tolerance around the target level for programmes
where exact normalisation is not practicable (±0.5 LU). An edit then changes the programme
only where it changed the mix (:mod:`dubpreview.mix.splice`), so the preview's AAC track is
re-encoded only there (:mod:`dubpreview.media.aac`), and a reviewer comparing two renders
hears every unchanged line at the same level. A first render, or one after a change of the
loudness settings, meets the target within 0.1 LU."""

BLOCK = 1 << 20
"""Samples per block of the streamed programme (21.8 s at 48 kHz)."""
LIMIT_MARGIN = 1024
"""Samples of context a limited block is computed with: more than the limiter's two
+-``lookahead_s`` filters (2 x 240 samples at 48 kHz) and the true-peak resampler's reach
(64), so a block's samples do not depend on where the blocks are cut."""
PEAK_MARGIN = 64
"""Samples of context for the 4x oversampled peak of a block (as :func:`peak_envelope`)."""


class Pass:
    """One pass over a programme source (``read(lo, hi)``, ``frames``, ``channels``): its blocks
    scaled by ``scale``, limited to ``ceiling_db`` (when not None) and trimmed by ``trim``,
    yielded in order (:func:`measure_blocks`); after the last block ``lufs``, (when ``peak``)
    ``true_peak_db`` and ``step_energies`` hold what was measured on the output."""

    def __init__(self, source, rate: int, scale: float, ceiling_db: float | None = None,
                 trim: float = 1.0, peak: bool = True):
        self.source, self.rate, self.scale, self.ceiling_db, self.trim = source, rate, scale, ceiling_db, trim
        self.peak = peak
        self.lufs = -np.inf
        self.true_peak_db = -np.inf
        self.limited = False
        self.step_energies: np.ndarray | None = None

    def samples(self, lo: int, hi: int) -> np.ndarray:
        """Output samples ``[lo, hi)`` (inside the source), float32 ``(hi - lo, channels)``."""
        n = self.source.frames
        if self.ceiling_db is None:
            y = self.source.read(lo, hi)
            y *= np.float32(self.scale * self.trim)
            return y
        a, b = max(0, lo - LIMIT_MARGIN), min(n, hi + LIMIT_MARGIN)
        x = self.source.read(a, b)
        floor = 10 ** (self.ceiling_db / 20) / self.scale
        env = peak_envelope(x, floor=floor)
        self.limited = self.limited or bool(len(env)) and float(env.max()) > floor
        x *= np.float32(self.scale)
        y = limit(x, self.ceiling_db, self.rate, envelope=env, envelope_scale=self.scale, inplace=True)
        y = y[lo - a: hi - a]
        if self.trim != 1.0:
            y *= np.float32(self.trim)
        return y

    def __iter__(self):
        yield from measure_blocks(self.samples, self.source.frames, self.source.channels, self.rate,
                                  self, peak=self.peak)


def measure_blocks(read, frames: int, channels: int, rate: int, into, peak: bool = True):
    """Blocks of :data:`BLOCK` samples of ``read(lo, hi)`` (float32 ``(hi - lo, channels)``,
    ``0 <= lo < hi <= frames``), yielded in order while they are measured: after the last
    block ``into.lufs`` holds the integrated loudness (LUFS, BS.1770-4 via
    :class:`~dubpreview.mix.loudness.LoudnessMeter`; ``-inf`` under 0.4 s), ``into.true_peak_db``
    the true peak (dBTP, :func:`~dubpreview.mix.peak.peak_envelope` over each block read with
    :data:`PEAK_MARGIN` either side; ``-inf`` when ``peak`` is False) and ``into.step_energies``
    the loudness step energies (for a later :func:`~dubpreview.mix.splice.splice_programme`).
    The programme normaliser's passes and the splice's whole measurement both use it."""
    from dubpreview.mix.loudness import LoudnessMeter

    meter = LoudnessMeter(rate, channels)
    top = 0.0
    for lo in range(0, frames, BLOCK):
        hi = min(frames, lo + BLOCK)
        if peak:
            a, b = max(0, lo - PEAK_MARGIN), min(frames, hi + PEAK_MARGIN)
            y = read(a, b)
            core = y[lo - a: hi - a]
            top = max(top, float(np.abs(core).max()) if len(core) else 0.0)  # true peak >= sample peak
            top = max(top, float(peak_envelope(y, floor=top)[lo - a: hi - a].max()))
        else:
            core = read(lo, hi)
        meter.add(core)
        yield core
    into.lufs = meter.integrated() if frames >= int(0.4 * rate) else -np.inf
    into.true_peak_db = float(20 * np.log10(top)) if top > 0 else -np.inf
    into.step_energies = meter.step_energies()


def normalise_stream(source, sink, target_lufs: float = -23.0, ceiling_db: float = -1.0,
                     rate: int = MIX_RATE, previous_gain_db: float | None = None) -> ProgrammeReport:
    """The programme of ``source`` (anything with ``read(lo, hi)`` giving float32
    ``(hi - lo, channels)``, ``frames`` and ``channels``: :class:`MixSource`,
    :class:`~dubpreview.media.wav.WavReader`) brought to ``target_lufs`` integrated (EBU R128 /
    ITU-R BS.1770-4) with the true peak at most ``ceiling_db`` dBTP, a block of
    :data:`BLOCK` samples at a time: memory does not grow with the programme's length.

    ``sink`` is called with an iterator of the output blocks, in order, and must consume it
    (e.g. :func:`dubpreview.media.wav.write_wav` into the final file); it is called once per
    candidate, and the last call's blocks are the result.

    A first pass measures loudness and true peak; then the gain alone, or the gain and the
    limiter (:func:`limit`, each block computed with :data:`LIMIT_MARGIN` samples of context,
    so the result does not depend on where the blocks are cut) with the loudness re-measured
    and the gain corrected (at most :data:`ROUNDS` rounds) until within 0.1 LU. Without limiting the gain
    alone meets the target (integrated loudness scales with the gain; only the -70 LUFS
    absolute gate could move a block), so it is not re-measured.
    ``previous_gain_db``: the gain of the last render, tried first in one pass that applies
    it with the limiter (a local operation; it acts only where a peak would pass the ceiling)
    and measures the output: kept when that meets the target within :data:`GAIN_LOCK_LU` and
    holds the ceiling without the final global trim, so a re-render after an edit reads its
    programme once (issue 16), else the passes above follow. Silence or audio under 0.4 s is
    passed through unchanged.
    Returns the report of what was done.
    """
    limit_at = ceiling_db - 0.05
    if previous_gain_db is not None:
        g = float(previous_gain_db)
        p = Pass(source, rate, 10 ** (g / 20), limit_at)
        sink(iter(p))
        if np.isfinite(p.lufs) and abs(p.lufs - target_lufs) <= GAIN_LOCK_LU and p.true_peak_db <= ceiling_db:
            return ProgrammeReport(round(g, 3), float(p.lufs), float(p.true_peak_db), p.limited)
    first = Pass(source, rate, 1.0)
    for _ in first:
        pass
    lufs, tp_x = first.lufs, first.true_peak_db
    if not np.isfinite(lufs):
        sink(iter(Pass(source, rate, 1.0, peak=False)))
        return ProgrammeReport(0.0, lufs, float(tp_x), False)
    total = 0.0
    limited = False
    p = None
    for _ in range(ROUNDS):
        total += target_lufs - lufs
        scale = 10 ** (round(total, 3) / 20)  # the gain as reported (and kept by the next render)
        if tp_x + total <= ceiling_db and not limited:  # a plain gain: the only round
            sink(iter(Pass(source, rate, scale, peak=False)))
            return ProgrammeReport(round(total, 3), float(target_lufs), float(tp_x + total), False)
        limit_now = tp_x + total > ceiling_db
        limited = limited or limit_now
        p = Pass(source, rate, scale, limit_at if limit_now else None)
        sink(iter(p))
        lufs = p.lufs
        if abs(lufs - target_lufs) <= 0.1:
            break
    tp = p.true_peak_db
    if tp > ceiling_db:  # the limiter's own inter-sample overshoot: a last tiny trim
        p = Pass(source, rate, scale, p.ceiling_db, trim=10 ** ((ceiling_db - tp - 0.01) / 20))
        sink(iter(p))
        tp, lufs = p.true_peak_db, p.lufs
    return ProgrammeReport(round(total, 3), float(lufs), float(tp), limited)


def _array_sink(frames: int, channels: int):
    """A sink for :func:`normalise_stream` that fills an in-memory array; returns (sink, array)."""
    out = np.zeros((frames, channels), np.float32)

    def sink(blocks) -> None:
        pos = 0
        for y in blocks:
            out[pos: pos + len(y)] = y
            pos += len(y)

    return sink, out


def normalise(x: np.ndarray, target_lufs: float = -23.0, ceiling_db: float = -1.0,
              rate: int = MIX_RATE, previous_gain_db: float | None = None) -> tuple[np.ndarray, ProgrammeReport]:
    """:func:`normalise_stream` of an in-memory ``x`` (``(n, c)`` float32): returns
    (the normalised float32 ``(n, c)``, report)."""
    from dubpreview.media.wav import ArrayReader

    src = ArrayReader(np.asarray(x, dtype=np.float32), rate)
    sink, out = _array_sink(src.frames, src.channels)
    report = normalise_stream(src, sink, target_lufs, ceiling_db, rate, previous_gain_db)
    return (out if x.ndim == 2 else out[:, 0]), report


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


class MixSource:
    """The programme before normalisation, for any sample range (``read(lo, hi)`` like
    :class:`~dubpreview.media.wav.WavReader`): the ``bed`` reader (stereo) at ``bed_db``,
    ducked by ``depths_db`` under ``spans`` (seconds; :func:`~dubpreview.mix.duck.duck_levels`),
    plus the mono ``dub`` reader on both channels."""

    def __init__(self, bed, dub, spans: list[tuple[float, float]], depths_db: list[float], ramp_s: float,
                 bed_db: float, rate: int = MIX_RATE):
        self.bed, self.dub, self.rate = bed, dub, rate
        self.spans, self.depths, self.ramp_s = spans, depths_db, ramp_s
        self.gain = np.float32(10 ** (bed_db / 20))
        self.frames, self.channels = bed.frames, 2

    def read(self, lo: int, hi: int) -> np.ndarray:
        """Float32 ``(hi - lo, 2)``: the ducked bed plus the dub."""
        out = self.bed.read(lo, hi)
        env = duck_levels(hi - lo, self.spans, self.depths, self.ramp_s, self.rate, offset=lo)
        env *= self.gain
        out *= env[:, None]
        out += self.dub.read(lo, hi)[:, :1]
        return out


def duck_depths(spans: list[tuple[float, float]], settings, separated: bool, bed_speech: np.ndarray | None = None,
                speech_threshold: float = 0.3) -> list[float]:
    """The duck (dB) of the bed under each dub span: ``settings.duck_db`` under every line
    when nothing was separated (the bed is the original mix), else ``settings.bed_duck_db``
    only under lines where ``bed_speech`` (the bed's speech probability per window) averages
    above ``speech_threshold``, 0 elsewhere."""
    if separated:
        return [settings.bed_duck_db if p > speech_threshold else 0.0
                for p in bed_speech_by_span(bed_speech, spans)]
    return [settings.duck_db] * len(spans)


def mix_programme(bed: np.ndarray, dub: np.ndarray, spans: list[tuple[float, float]], settings,
                  separated: bool, bed_speech: np.ndarray | None = None,
                  speech_threshold: float = 0.3,
                  previous_gain_db: float | None = None) -> tuple[np.ndarray, ProgrammeReport]:
    """The programme in memory: ``bed`` (float32 ``(n, 2)`` at 48 kHz) at ``settings.bed_db``,
    ducked under the dub ``spans`` (seconds; :func:`duck_depths`), plus the mono ``dub`` stem
    (``(n,)``) on both channels, normalised by :func:`normalise_stream` to
    ``settings.target_lufs`` and ``settings.true_peak_db``. The pipeline streams the same
    mix from files (:class:`MixSource`); this is for audio already in memory.
    ``previous_gain_db``: the last render's programme gain (see :func:`normalise_stream`).
    Returns (programme float32 ``(n, 2)``, report).
    """
    from dubpreview.media.wav import ArrayReader

    d = np.zeros(len(bed), np.float32)
    d[: min(len(bed), len(dub))] = dub[: len(bed)]
    src = MixSource(ArrayReader(bed, MIX_RATE), ArrayReader(d, MIX_RATE), spans,
                    duck_depths(spans, settings, separated, bed_speech, speech_threshold),
                    settings.ramp_s, settings.bed_db)
    sink, out = _array_sink(src.frames, 2)
    report = normalise_stream(src, sink, settings.target_lufs, settings.true_peak_db,
                              previous_gain_db=previous_gain_db)
    return out, report
