"""Speech recognition, VAD and Whisper speech translation on real recordings (tests/data).

Real models only: Whisper base from the registry packages through faster-whisper and
through openai-whisper (checkpoint rebuilt from the CTranslate2 weights), Silero VAD.
Each model is loaded once per session (the backends are shared by ``get_transcriber``).
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import av
import jiwer
import numpy as np
import pytest
import sacrebleu
from hypothesis import given, settings
from hypothesis import strategies as st
from whisper.normalizers import EnglishTextNormalizer

from dubpreview.asr import common, ct2_to_openai, select
from dubpreview.asr.base import SAMPLE_RATE
from dubpreview.asr.clips import flat_clips
from dubpreview.asr.openai_whisper import checkpoint_path, ensure_checkpoint
from dubpreview.asr.vad import speech_regions
from dubpreview.errors import BackendUnavailable, DubError
from dubpreview.models import registry
from dubpreview.records import Segment, Transcript
from dubpreview.translate.whisper_speech import WhisperSpeechTranslator

DATA = Path(__file__).parent / "data"
LIBRIVOX = ["0870", "0880", "0890", "0920", "0930"]
SCENE = DATA / "fillets-ng_cs_dialogue_cabin1.wav"
BACKEND_OPTS = {"faster-whisper": {"cpu_threads": 2}, "openai-whisper": {"threads": 2}}


def load_audio(path: Path) -> np.ndarray:
    """Decode any audio file with PyAV to float32 ``(n,)`` mono at 16 kHz."""
    resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
    chunks = []
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            chunks += [f.to_ndarray()[0] for f in resampler.resample(frame)]
    chunks += [f.to_ndarray()[0] for f in resampler.resample(None)]
    return np.concatenate(chunks).astype(np.float32)


def librivox_references() -> dict[str, str]:
    """Clip number ("0870") -> reference text, from the pocketsphinx ``.transcription`` file."""
    refs = {}
    for line in (DATA / "deb_pocketsphinx-testdata_librivox_en_austen.transcription").read_text().splitlines():
        m = re.match(r"<s>\s*(.*?)\s*</s>\s*\(.*-(\d+)\)", line)
        if m:
            refs[m.group(2)] = m.group(1)
    return refs


def assert_well_formed(tr: Transcript) -> None:
    """Ids 0..n-1 in time order, stripped text, every word inside its segment."""
    assert [s.id for s in tr.segments] == list(range(len(tr.segments)))
    for prev, seg in zip(tr.segments, tr.segments[1:]):
        assert prev.start <= seg.start and prev.end <= seg.start + 1e-3
    for seg in tr.segments:
        assert 0.0 <= seg.start <= seg.end <= tr.duration + 1e-3
        assert seg.text == seg.text.strip() and seg.text
        assert seg.words, "word timestamps requested"
        for w in seg.words:
            assert seg.start <= w.start <= w.end <= seg.end


@pytest.fixture(scope="module", params=list(BACKEND_OPTS))
def backend(request):
    return select.get_transcriber(request.param, **BACKEND_OPTS[request.param])


@pytest.fixture(scope="module")
def faster():
    return select.get_transcriber("faster-whisper", **BACKEND_OPTS["faster-whisper"])


@pytest.fixture(scope="module")
def scene_audio() -> np.ndarray:
    return load_audio(SCENE)


@pytest.fixture(scope="module")
def scene_lines() -> list[dict]:
    return json.loads(SCENE.with_suffix(".json").read_text())["segments"]


# --- VAD ------------------------------------------------------------------------------------

def test_vad_regions_on_speech_and_silence(scene_audio, scene_lines):
    assert speech_regions(np.zeros(10 * SAMPLE_RATE, dtype=np.float32)) == []
    regions = speech_regions(scene_audio, min_silence_s=0.4, pad_s=0.1)
    duration = len(scene_audio) / SAMPLE_RATE
    assert all(0 <= a < b <= duration for a, b in regions)
    assert all(b1 <= a2 for (_, b1), (a2, _) in zip(regions, regions[1:]))
    # every one of the 20 lines (joined with 0.5 s gaps) overlaps detected speech
    for line in scene_lines:
        assert any(a < line["end"] and b > line["start"] for a, b in regions), line["id"]
    assert len(regions) >= 15


# --- transcription quality --------------------------------------------------------------------

@pytest.mark.slow
def test_librivox_wer(backend):
    refs = librivox_references()
    norm = EnglishTextNormalizer()
    hyps, total_audio, t0 = [], 0.0, time.perf_counter()
    for clip in LIBRIVOX:
        audio = load_audio(DATA / f"deb_pocketsphinx-testdata_librivox_en_austen-{clip}.wav")
        total_audio += len(audio) / SAMPLE_RATE
        tr = backend.transcribe(audio)
        assert tr.language == "en" and tr.language_probability > 0.9
        assert_well_formed(tr)
        hyps.append(" ".join(s.text for s in tr.segments))
    elapsed = time.perf_counter() - t0
    wer = jiwer.wer([norm(refs[c]) for c in LIBRIVOX], [norm(h) for h in hyps])
    print(f"\n{backend.name}: WER {wer:.2%} on {total_audio:.1f} s of LibriVox audio, "
          f"transcribed in {elapsed:.1f} s")
    assert wer <= 0.05


def test_spanish_language_id(backend):
    tr = backend.transcribe(load_audio(DATA / "pypi_mfa_mls_es_13697_11991_000000.opus"))
    print(f"\n{backend.name}: Spanish clip -> {tr.language} p={tr.language_probability:.3f}")
    assert tr.language == "es" and tr.language_probability > 0.5
    assert_well_formed(tr)


def test_czech_language_id_openai(scene_audio):
    openai_backend = select.get_transcriber("openai-whisper", **BACKEND_OPTS["openai-whisper"])
    tr = openai_backend.transcribe(scene_audio[: 12 * SAMPLE_RATE])
    print(f"\nopenai-whisper: Czech scene (first 12 s) -> {tr.language} p={tr.language_probability:.3f}")
    assert tr.language == "cs"
    assert_well_formed(tr)


@pytest.mark.slow
def test_czech_scene_faster(faster, scene_audio):
    t0 = time.perf_counter()
    tr = faster.transcribe(scene_audio)
    print(f"\nfaster-whisper: Czech scene ({tr.duration:.1f} s) -> {tr.language} "
          f"p={tr.language_probability:.3f}, {len(tr.segments)} segments in {time.perf_counter() - t0:.1f} s")
    assert tr.language == "cs"
    assert abs(tr.duration - len(scene_audio) / SAMPLE_RATE) < 1e-6
    assert_well_formed(tr)
    assert len(tr.segments) >= 15  # 20 lines with 0.5 s pauses: pauses split segments


def test_long_silence_splits_segments(faster):
    a = load_audio(DATA / "deb_pocketsphinx-testdata_librivox_en_austen-0880.wav")
    b = load_audio(DATA / "deb_pocketsphinx-testdata_librivox_en_austen-0930.wav")
    gap_start = len(a) / SAMPLE_RATE
    gap_end = gap_start + 2.0
    tr = faster.transcribe(np.concatenate([a, np.zeros(2 * SAMPLE_RATE, np.float32), b]), language="en")
    assert_well_formed(tr)
    assert len(tr.segments) >= 2
    assert all(s.end <= gap_start + 0.3 or s.start >= gap_end - 0.3 for s in tr.segments)
    assert "young man" in tr.segments[0].text and "amiable himself" in tr.segments[-1].text
    assert tr.segments[-1].start > gap_end - 0.3  # absolute times, not times within the clip


def test_clip_ends_are_held_to_the_audios_last_mel_frame():
    # 110849 samples hold 692 whole mel frames (6.92 s); openai-whisper looped forever on a
    # clip ending at 6.928 s (frame 693): every clip must end inside the content frames
    flat = flat_clips([(0.0, 3.0), (3.5, 6.928)], 110849)
    assert flat == [0.0, 3.0, 3.5, 6.92]
    assert flat_clips([(0.0, 3.0), (6.921, 6.928)], 110849) == [0.0, 3.0]


def test_decode_windows_cut_only_between_clips():
    from dubpreview.asr.clips import decode_windows

    clips = [(0.5, 3.0), (4.0, 9.5), (10.0, 11.0), (30.0, 31.0), (31.5, 70.0), (71.0, 72.0)]
    windows = decode_windows(clips, window_s=12.0)
    assert [g for _, _, g in windows] == [clips[:3], clips[3:4], clips[4:5], clips[5:]]
    assert all(lo == g[0][0] and hi == g[-1][1] for lo, hi, g in windows)
    assert decode_windows([]) == []


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.floats(0.0, 5.0), st.floats(0.05, 40.0)), max_size=30),
       st.floats(0.0, 3.0), st.floats(5.0, 30.0))
def test_context_windows_hold_every_clip_once_in_order(steps, gap_s, window_s):
    """Speech translation's context windows (property): each clip inside exactly one window,
    windows in order and apart, none longer than ``window_s`` unless it is one clip, and two
    windows are joined only across a pause of at most ``gap_s``."""
    from dubpreview.asr.clips import context_windows

    clips, t = [], 0.0
    for pause, length in steps:
        clips.append((t + pause, t + pause + length))
        t = clips[-1][1]
    windows = context_windows(clips, gap_s, window_s)
    owner = [[i for i, (lo, hi) in enumerate(windows) if lo <= s and e <= hi] for s, e in clips]
    assert all(len(o) == 1 for o in owner)
    assert [o[0] for o in owner] == sorted(o[0] for o in owner)
    assert all(a[1] <= b[0] for a, b in zip(windows, windows[1:]))
    for i, (lo, hi) in enumerate(windows):
        inside = [c for c, o in zip(clips, owner) if o[0] == i]
        assert (lo, hi) == (inside[0][0], inside[-1][1])
        assert hi - lo <= window_s + 1e-9 or len(inside) == 1
    for a, b in zip(windows, windows[1:]):  # not joined: the pause is long or the join too long
        assert b[0] - a[1] > gap_s or b[1] - a[0] > window_s


@pytest.mark.parametrize("window_s", [8.0])
def test_a_long_scene_is_decoded_window_by_window_with_absolute_times(faster, monkeypatch, window_s):
    """Five real LibriVox readings with pauses, decoded in windows of a few seconds (as a long
    scene is decoded in 10-minute windows): the same WER bound as a whole decode, every time
    absolute, every window's words inside its own reading."""
    from dubpreview.asr import common

    refs, norm = librivox_references(), EnglishTextNormalizer()
    gap = np.zeros(SAMPLE_RATE, np.float32)
    parts, starts, t = [], [], 0.0
    for clip in LIBRIVOX:
        a = load_audio(DATA / f"deb_pocketsphinx-testdata_librivox_en_austen-{clip}.wav")
        starts.append(t)
        parts += [a, gap]
        t += (len(a) + len(gap)) / SAMPLE_RATE
    audio = np.concatenate(parts)
    monkeypatch.setattr(common, "DECODE_WINDOW_S", window_s)
    tr = faster.transcribe(audio, language="en")
    assert_well_formed(tr)
    wer = jiwer.wer(norm(" ".join(refs[c] for c in LIBRIVOX)), norm(" ".join(s.text for s in tr.segments)))
    assert wer <= 0.05, wer
    assert tr.segments[-1].start >= starts[-1] - 0.3  # the last reading's words sit at its own time


