"""A re-render that re-mixes only where an edit changed the dub: the last render's programme
and dub stem files with the changed regions computed again and written over theirs.

Every output sample of the programme depends only on the audio around it (the bed's duck
ramps, each line's own level match, the limiter's look-ahead and the true-peak
oversampling: :mod:`dubpreview.mix.programme` computes each block with that much context
so that blocks can be cut anywhere). So, at the last render's gain, the samples outside the
changed regions are the ones a whole pass would write again, and the regions computed
alone are the ones it would write there. What is global is checked on the result: its
integrated loudness (ITU-R BS.1770-4, gated) must still meet the target within
:data:`~dubpreview.mix.programme.GAIN_LOCK_LU`, and its true peak the ceiling; else the
caller mixes the whole programme again.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import soundfile as sf

from dubpreview.mix.duck import MIX_RATE
from dubpreview.mix.peak import peak_envelope
from dubpreview.mix.programme import GAIN_LOCK_LU, LIMIT_MARGIN, PEAK_MARGIN, Pass, ProgrammeReport, measure_blocks
from dubpreview.util.files import atomic_path

MAX_SHARE = 0.5
"""Re-mix in place only while the changed regions are under this share of the programme."""


class _Unlocked(Exception):
    """The spliced programme no longer meets the target at the kept gain."""


def changed_regions(old: list[list], new: list[list], frames: int, pad_s: float,
                    rate: int = MIX_RATE) -> list[tuple[int, int]]:
    """The sample ranges ``[lo, hi)`` of the programme (``frames`` long) that a change of
    lines touches: each line ``[start_s, end_s, clip, ref_start_s, ref_end_s]`` that is in
    one list and not the other, from its start to its end, widened by ``pad_s`` seconds each
    side (the duck ramps) and by the limiter's context; overlapping ranges merged, in order."""
    gone = {tuple(x) for x in old} ^ {tuple(x) for x in new}
    pad = int(round(pad_s * rate)) + 2 * LIMIT_MARGIN
    spans = sorted((max(0, int(s * rate) - pad), min(frames, int(np.ceil(e * rate)) + pad)) for s, e, *_ in gone)
    merged: list[tuple[int, int]] = []
    for lo, hi in spans:
        if hi <= lo:
            continue
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def _overwrite(path: Path, regions: list[tuple[int, int]], blocks: list[np.ndarray]) -> None:
    """Write each region's samples over ``path`` (a PCM WAV, clipped to [-1, 1] as
    :func:`~dubpreview.media.wav.write_wav` writes it)."""
    with sf.SoundFile(str(path), "r+") as f:
        for (lo, _), y in zip(regions, blocks):
            f.seek(lo)
            f.write(np.clip(y, -1, 1))


def _measure(path: Path, rate: int) -> tuple[float, float, np.ndarray]:
    """Integrated loudness (LUFS), true peak (dBTP) and the loudness step energies
    (:func:`dubpreview.mix.loudness.step_energies`) of a WAV, a block at a time
    (:func:`~dubpreview.mix.programme.measure_blocks`, as the normaliser measures)."""
    with sf.SoundFile(str(path)) as f:
        def read(lo: int, hi: int) -> np.ndarray:
            f.seek(lo)
            return f.read(hi - lo, dtype="float32", always_2d=True)

        got = SimpleNamespace()
        for _ in measure_blocks(read, f.frames, f.channels, rate, got):
            pass
    return got.lufs, got.true_peak_db, got.step_energies


WARM_UP_S = 1.0
"""Seconds of audio the K-weighting filters run through before a re-measured region: their
transients (poles at tens of Hz) are gone to float precision long before."""


