"""Media plumbing on real files: probe, decode, remux, and the refusals.

No model runs here: the "dub" of the plumbing tests is the scene's own audio lowered
by 6 dB and delayed, which is enough to tell the tracks apart after the remux.
MOV/MKV inputs are stream copies of the scene; WebM/VP8 inputs are short low-resolution
encodes; all are made in tmp with the static ffmpeg.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf

from dubpreview.errors import DubError
from dubpreview.media.extract import load_audio
from dubpreview.media.ffmpeg import ffmpeg_exe, summarize_stderr
from dubpreview.media.probe import probe
from dubpreview.media.containers import default_output_path
from dubpreview.media.remux import AudioTrack, SubtitleTrack, write_preview
from dubpreview.separate.testmix import build_test_mix

DATA = Path(__file__).parent / "data"
SCENE = DATA / "example_fillets-ng_cs_dialogue_640x360_h264_aac.mp4"
WAV = DATA / "fillets-ng_cs_dialogue_cabin1.wav"
OPUS = DATA / "pypi_mfa_mls_es_13697_11991_000000.opus"
SRT_EN = DATA / "fillets-ng_cs_dialogue_cabin1.en.srt"
SRT_CS = DATA / "fillets-ng_cs_dialogue_cabin1.cs.srt"

SCENE_DURATION = 67.52  # s, the container (= video) duration
SCENE_AUDIO_DURATION = 67.481  # s
TOL = 0.05  # s


# --- helpers -----------------------------------------------------------------------------


def ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *map(str, args)],
                   check=True)


def video_packets(path: Path) -> tuple[str, int]:
    """SHA-256 over the bytes of every video packet, and the packet count."""
    h, n = hashlib.sha256(), 0
    with av.open(str(path)) as c:
        for pkt in c.demux(c.streams.video[0]):
            if pkt.size:
                h.update(bytes(pkt))
                n += 1
    return h.hexdigest(), n


def video_end(path: Path) -> float:
    """End of the last video packet, seconds."""
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        return max(float((p.pts + p.duration) * p.time_base) for p in c.demux(s) if p.pts is not None)


def stream_tags(path: Path) -> list[tuple[str, str | None, str | None, bool]]:
    """(type, language, title, default) per stream; MP4 stores titles as 'name'."""
    with av.open(str(path)) as c:
        return [
            (s.type, s.metadata.get("language"), s.metadata.get("title") or s.metadata.get("name"),
             bool(s.disposition & av.stream.Disposition.default))
            for s in c.streams
        ]


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def write_srt(path: Path, cues: list[tuple[str, str, str]]) -> Path:
    path.write_text("".join(f"{i}\n{a} --> {b}\n{t}\n\n" for i, (a, b, t) in enumerate(cues, 1)), encoding="utf-8")
    return path


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="module")
def dub_wav(work) -> Path:
    """The plumbing "dub": the scene's audio at -6 dB, delayed 0.3 s, same length, 48 kHz stereo."""
    original = load_audio(SCENE, sample_rate=48000, channels=2).samples
    delay = int(0.3 * 48000)
    dub = np.concatenate([np.zeros((delay, 2), np.float32), original[:-delay]]) * np.float32(10 ** (-6 / 20))
    path = work / "dub.pt.wav"
    sf.write(path, dub, 48000, subtype="FLOAT")
    return path


@pytest.fixture(scope="module")
def short_srts(work) -> tuple[Path, Path]:
    """Two SRTs whose cues lie inside a 5 s clip."""
    en = write_srt(work / "short.en.srt", [("00:00:00,500", "00:00:02,000", "Hello"), ("00:00:02,500", "00:00:04,000", "there")])
    cs = write_srt(work / "short.cs.srt", [("00:00:00,500", "00:00:02,000", "Ahoj"), ("00:00:02,500", "00:00:04,000", "tam")])
    return en, cs


def tracks(dub: Path) -> list[AudioTrack]:
    return [AudioTrack(dub, "pt", "Portuguese (dub)", default=True), AudioTrack(None, "cs", "Czech (original)")]


def subtitles(en: Path, cs: Path) -> list[SubtitleTrack]:
    return [SubtitleTrack(en, "en", "English"), SubtitleTrack(cs, "cs", "Czech")]