def test_silence_gives_no_segments(backend):
    tr = backend.transcribe(np.zeros(10 * SAMPLE_RATE, dtype=np.float32))
    assert tr.segments == [] and tr.duration == 10.0


def test_bad_requests_are_dub_errors(faster):
    with pytest.raises(DubError, match="unknown language"):
        faster.transcribe(np.zeros(SAMPLE_RATE, np.float32), language="xx")
    with pytest.raises(DubError, match="task"):
        faster.transcribe(np.zeros(SAMPLE_RATE, np.float32), task="summarise")
    with pytest.raises(DubError, match="mono"):
        faster.transcribe(np.zeros((SAMPLE_RATE, 2), np.float32))


# --- backend selection ----------------------------------------------------------------------

def test_select_shares_instances_and_explains_errors(faster, monkeypatch):
    assert select.get_transcriber("faster-whisper", cpu_threads=2) is faster
    assert faster.name == "faster-whisper" and faster.model_id.startswith("whisper-base-ct2-")
    with pytest.raises(DubError, match="faster-whisper, openai-whisper"):
        select.get_transcriber("whisper.cpp")
    with pytest.raises(DubError, match="threads"):
        select.get_transcriber("faster-whisper", gpu=True)
    real = select.importlib.util.find_spec
    monkeypatch.setattr(select.importlib.util, "find_spec", lambda n: None if n == "whisper" else real(n))
    with pytest.raises(BackendUnavailable, match="pip install openai-whisper"):
        select.get_transcriber("openai-whisper", threads=3)


