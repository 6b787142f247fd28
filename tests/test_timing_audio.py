"""The timing engine's audio side: atempo stretching on real speech, length-aware choice with
the real Kokoro length estimate, and the readable report."""

from __future__ import annotations

from pathlib import Path

import jiwer
import numpy as np
import pytest

from dubpreview.media.extract import load_audio
from dubpreview.records import Segment
from dubpreview.timing.fit import TimingSettings, plan
from dubpreview.timing.report import fit_status, format_table
from dubpreview.timing.stretch import time_stretch

DATA = Path(__file__).parent / "data"
HARVARD = ("The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background. "
           "It's easy to tell the depth of a well. Four hours of steady work faced us.")


@pytest.mark.parametrize("factor", [1.25, 0.9])
def test_atempo_stretch_is_exact_and_keeps_the_words(factor):
    """Harvard sentences (real speech) stretched: exact length, and Whisper still hears them
    (WER within 5 points of the unstretched audio's)."""
    from dubpreview.pipeline.analyze import transcriber_for
    from dubpreview.settings import DubSettings

    audio = load_audio(DATA / "deb_codec2-examples_speech_orig_16k_en.wav").samples
    out = time_stretch(audio, 16000, factor)
    assert len(out) == round(len(audio) / factor)
    asr = transcriber_for(DubSettings(targets=["en"]))
    norm = jiwer.Compose([jiwer.ToLowerCase(), jiwer.RemovePunctuation(), jiwer.RemoveMultipleSpaces(), jiwer.Strip()])

    def wer(samples):
        return jiwer.wer(norm(HARVARD), norm(" ".join(s.text for s in asr.transcribe(samples, language="en").segments)))

    base, stretched = wer(audio), wer(out)
    print(f"WER natural {base:.3f}, x{factor} {stretched:.3f}")
    assert stretched <= base + 0.05


def test_length_aware_translation_plumbing_with_stub_nbest_translator():
    """Plumbing only (the n-best candidates come from a stub, not a model): a rushed line takes
    the shorter candidate the real Kokoro length estimate says fits; alternatives are recorded;
    a line the user edited is left alone."""
    from dubpreview.pipeline.synthesize import shorten_lines as _shorten_lines
    from dubpreview.tts.kokoro import default_synthesizer

    class StubNBestTranslator:
        name = "stub"

        def translate_nbest(self, texts, n):
            return [[("Eu gostaria muito de ir às reuniões onde se fala sobre todas essas coisas", -0.30),
                     ("Quero ir às reuniões", -0.45),
                     ("Reuniões", -2.5)] for _ in texts]

    synth = default_synthesizer()
    long_text = "Eu gostaria muito de vir para as reuniões em que se fala sobre todas essas coisas importantes"
    segs = [Segment(0, 0.0, 1.5, "I want to come to the meetings", translation={"pt": long_text}),
            Segment(1, 1.6, 3.0, "I want to come to the meetings", translation={"pt": long_text}, edited=["pt"])]
    naturals = [synth.units(long_text, "pt") * 0.075] * 2  # ~75 ms per phoneme, Kokoro's usual rate
    settings = TimingSettings()
    report = plan(segs, naturals, settings, 6.0)
    assert naturals[0] / settings.accepted_speed > report.placements[0].slot  # rushed even at 1.2x
    changed = _shorten_lines(segs, naturals, report, "pt", StubNBestTranslator(), synth, settings)
    assert changed == [0]
    assert segs[0].translation["pt"] == "Quero ir às reuniões"
    assert segs[0].shortened == ["pt"]
    assert {c["text"] for c in segs[0].alternatives["pt"]} >= {long_text, "Quero ir às reuniões"}
    assert segs[1].translation["pt"] == long_text and segs[1].shortened == []


def test_readable_report():
    line = {"segment_id": 3, "start": 1.0, "end": 2.5, "speed": 1.15, "lateness": 0.12, "overflow": 0.42,
            "overlap": 0.0}
    assert fit_status(line) == "sped up ×1.15, late 120 ms, overruns by 420 ms"
    assert fit_status(dict(line, speed=1.0, lateness=0.0, overflow=0.01)) == "fits"
    segs = [Segment(0, 0.0, 1.0, "a"), Segment(1, 1.5, 2.0, "b")]
    report = plan(segs, [0.8, 0.5], TimingSettings(), 3.0).to_dict()
    table = format_table(report, {0: "olá", 1: "tchau"})
    assert table.splitlines()[1].split()[:4] == ["0", "0.00", "0.80", "1.00"]
    assert "olá" in table and "fits" in table and "M1" in table.splitlines()[-1]
    assert np.isfinite(report["totals"]["m2"])