@pytest.fixture(scope="module")
def scene_preview(work, dub_wav) -> Path:
    out = work / "out" / "scene.dub-pt.mp4"
    write_preview(SCENE, probe(SCENE), out, tracks(dub_wav), subtitles(SRT_EN, SRT_CS))
    return out


# --- probe -----------------------------------------------------------------------------------


def test_probe_scene_streams_and_durations():
    info = probe(SCENE)
    assert "mp4" in info.format and not info.is_audio_only
    assert info.duration == pytest.approx(SCENE_DURATION, abs=0.01)
    [v] = info.video
    assert (v.codec, v.width, v.height, v.fps, v.frames) == ("h264", 640, 360, 25.0, 1688)
    [a] = info.audio
    assert (a.index, a.codec, a.channels, a.sample_rate) == (1, "aac", 2, 48000)
    assert a.duration == pytest.approx(SCENE_AUDIO_DURATION, abs=0.01)
    assert info.subtitles == []


def test_probe_audio_only_wav():
    info = probe(WAV)
    assert info.is_audio_only and info.format == "wav"
    [a] = info.audio
    assert (a.codec, a.channels, a.sample_rate) == ("pcm_s16le", 1, 22050)
    assert a.duration == pytest.approx(1487961 / 22050, abs=1e-3)


# --- load_audio ----------------------------------------------------------------------------


@pytest.mark.parametrize("path, rate, channels, samples", [
    (SCENE, 16000, 1, 1079696),  # AAC track: 3239088 samples at 48 kHz (67.481 s)
    (SCENE, 48000, 2, 3239088),
    (WAV, 16000, 1, 1079700),  # 1487961 samples at 22050 Hz
    (WAV, 22050, 1, 1487961),
])
def test_load_audio_exact_rate_and_length(path, rate, channels, samples):
    audio = load_audio(path, sample_rate=rate, channels=channels)
    assert audio.sample_rate == rate and audio.samples.dtype == np.float32
    assert audio.samples.ndim == (1 if channels == 1 else 2)
    if channels > 1:
        assert audio.samples.shape[1] == channels
    assert len(audio.samples) == samples
    assert 0.01 < rms(audio.samples) < 1.0


def test_load_audio_refuses_a_stream_that_is_not_audio():
    with pytest.raises(DubError, match=r"no audio stream #0; its audio streams are #1"):
        load_audio(SCENE, stream_index=0)


# --- the MP4 preview -----------------------------------------------------------------------


def test_plumbing_preview_copies_video_bit_identically(scene_preview):
    assert video_packets(scene_preview) == video_packets(SCENE)


def test_plumbing_preview_track_layout(scene_preview):
    info = probe(scene_preview)
    assert [a.codec for a in info.audio] == ["aac", "aac"]
    assert [s.codec for s in info.subtitles] == ["mov_text", "mov_text"]
    end = video_end(scene_preview)
    assert end == pytest.approx(SCENE_DURATION, abs=0.001)
    for a in info.audio:
        assert a.duration == pytest.approx(end, abs=TOL)
    assert (info.audio[0].sample_rate, info.audio[0].channels) == (48000, 2)
    tags = stream_tags(scene_preview)
    assert tags[1:3] == [("audio", "por", "Portuguese (dub)", True), ("audio", "cze", "Czech (original)", False)]
    # Subtitles: languages and titles; the MP4 muxer marks the first one "enabled" (reads as default).
    assert [t[:3] for t in tags[3:]] == [("subtitle", "eng", "English"), ("subtitle", "cze", "Czech")]
    assert tags[4][3] is False


def test_plumbing_preview_dub_is_first_and_original_second(scene_preview):
    info = probe(scene_preview)
    dub = load_audio(scene_preview, 16000, 1, stream_index=info.audio[0].index).samples
    original = load_audio(scene_preview, 16000, 1, stream_index=info.audio[1].index).samples
    source = load_audio(SCENE, 16000, 1).samples
    assert rms(dub) / rms(original) == pytest.approx(0.5, abs=0.05)  # -6 dB
    n = min(len(original), len(source))
    assert np.corrcoef(original[:n], source[:n])[0, 1] > 0.99  # the original is the source audio


