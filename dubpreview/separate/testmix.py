"""A known mix for measuring separation: real speech over real music and effects, true stems kept.

Used by the tests and ``bench/separation.py``. The ingredients are real recordings shipped
in ``tests/data/`` (see its ``ATTRIBUTION.md``): game music and sound effects from Debian's
``fillets-ng-data`` and read English speech (LibriVox, Harvard sentences). The music is mono,
so it is given a stereo image by complementary comb filtering (Schroeder's pseudo-stereo:
``L = x + g x(t - d)``, ``R = x - g x(t - d)``), the effects are panned off-centre, and the
speech sits in the centre as film dialogue does, 6 dB above the bed by default (RMS over the
lines against the bed's RMS overall).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

SPEECH = ("deb_codec2-examples_speech_orig_16k_en.wav",
          "deb_pocketsphinx-testdata_librivox_en_austen-0870.wav",
          "deb_pocketsphinx-testdata_librivox_en_austen-0890.wav")
MUSIC = "fillets-ng_music_rybky01.ogg"
EFFECTS = ("fillets-ng_sound_sp-impact_heavy_00.ogg", "fillets-ng_sound_sp-bubles_02.ogg",
           "fillets-ng_sound_sp-impact_light_01.ogg")


@dataclass
class TestMix:
    """``mix``, ``dialogue`` (true speech stem) and ``bed`` (true M&E stem): float32 ``(n, 2)``
    at ``rate`` Hz with ``mix == dialogue + bed``; ``regions``: (start, end) seconds of each
    spoken line; ``surround``: the same scene as 5.1 (FL FR FC LFE SL SR), shape ``(n, 6)``,
    the speech alone in the centre."""

    __test__ = False  # not a pytest class

    mix: np.ndarray
    dialogue: np.ndarray
    bed: np.ndarray
    rate: int
    regions: list[tuple[float, float]]
    surround: np.ndarray


def _load(path: Path, rate: int) -> np.ndarray:
    from dubpreview.media.extract import load_audio

    return load_audio(path, sample_rate=rate, channels=1).samples


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) + 1e-12


def build_test_mix(data_dir: str | Path, duration_s: float = 30.0, rate: int = 48000,
                   speech_to_bed_db: float = 6.0, music_offset_s: float = 20.0) -> TestMix:
    """Build the known mix from the recordings in ``data_dir`` (``tests/data``).

    Three speech clips are laid at 1.0 s, then each 1.5 s after the previous ends (as many
    as fit in ``duration_s``); effects at 6.5 s (heavy impact, left), 11.0 s (bubbles, right)
    and 19.0 s (light impact, left). The bed is scaled so that the speech's RMS over its
    regions is ``speech_to_bed_db`` above the bed's RMS overall.
    """
    data = Path(data_dir)
    n = int(round(duration_s * rate))
    music = _load(data / MUSIC, rate)
    start = int(music_offset_s * rate)
    music = np.resize(music[start:], n)  # loop if the scene is longer than the track
    d = int(0.012 * rate)
    delayed = np.concatenate([np.zeros(d, dtype=np.float32), music[:-d]])
    g = 0.6
    bed = np.stack([music + g * delayed, music - g * delayed], axis=1)
    for name, at, pan in zip(EFFECTS, (6.5, 11.0, 19.0), (-0.7, 0.7, -0.5)):
        fx = _load(data / name, rate)
        a = int(at * rate)
        if a >= n:
            continue
        fx = fx[: n - a] * (2.0 * _rms(music) / _rms(fx))
        theta = (pan + 1) * np.pi / 4  # constant-power pan law
        bed[a:a + len(fx), 0] += np.cos(theta) * fx
        bed[a:a + len(fx), 1] += np.sin(theta) * fx
    speech = np.zeros(n, dtype=np.float32)
    regions, t = [], 1.0
    for name in SPEECH:
        clip = _load(data / name, rate)
        a = int(t * rate)
        if a + len(clip) > n:
            break
        speech[a:a + len(clip)] = clip
        regions.append((round(t, 3), round(t + len(clip) / rate, 3)))
        t += len(clip) / rate + 1.5
    speech_rms = _rms(np.concatenate([speech[int(s * rate):int(e * rate)] for s, e in regions]))
    bed *= (speech_rms / _rms(bed)) * 10 ** (-speech_to_bed_db / 20)
    dialogue = np.stack([speech, speech], axis=1) * 0.5
    bed *= 0.5
    peak = max(float(np.max(np.abs(dialogue + bed))), 1e-9)
    scale = min(1.0, 0.9 / peak)
    dialogue, bed = (dialogue * scale).astype(np.float32), (bed * scale).astype(np.float32)
    surround = np.zeros((n, 6), dtype=np.float32)
    surround[:, 0:2] = bed
    surround[:, 2] = dialogue[:, 0] * 2
    surround[:, 4:6] = bed[:, ::-1] * 0.5  # some of the bed in the surrounds
    return TestMix(dialogue + bed, dialogue, bed, rate, regions, surround)


def sdr_db(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Signal-to-distortion ratio (dB): ``10 log10(|s|^2 / |s - s_hat|^2)`` over all samples
    and channels (the plain SDR of the SiSEC evaluations, no allowed distortion filter)."""
    ref = np.asarray(reference, dtype=np.float64)
    err = ref - np.asarray(estimate, dtype=np.float64)
    return float(10 * np.log10(np.sum(ref ** 2) / max(np.sum(err ** 2), 1e-20)))


def speech_probability_in(audio: np.ndarray, rate: int, regions: list[tuple[float, float]]) -> float:
    """Mean Silero VAD speech probability of ``audio`` (``(n,)`` or ``(n, c)``, downmixed)
    over the 32 ms windows inside ``regions`` (seconds); 0.0 when there is none."""
    from scipy.signal import resample_poly

    from dubpreview.asr.vad import WINDOW, speech_probabilities

    mono = audio.mean(axis=1) if audio.ndim == 2 else audio
    g = np.gcd(rate, 16000)
    mono16 = np.clip(resample_poly(mono, 16000 // g, rate // g), -1, 1).astype(np.float32)
    probs = speech_probabilities(mono16)
    t = (np.arange(len(probs)) + 0.5) * WINDOW / 16000
    inside = np.zeros(len(probs), dtype=bool)
    for s, e in regions:
        inside |= (t >= s) & (t < e)
    return float(probs[inside].mean()) if inside.any() else 0.0