# --- openai-whisper checkpoint ----------------------------------------------------------------

def test_ct2_reader_parses_and_rejects(tmp_path):
    ct2 = ct2_to_openai.read_ct2(registry.whisper_base_dir() / "model.bin")
    assert ct2.spec == "WhisperSpec" and len(ct2.variables) == 212
    assert ct2.aliases == {"decoder/projection/weight": "decoder/embeddings/weight"}
    assert ct2.variables["encoder/conv1/weight"].shape == (512, 80, 3)
    truncated = tmp_path / "model.bin"
    truncated.write_bytes((registry.whisper_base_dir() / "model.bin").read_bytes()[:100_000])
    with pytest.raises(DubError, match="truncated"):
        ct2_to_openai.read_ct2(truncated)


def test_checkpoint_built_once_and_verified():
    first = ensure_checkpoint()  # built now or by an earlier test/session
    mtime = checkpoint_path().stat().st_mtime_ns
    again = ensure_checkpoint()
    assert not again.built and again.path == first.path
    assert checkpoint_path().stat().st_mtime_ns == mtime
    assert registry.sha256_file(again.path) == ct2_to_openai.CHECKPOINT_SHA256


@pytest.mark.slow
def test_checkpoint_build_is_deterministic_and_corruption_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("DUBPREVIEW_HOME", str(tmp_path))
    assert str(checkpoint_path()).startswith(str(tmp_path))
    built = ensure_checkpoint()  # assembles the CT2 model in the tmp home, then converts
    print(f"\nopenai-whisper checkpoint built in {built.seconds:.1f} s ({built.reason})")
    assert built.built and built.reason == "missing"
    assert registry.sha256_file(built.path) == ct2_to_openai.CHECKPOINT_SHA256
    with open(built.path, "r+b") as f:  # flip one byte in the middle of the weights
        f.seek(os.path.getsize(built.path) // 2)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0xFF]))
    rebuilt = ensure_checkpoint()
    assert rebuilt.built and rebuilt.reason == "sha256 mismatch"
    assert registry.sha256_file(rebuilt.path) == ct2_to_openai.CHECKPOINT_SHA256
    assert not ensure_checkpoint().built


# --- speech translation -------------------------------------------------------------------------

@pytest.mark.slow
def test_whisper_speech_translation_beats_untranslated_baseline(faster, scene_audio, scene_lines):
    segments = [Segment(id=i, start=x["start"], end=x["end"], text=x["text"]["cs"])
                for i, x in enumerate(scene_lines)]
    refs = [x["text"]["en"] for x in scene_lines]
    translator = WhisperSpeechTranslator(faster)
    assert translator.pairs() == {("*", "en")}
    t0 = time.perf_counter()
    hyps = translator.translate(segments, "cs", "en", audio=scene_audio)
    elapsed = time.perf_counter() - t0
    assert len(hyps) == len(segments) and all(isinstance(h, str) for h in hyps)
    chrf = sacrebleu.corpus_chrf(hyps, [refs]).score
    baseline = sacrebleu.corpus_chrf([s.text for s in segments], [refs]).score
    print(f"\nwhisper-translate cs->en: chrF {chrf:.1f} vs untranslated Czech {baseline:.1f} "
          f"({len(segments)} lines in {elapsed:.1f} s)")
    for h, r in zip(hyps, refs):
        print(f"  {h!r}  |  {r}")
    assert chrf >= baseline + 4.0


def test_speech_translation_refuses_other_targets(faster, scene_audio):
    translator = WhisperSpeechTranslator(faster)
    seg = Segment(id=0, start=0.0, end=1.0, text="x")
    with pytest.raises(DubError, match="English"):
        translator.translate([seg], "cs", "pt", audio=scene_audio)
    with pytest.raises(DubError, match="audio"):
        translator.translate([seg], "cs", "en")
    silent = translator.translate([seg], "cs", "en", audio=np.zeros(5 * SAMPLE_RATE, np.float32))
    assert silent == [""]
