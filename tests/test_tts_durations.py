"""Kokoro's duration predictor: a line's length at any speed before it is synthesized.

The property tests check the length model's arithmetic (pure); the real-model test runs
the predictor cut from the shipped int8 graph against real synthesis of Portuguese lines.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dubpreview.tts.durations import FRAME_SAMPLES, KokoroLength, PowerLawLength

durations = st.lists(st.floats(0.05, 30.0, allow_nan=False), min_size=3, max_size=60)


@given(durations, st.floats(0.5, 2.0), st.floats(0.5, 2.0))
@settings(max_examples=200, deadline=None)
def test_a_faster_line_is_never_longer(ds, a, b):
    symbols = ["a"] * (len(ds) - 2)
    model = KokoroLength.from_durations([(np.array(ds, np.float32), symbols)])
    lo, hi = sorted((a, b))
    assert model.untrimmed_frames(hi) <= model.untrimmed_frames(lo)
    assert model.seconds(hi) <= model.seconds(lo) + 1e-9
    # Kokoro's rule: every token at least one frame, rounded after dividing by the speed
    want = sum(max(1, int(np.round(np.float32(d) / np.float32(lo)))) for d in np.float32(ds))
    assert model.untrimmed_frames(lo) == want


@given(durations, st.floats(0.5, 2.0), st.floats(0.5, 1.5))
@settings(max_examples=100, deadline=None)
def test_a_model_survives_json_and_scales(ds, speed, factor):
    model = KokoroLength.from_durations([(np.array(ds, np.float32), ["a", ",", *["b"] * (len(ds) - 4), "."])])
    again = KokoroLength.from_dict(model.to_dict())
    assert again.seconds(speed) == pytest.approx(model.seconds(speed))
    assert model.scaled(factor).seconds(speed) == pytest.approx(model.seconds(speed) * factor)
    assert PowerLawLength(2.0, 0.82).scaled(factor).seconds(1.0) == pytest.approx(2.0 * factor)


@pytest.fixture(scope="module")
def kokoro():
    from dubpreview.tts.kokoro import KokoroSynthesizer

    synth = KokoroSynthesizer(threads=2, workers=1)
    if synth.length_model("Sim.", "pt", "pf_dora") is None:
        pytest.fail("the duration predictor could not be built: is the onnx package installed?")
    return synth


LINES = ["Pergunto-me quantas reuniões estão a falar das coisas com as reuniões.", "Pare de rir!",
         "Então nós apenas vamos ao redor e todos dizem"]


@pytest.mark.parametrize("voice", ["pf_dora", "am_michael"])
def test_predicted_lengths_match_real_synthesis(kokoro, voice):
    from dubpreview.tts.phonemes import phonemize

    for text in LINES:
        model = kokoro.length_model(text, "pt", voice)
        toks = kokoro.tokens(phonemize(text, "pt"))
        for speed in (1.0, 1.25):
            raw = kokoro._session.run(None, {"tokens": np.array([[0, *toks, 0]], np.int64),
                                             "style": kokoro.style(voice, len(toks)),
                                             "speed": np.array([speed], np.float32)})[0]
            # untrimmed: exact, to the sample (Kokoro's own rounding of the predicted frames)
            assert np.asarray(raw).size == model.untrimmed_frames(speed) * FRAME_SAMPLES
            # trimmed: the fit of tts/durations.py (0.051 s sd, 0.14 s at most where it was fitted)
            real = len(kokoro.synthesize(text, "pt", voice, speed)) / 24000
            print(f"{voice} {speed} predicted {model.seconds(speed):.3f} s, real {real:.3f} s")
            assert abs(model.seconds(speed) - real) < 0.2