def _measure_regions(path: Path, regions: list[tuple[int, int]], energies: np.ndarray, old_tp_db: float,
                     rate: int) -> tuple[float, float, np.ndarray]:
    """:func:`_measure` of a programme that differs from the last measured one (its step
    ``energies``, true peak ``old_tp_db``) only in ``regions``: the steps over the regions are
    measured again (after :data:`WARM_UP_S` of filter warm-up), the gating (BS.1770-4) runs on
    all steps. The true peak returned is the larger of the regions' and the old one: the peak
    of the programme or above it, never below."""
    from dubpreview.mix.loudness import STEP_S, LoudnessMeter, gated_loudness

    step = int(round(STEP_S * rate))
    out = energies.copy()
    top = 10 ** (old_tp_db / 20) if np.isfinite(old_tp_db) else 0.0
    with sf.SoundFile(str(path)) as f:
        n = f.frames
        for lo, hi in regions:
            s0, s1 = lo // step, min(len(out), -(-hi // step))
            warm = max(0, s0 * step - int(WARM_UP_S * rate) // step * step)
            end = min(n, s1 * step)
            f.seek(warm)
            y = f.read(max(end, min(n, hi + PEAK_MARGIN)) - warm, dtype="float32", always_2d=True)
            meter = LoudnessMeter(rate, y.shape[1])
            meter.add(y[: end - warm])
            e = meter.step_energies()[s0 - warm // step:]
            out[s0: s0 + len(e)] = e[: len(out) - s0]
            a, b = max(0, lo - PEAK_MARGIN), min(n, hi + PEAK_MARGIN)
            top = max(top, float(peak_envelope(y[a - warm: b - warm], reduce=True)))
    return gated_loudness(out, n, rate), float(20 * np.log10(top)) if top > 0 else -np.inf, out


def splice_programme(source, stem, mix_path: Path, stem_path: Path, regions: list[tuple[int, int]],
                     gain_db: float, target_lufs: float, ceiling_db: float, limited: bool,
                     measured: tuple[np.ndarray, float] | None = None,
                     rate: int = MIX_RATE) -> tuple[ProgrammeReport | None, str, np.ndarray | None]:
    """The programme of ``source`` (:class:`~dubpreview.mix.programme.MixSource`) at the kept
    ``gain_db``, written over ``mix_path`` (the last render's programme) in ``regions`` only,
    and the dub ``stem`` (a reader, times the same gain) over ``stem_path`` alike; both files
    replaced atomically, and only when the result meets ``target_lufs`` within
    :data:`~dubpreview.mix.programme.GAIN_LOCK_LU` with its true peak at most ``ceiling_db``.
    ``measured``: the last programme's loudness step energies and true peak (dBTP), when
    known: only the regions are measured again (:func:`_measure_regions`), else the whole
    result is. Returns the report, ``"spliced"`` and the new step energies; or None (nothing
    written), why not (the result would miss the target or the ceiling, or the regions cover
    more than :data:`MAX_SHARE` of the programme: mix it whole then) and None."""
    n = source.frames
    if not regions or sum(hi - lo for lo, hi in regions) > MAX_SHARE * n:
        return None, f"changed {sum(hi - lo for lo, hi in regions) / max(n, 1):.0%} of the programme", None
    scale = 10 ** (gain_db / 20)
    p = Pass(source, rate, scale, ceiling_db - 0.05)
    mixed = [p.samples(lo, hi) for lo, hi in regions]
    dub = [stem.read(lo, hi) * np.float32(scale) for lo, hi in regions]
    try:
        with atomic_path(mix_path) as tmp_mix:
            shutil.copyfile(mix_path, tmp_mix)
            _overwrite(tmp_mix, regions, mixed)
            lufs, tp, energies = (_measure_regions(tmp_mix, regions, *measured, rate) if measured
                                  else _measure(tmp_mix, rate))
            if not (np.isfinite(lufs) and abs(lufs - target_lufs) <= GAIN_LOCK_LU and tp <= ceiling_db):
                raise _Unlocked(f"at the kept gain {lufs:.2f} LUFS, {tp:.2f} dBTP")
            with atomic_path(stem_path) as tmp_stem:
                shutil.copyfile(stem_path, tmp_stem)
                _overwrite(tmp_stem, regions, dub)
    except _Unlocked as why:
        return None, str(why), None
    return ProgrammeReport(round(gain_db, 3), float(lufs), float(tp), limited or p.limited), "spliced", energies