def test_plumbing_preview_leaves_only_the_preview(scene_preview):
    assert leftovers(scene_preview.parent) == [scene_preview.name]
    umask = os.umask(0o022)
    os.umask(umask)
    assert scene_preview.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0600


# --- other containers ------------------------------------------------------------------------


@pytest.mark.parametrize("suffix, sub_codec, cs_tag", [(".mov", "mov_text", "ces"), (".mkv", "subrip", "cze")])
def test_mov_and_mkv_inputs_remux(work, dub_wav, short_srts, suffix, sub_codec, cs_tag):
    clip = work / f"clip{suffix}"
    ffmpeg("-i", SCENE, "-c", "copy", clip)  # the whole scene: a 5 s cut leaves its audio 0.1 s short
    out = default_output_path(clip, ["pt"], probe(clip))
    assert out == work / f"clip.dub-pt{suffix}"
    write_preview(clip, None, out, tracks(dub_wav), subtitles(*short_srts))
    assert video_packets(out) == video_packets(clip)
    info = probe(out)
    assert [a.codec for a in info.audio] == ["aac", "aac"]
    assert [s.codec for s in info.subtitles] == [sub_codec, sub_codec]
    for a in info.audio:
        assert a.duration == pytest.approx(video_end(out), abs=TOL)
    tags = stream_tags(out)
    assert [(t[0], t[1], t[3]) for t in tags[1:3]] == [("audio", "por", True), ("audio", cs_tag, False)]
    assert [t[1] for t in tags[3:]] == ["eng", cs_tag]
    if suffix == ".mkv":  # Matroska keeps "no default subtitle" exactly
        assert [t[3] for t in tags[3:]] == [False, False]


@pytest.fixture(scope="module")
def webm_clip(work) -> Path:
    clip = work / "clip.webm"
    ffmpeg("-i", SCENE, "-t", 5, "-vf", "scale=160:90", "-c:v", "libvpx-vp9", "-deadline", "realtime",
           "-cpu-used", 8, "-b:v", "200k", "-c:a", "libopus", "-b:a", "48k", clip)
    return clip


@pytest.mark.parametrize("suffix, audio_codecs, sub_codec", [
    (".webm", ["opus", "opus"], "webvtt"),  # WebM holds no AAC: the dub is Opus, the original copied
    (".mp4", ["aac", "aac"], "mov_text"),  # VP9 in MP4 is fine with this ffmpeg
    (".mkv", ["aac", "opus"], "subrip"),
])
def test_webm_vp9_opus_input_remux(work, webm_clip, dub_wav, short_srts, suffix, audio_codecs, sub_codec):
    out = work / f"webm_out{suffix}"
    write_preview(webm_clip, None, out, tracks(dub_wav), subtitles(*short_srts))
    assert video_packets(out) == video_packets(webm_clip)
    info = probe(out)
    assert info.video[0].codec == "vp9"
    assert [a.codec for a in info.audio] == audio_codecs
    assert [a.language for a in info.audio] == ["por", "cze"]
    assert [s.codec for s in info.subtitles] == [sub_codec, sub_codec]
    for a in info.audio:
        assert a.duration == pytest.approx(video_end(out), abs=TOL)


def test_one_file_for_two_dub_tracks(work, webm_clip, dub_wav):
    """ffmpeg-python merges identical inputs: the file must be split, not mapped twice."""
    out = work / "two_dubs.mkv"
    both = [AudioTrack(dub_wav, "pt", "Portuguese", True), AudioTrack(dub_wav, "es", "Spanish"),
            AudioTrack(None, "cs", "Czech")]
    write_preview(webm_clip, None, out, both, [])
    info = probe(out)
    assert [a.language for a in info.audio] == ["por", "spa", "cze"]
    assert [t[3] for t in stream_tags(out)[1:]] == [True, False, False]


def test_output_path_that_is_a_folder_is_refused(work, dub_wav):
    folder = work / "looks_like.mp4"
    folder.mkdir()
    with pytest.raises(DubError, match=r"is a folder; give a file name"):
        write_preview(SCENE, probe(SCENE, scan=False), folder, tracks(dub_wav), [])
    assert leftovers(folder) == []


