"""Text a user types into an edit: empty, very long, emoji, right-to-left, CJK, markup-like.

Real Kokoro synthesis (the pt and en voices) and the real subtitle writers; an edit goes
through :func:`dubpreview.project.edits.edit_line` and the project schema check.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from dubpreview.settings import DubSettings
from dubpreview.project.edits import edit_line
from dubpreview.project.schema import load_state
from dubpreview.records import Segment
from dubpreview.subtitles import Cue, read_cues, write_srt, write_vtt
from dubpreview.tts.kokoro import SAMPLE_RATE, default_synthesizer
from dubpreview.tts.voices import default_voice

TRICKY = {
    "emoji": "Olá 😀 tudo bem? 👍🏽",
    "rtl": "Ele disse مرحبا بكم e foi embora.",
    "cjk": "O nome dele é 山田太郎, de Tóquio.",
    "markup": "<b>Cuidado</b> & {\\an8} [risos] <script>x</script> 5 > 3",
    "controls": "Linha\tcom\u200btab e\u202eRTL override\u202c no meio.",
}


@pytest.mark.parametrize("name", sorted(TRICKY))
def test_tricky_text_synthesizes_the_speakable_part(name):
    synth = default_synthesizer()
    samples = synth.synthesize(TRICKY[name], "pt", default_voice("pt"))
    assert samples.dtype == np.float32 and np.isfinite(samples).all()
    assert len(samples) / SAMPLE_RATE > 0.8  # the Portuguese words around the odd part are spoken


def test_text_with_nothing_speakable_gives_silence_not_an_error():
    synth = default_synthesizer()
    for text in ("", "   ", "😀👍🏽", "\u200b"):
        samples = synth.synthesize(text, "pt", default_voice("pt"))
        assert samples.dtype == np.float32 and len(samples) / SAMPLE_RATE < 0.5, repr(text)


@pytest.mark.slow
def test_a_2000_character_line_is_split_for_synthesis_not_truncated():
    synth = default_synthesizer()
    sentence = "The lighthouse keeper counted the ships that passed his window every evening, "
    text = (sentence * 30)[:2000].rsplit(" ", 1)[0] + "."
    assert len(text) > 1900
    whole = synth.tokens(__import__("dubpreview.tts.phonemes", fromlist=["phonemize"]).phonemize(text, "en"))
    chunks = synth._chunks(text, "en")
    assert len(whole) > 510 and len(chunks) >= 2  # over Kokoro's context: split
    assert sum(map(len, chunks)) >= 0.97 * len(whole)  # every part is kept
    long = synth.synthesize(text, "en", default_voice("en"))
    short = synth.synthesize(sentence.strip().rstrip(",") + ".", "en", default_voice("en"))
    # spoken length per character like a normal sentence's (a truncated line would be far shorter)
    ratio = (len(long) / len(text)) / (len(short) / len(sentence))
    assert 0.75 < ratio < 1.4, ratio


def test_tricky_edits_are_stored_and_written_as_subtitles(tmp_path):
    segments = [Segment(i, i * 3.0, i * 3.0 + 2.5, f"Line {i}.", translation={"pt": "Olá."}) for i in range(len(TRICKY) + 2)]
    state = {"schema_version": 2, "source": {"path": str(tmp_path / "s.mp4"), "sha256": "0" * 64},
             "settings": DubSettings(targets=["pt"]).public(), "segments": [s.to_dict() for s in segments]}
    (tmp_path / "project.json").write_text(json.dumps(state), encoding="utf-8")
    texts = list(TRICKY.values()) + ["", "A" * 1999 + "."]
    for i, text in enumerate(texts):
        edit_line(tmp_path, i, language="pt", translation=text)
    stored = load_state(tmp_path)["segments"]
    assert [s["translation"]["pt"] for s in stored] == texts  # kept exactly, none truncated
    cues = [Cue(s["start"], s["end"], s["translation"]["pt"]) for s in stored if s["translation"]["pt"]]
    write_vtt(cues, tmp_path / "s.vtt")
    write_srt(cues, tmp_path / "s.srt")
    back = {c.text for c in read_cues(tmp_path / "s.vtt")}
    assert TRICKY["emoji"] in back and TRICKY["rtl"] in back and TRICKY["cjk"] in back
    assert "A" * 1999 + "." in back
    # WebVTT escapes markup-like text, so it comes back as typed except ASS-style {...} (documented)
    assert "<b>Cuidado</b> & [risos] <script>x</script> 5 > 3" in back  # runs of spaces collapse
    srt = (tmp_path / "s.srt").read_text(encoding="utf-8")
    assert "山田太郎" in srt and "مرحبا" in srt