def test_av1_copies_into_mp4(work, dub_wav):
    clip = work / "av1.mkv"
    ffmpeg("-i", SCENE, "-t", 1, "-vf", "scale=160:96", "-c:v", "libsvtav1", "-preset", 12, "-svtav1-params",
           "lp=1", "-c:a", "libopus", clip)
    out = work / "av1.dub.mp4"
    write_preview(clip, None, out, tracks(dub_wav), [])
    assert probe(out).video[0].codec == "av1"
    assert video_packets(out) == video_packets(clip)


def test_vp8_into_mp4_is_refused_with_alternatives(work, dub_wav):
    clip = work / "vp8.webm"
    ffmpeg("-i", SCENE, "-t", 1, "-vf", "scale=160:90", "-c:v", "libvpx", "-deadline", "realtime",
           "-cpu-used", 8, "-c:a", "libopus", clip)
    folder = work / "vp8_out"
    folder.mkdir()
    with pytest.raises(DubError, match=r"\.mp4 cannot hold the vp8 video.*\.mkv or \.webm"):
        write_preview(clip, None, folder / "x.mp4", tracks(dub_wav), [])
    assert leftovers(folder) == []
    assert default_output_path(clip, ["pt"], probe(clip)).suffix == ".webm"


@pytest.mark.parametrize("source", [WAV, OPUS], ids=["wav", "opus"])
def test_audio_only_input_gives_m4a(work, dub_wav, short_srts, source):
    out = default_output_path(source, "pt")
    assert out.name == f"{source.stem}.dub-pt.m4a" and out.parent == source.parent
    out = work / out.name  # never write into tests/data
    write_preview(source, None, out, tracks(dub_wav), subtitles(*short_srts))
    info = probe(out)
    assert info.is_audio_only and "m4a" in info.format
    assert [a.codec for a in info.audio] == ["aac", "aac"]
    assert [a.language for a in info.audio] == ["por", "cze"]
    assert [s.codec for s in info.subtitles] == ["mov_text", "mov_text"]
    source_duration = probe(source).audio[0].duration
    for a in info.audio:
        assert a.duration == pytest.approx(source_duration, abs=TOL)
    assert [t[3] for t in stream_tags(out)[:2]] == [True, False]


def test_default_output_path_names():
    assert default_output_path("/v/scene.mp4", ["pt"]) == Path("/v/scene.dub-pt.mp4")
    assert default_output_path("/v/scene.MOV", ["pt", "es"]) == Path("/v/scene.dub-pt-es.mov")
    assert default_output_path("/v/scene.avi", "fr") == Path("/v/scene.dub-fr.mkv")
    assert default_output_path("/v/take.flac", "it") == Path("/v/take.dub-it.m4a")


# --- refusals --------------------------------------------------------------------------------


def _bad_inputs(folder: Path) -> dict[str, tuple[Path, str]]:
    data = SCENE.read_bytes()
    text = folder / "notes.mp4"
    text.write_text("this is a shopping list, not a video\n" * 20)
    empty = folder / "empty.mp4"
    empty.touch()
    half = folder / "half.mp4"
    half.write_bytes(data[: len(data) // 2])
    silent = folder / "silent.mp4"
    ffmpeg("-i", SCENE, "-t", 2, "-c:v", "copy", "-an", silent)
    half_wav = folder / "half.wav"
    wav = WAV.read_bytes()
    half_wav.write_bytes(wav[: len(wav) // 2])
    return {
        "text": (text, r"notes\.mp4 is not a media file"),
        "empty": (empty, r"empty\.mp4 is empty \(0 bytes\)"),
        "truncated": (half, r"half\.mp4 is truncated: it says 67\.5 s but its data stops at"),
        "truncated_wav": (half_wav, r"half\.wav is truncated"),
        "no_audio": (silent, r"silent\.mp4 has no audio stream; dubbing needs dialogue audio"),
        "missing": (folder / "nope.mp4", r"nope\.mp4 does not exist"),
        "folder": (folder, r"is a folder; give a video or audio file"),
    }


BAD = ["text", "empty", "truncated", "truncated_wav", "no_audio", "missing", "folder"]


@pytest.fixture(scope="module")
def bad_inputs(work) -> dict[str, tuple[Path, str]]:
    folder = work / "bad"
    folder.mkdir()
    return _bad_inputs(folder)


@pytest.mark.parametrize("kind", BAD)
def test_bad_input_is_refused_and_nothing_is_written(work, bad_inputs, dub_wav, kind):
    path, message = bad_inputs[kind]
    with pytest.raises(DubError, match=message):
        probe(path)
    out_dir = work / f"out_{kind}"
    out_dir.mkdir()
    with pytest.raises(DubError, match=message):
        write_preview(path, None, out_dir / "preview.mp4", tracks(dub_wav), [])
    assert leftovers(out_dir) == []
    assert "\n" not in str(pytest.raises(DubError, probe, path).value)


def test_output_equal_to_input_is_refused(work, dub_wav):
    clip = work / "same.mp4"
    ffmpeg("-i", SCENE, "-t", 2, "-c", "copy", clip)
    before = clip.read_bytes()
    with pytest.raises(DubError, match=r"the output path is the input file .*choose another -o"):
        write_preview(clip, None, work / "." / "same.mp4", tracks(dub_wav), [])
    assert clip.read_bytes() == before
    assert not [p for p in work.iterdir() if ".part" in p.name]


def test_output_under_a_file_is_refused(work, dub_wav):
    blocker = work / "blocker"
    blocker.write_text("a file where a folder should be")
    with pytest.raises(DubError, match=r"cannot write into the folder .*blocker.* is a file, not a folder"):
        write_preview(SCENE, probe(SCENE, scan=False), blocker / "sub" / "x.mp4", tracks(dub_wav), [])


def test_read_only_output_folder_is_refused(work, dub_wav):
    folder = work / "readonly"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        if os.access(folder, os.W_OK) and _can_create_in(folder):
            pytest.skip("running as root: chmod 0555 does not stop writes (see test_output_under_a_file_is_refused)")
        with pytest.raises(DubError, match=r"the output folder .*readonly is not writable"):
            write_preview(SCENE, probe(SCENE, scan=False), folder / "x.mp4", tracks(dub_wav), [])
        assert leftovers(folder) == []
    finally:
        folder.chmod(0o755)


def test_unwritable_output_folder_is_named(work, dub_wav, monkeypatch):
    """The writability check itself, also when running as root (a scratch file cannot be made)."""
    import dubpreview.media.remux as remux

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(remux.tempfile, "TemporaryFile", refuse)
    folder = work / "unwritable"
    folder.mkdir()
    with pytest.raises(DubError, match=r"the output folder .*unwritable is not writable \(Permission denied\)"):
        write_preview(SCENE, probe(SCENE, scan=False), folder / "x.mp4", tracks(dub_wav), [])
    assert leftovers(folder) == []


def _can_create_in(folder: Path) -> bool:
    try:
        (folder / ".probe").touch()
        (folder / ".probe").unlink()
        return True
    except OSError:
        return False


def test_ffmpeg_failure_leaves_no_file_and_no_new_folder(work, dub_wav, monkeypatch):
    monkeypatch.setenv("DUBPREVIEW_FFMPEG", "/bin/false")
    target = work / "failing" / "deeper" / "x.mp4"
    with pytest.raises(DubError, match=r"could not write the preview x\.mp4: ffmpeg gave no reason"):
        write_preview(SCENE, probe(SCENE, scan=False), target, tracks(dub_wav), [])
    assert not (work / "failing").exists()


def test_ffmpeg_override_must_exist(monkeypatch):
    monkeypatch.setenv("DUBPREVIEW_FFMPEG", "/nonexistent/ffmpeg")
    with pytest.raises(DubError, match=r"DUBPREVIEW_FFMPEG"):
        ffmpeg_exe()


def test_stderr_summary_names_the_cause():
    stderr = (
        "[in#0 @ 0x55b720e0d100] moov atom not found\n"
        "[in#0 @ 0x55b720e0cd80] Error opening input: Invalid data found when processing input\n"
        "Error opening input file txt.mp4.\n"
        "Error opening input files: Invalid data found when processing input\n"
    )
    assert summarize_stderr(stderr) == "Error opening input: Invalid data found when processing input"
    assert summarize_stderr(b"") == "ffmpeg gave no reason"


def test_aac_encoded_in_parts_matches_a_single_pass(work):
    """The dub track encoded on two cores (dubpreview.media.aac) against one ffmpeg pass, on
    real speech over real music: same length and alignment (no lag), the same fidelity to
    the input (SNR within 0.5 dB), and no click at the junction (the error in the frames
    around it no larger than the track's worst elsewhere)."""
    from dubpreview.media.aac import FRAME, encode_aac, spans

    mix = build_test_mix(DATA, duration_s=24.0).mix  # 48 kHz stereo, speech + music + effects

    def decoded(path: Path) -> np.ndarray:
        with av.open(str(path)) as c:
            a = np.concatenate([f.to_ndarray() for f in c.decode(c.streams.audio[0])], axis=1).T
        return a[: len(mix)]

    one = decoded(encode_aac(mix, 48000, work / "aac-one.m4a", parts=1))
    two = decoded(encode_aac(mix, 48000, work / "aac-two.m4a", parts=2))
    (_, cut), _ = spans(len(mix), 48000, 2)
    assert len(spans(len(mix), 48000, 2)) == 2 and cut % FRAME == 0
    assert len(one) == len(two) == len(mix)

    def snr(y: np.ndarray) -> float:
        return float(10 * np.log10(np.sum(mix ** 2) / np.sum((mix - y) ** 2)))

    lags = range(-2048, 2049, 256)
    best = max(lags, key=lambda lag: float(np.sum(mix[4096:-4096, 0] * two[4096 + lag:len(two) - 4096 + lag, 0])))
    assert best == 0, f"the stitched track is shifted by {best} samples"
    assert snr(two) > 20 and abs(snr(two) - snr(one)) < 0.5, (snr(one), snr(two))
    err = np.abs(two - mix).max(axis=1)
    around = err[cut - 2 * FRAME: cut + 2 * FRAME].max()
    elsewhere = np.concatenate([err[: cut - 4 * FRAME], err[cut + 4 * FRAME:]]).max()
    assert around <= elsewhere, (around, elsewhere)


def test_aac_re_encodes_only_the_edited_region(work):
    """After an edit that changes 2 s of a 40 s track, only that region is re-encoded and
    spliced into the previous encoding: the result decodes aligned, as faithful to the new
    audio as a fresh single pass, with no click at either junction; unchanged audio reuses
    the previous encoding as it is."""
    from dubpreview.media.aac import FRAME, encode_aac, encode_aac_cached

    mix = build_test_mix(DATA, duration_s=40.0).mix

    def decoded(path: Path, n: int) -> np.ndarray:
        with av.open(str(path)) as c:
            return np.concatenate([f.to_ndarray() for f in c.decode(c.streams.audio[0])], axis=1).T[:n]

    cache = work / "aac-cache" / "mix.pt"
    _, how = encode_aac_cached(mix, 48000, work / "aac-a.m4a", cache)
    assert how == "full"
    edited = mix.copy()
    a, b = 25 * 48000 + 123, 27 * 48000 + 77  # a line moved: 2 s of the track change
    edited[a:b] = mix[a - 9600:b - 9600]
    out, how = encode_aac_cached(edited, 48000, work / "aac-b.m4a", cache)
    assert how == "partial"
    fresh = decoded(encode_aac(edited, 48000, work / "aac-fresh.m4a", parts=1), len(edited))
    spliced = decoded(out, len(edited))
    assert len(spliced) == len(edited)

    def snr(y: np.ndarray, lo: int = 0, hi: int | None = None) -> float:
        ref = edited[lo:hi]
        return float(10 * np.log10(np.sum(ref ** 2) / np.sum((ref - y[lo:hi]) ** 2)))

    assert abs(snr(spliced) - snr(fresh)) < 0.5, (snr(fresh), snr(spliced))
    assert abs(snr(spliced, a, b) - snr(fresh, a, b)) < 1.0, "the edited region is not the new audio"
    err = np.abs(spliced - edited).max(axis=1)
    lo_f, hi_f = (a // FRAME - 3) * FRAME, (b // FRAME + 4) * FRAME  # the junctions
    junctions = max(err[lo_f - 2 * FRAME: lo_f + 2 * FRAME].max(), err[hi_f - 2 * FRAME: hi_f + 2 * FRAME].max())
    assert junctions <= np.abs(fresh - edited).max(), "a click at a junction"
    assert encode_aac_cached(edited, 48000, work / "aac-c.m4a", cache)[1] == "reused"
