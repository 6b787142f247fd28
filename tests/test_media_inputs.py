"""Odd and hostile media through the real CLI and the real models: several audio streams,
sample rates from 8 to 96 kHz, 5.1, variable frame rate, an empty stream, corrupted packets,
non-ASCII paths. Each gives a correct preview or one clear line (exit 2, no traceback, no
partial output), and the input is never touched.

Inputs are made in tmp with the static ffmpeg from real recordings (a LibriVox reading, the
Fish Fillets NG music, the AMI meeting demo scene). Speaker matching is off where the case is
about the input, to keep the runs short.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import av
import pytest

from dubpreview.cli import main
from dubpreview.media.ffmpeg import ffmpeg_exe
from dubpreview.media.probe import probe

DATA = Path(__file__).parent / "data"
SPEECH = DATA / "deb_pocketsphinx-testdata_librivox_en_austen-0920.wav"
MUSIC = DATA / "fillets-ng_music_rybky01.ogg"
AMI = Path(__file__).parents[1] / "demo" / "ami_meeting_tst00_en.mp4"
FAST = ("--no-voice-match", "--no-diarize", "--from", "en")


def ffmpeg(*args) -> None:
    subprocess.run([ffmpeg_exe(), "-y", "-hide_banner", "-loglevel", "error", *map(str, args)], check=True)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def dub(capsys, src: Path, out: Path, *extra: str) -> tuple[int, str]:
    before = sha(src)
    code = main(["dub", str(src), "--to", "pt", "-o", str(out), *extra])
    err = capsys.readouterr().err
    assert sha(src) == before  # the input is never touched
    assert "Traceback" not in err
    if code:
        assert code == 2 and len([ln for ln in err.splitlines() if ln.startswith("dubpreview: error:")]) == 1, err
        assert not out.exists()
    return code, err


def transcript(out: Path) -> str:
    import json

    state = json.loads((out.with_suffix(".dubpreview") / "project.json").read_text(encoding="utf-8"))
    return " ".join(s["text"] for s in state["segments"]).lower()


@pytest.mark.slow
def test_several_audio_streams_the_dialogue_one_is_found_and_any_can_be_chosen(tmp_path, capsys):
    src = tmp_path / "delivery.mp4"  # stream 0: music only (an M&E stem), stream 1: the dialogue
    ffmpeg("-f", "lavfi", "-i", "color=c=gray:s=320x240:r=25:d=6", "-t", "6", "-i", MUSIC, "-i", SPEECH,
           "-map", "0:v", "-map", "1:a", "-map", "2:a", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac",
           "-shortest", "-metadata:s:a:0", "language=zxx", "-metadata:s:a:1", "language=eng", src)
    code, err = dub(capsys, src, tmp_path / "auto.mp4", *FAST)
    assert code == 0, err
    assert "dubbing stream 1: eng" in err and "--audio-stream N" in err
    assert "stain" in transcript(tmp_path / "auto.mp4") or len(transcript(tmp_path / "auto.mp4")) > 20
    info = probe(tmp_path / "auto.mp4")
    assert [a.language for a in info.audio] == ["por", "eng"]  # the dub, then the dialogue stream as original
    code, err = dub(capsys, src, tmp_path / "bad.mp4", *FAST, "--audio-stream", "2")
    assert code == 2 and "has 2 audio stream(s) (0: zxx, aac" in err and "takes 0-1, not 2" in err
    code, err = dub(capsys, src, tmp_path / "music.mp4", *FAST, "--audio-stream", "0")
    assert code == 0 and "no speech found" in err  # the user's choice is obeyed: the music has no dialogue


@pytest.mark.slow
@pytest.mark.parametrize("name, make", [
    ("8 kHz mono", ["-ar", "8000", "-ac", "1", "{out}.wav"]),
    ("96 kHz stereo", ["-ar", "96000", "-ac", "2", "-c:a", "flac", "{out}.flac"]),
    ("5.1 in a video", ["-f", "lavfi", "-i", "color=c=black:s=320x240:r=25:d=6.05", "-filter_complex",
                        "[0:a]pan=5.1|FL=0.1*c0|FR=0.1*c0|FC=c0|LFE=0*c0|BL=0.05*c0|BR=0.05*c0[a]", "-map", "1:v",
                        "-map", "[a]", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest",
                        "{out}.mp4"]),
])
def test_sample_rates_and_layouts_give_a_preview(tmp_path, capsys, name, make):
    out = tmp_path / "in"
    args = [a.format(out=out) for a in make]
    ffmpeg("-i", SPEECH, *args)
    src = Path(args[-1])
    dubbed = tmp_path / ("dub" + (".mp4" if src.suffix == ".mp4" else ".m4a"))
    code, err = dub(capsys, src, dubbed, *FAST)
    assert code == 0, err
    info = probe(dubbed)
    assert len(info.audio) == 2 and info.audio[0].language == "por"
    assert abs(info.duration - probe(src).duration) < 0.3
    assert len(transcript(dubbed)) > 20
    if name.startswith("5.1"):
        assert info.audio[1].channels == 6 and info.video  # the original 5.1 kept beside the dub


@pytest.mark.slow
def test_variable_frame_rate_video_is_copied_frame_for_frame(tmp_path, capsys):
    src = tmp_path / "vfr.mp4"  # 3 s at 25 fps then 3 s at 8 fps in one stream
    ffmpeg("-f", "lavfi", "-i", "testsrc=s=320x240:r=25:d=3", "-f", "lavfi", "-i", "testsrc=s=320x240:r=8:d=3.05",
           "-i", SPEECH, "-filter_complex", "[0:v][1:v]concat=n=2:v=1:a=0[v]", "-map", "[v]", "-map", "2:a",
           "-fps_mode", "vfr", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", src)

    def frame_times(path):
        with av.open(str(path)) as c:
            s = c.streams.video[0]
            return sorted(float(p.pts * s.time_base) for p in c.demux(s) if p.pts is not None)

    times = frame_times(src)
    gaps = {round(b - a, 3) for a, b in zip(times, times[1:])}
    assert {0.04, 0.125} <= gaps  # really variable
    code, err = dub(capsys, src, tmp_path / "dub.mp4", *FAST)
    assert code == 0, err
    assert frame_times(tmp_path / "dub.mp4") == pytest.approx(times, abs=1e-3)


def test_an_empty_audio_stream_is_one_line(tmp_path, capsys):
    src = tmp_path / "empty.wav"
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "0", src)
    code, err = dub(capsys, src, tmp_path / "dub.m4a", *FAST)
    assert code == 2 and ("no samples" in err or "no audio" in err or "empty" in err or "duration" in err), err


@pytest.mark.slow
def test_corrupted_packets_mid_file_give_a_preview_or_one_line(tmp_path, capsys):
    src = tmp_path / "cut.mp4"
    ffmpeg("-ss", "0", "-t", "10", "-i", AMI, "-c", "copy", src)
    data = bytearray(src.read_bytes())
    mid = len(data) // 2
    data[mid: mid + 4096] = bytes((i * 37 + 11) % 256 for i in range(4096))  # garbage over packets mid-file
    src.write_bytes(bytes(data))
    code, err = dub(capsys, src, tmp_path / "dub.mp4", *FAST)
    if code == 0:  # FFmpeg concealed the damage: a whole preview, as long as the scene
        info = probe(tmp_path / "dub.mp4")
        assert info.video and len(info.audio) == 2 and abs(info.duration - 10) < 0.5
    else:
        assert "corrupt" in err.lower() or "could not" in err.lower() or "damaged" in err.lower(), err


@pytest.mark.slow
def test_non_ascii_names_and_spaces_in_paths(tmp_path, capsys):
    folder = tmp_path / "Cena – 日本 é ünïcode"
    folder.mkdir()
    src = folder / "fala do ator (take 2).wav"
    shutil.copy(SPEECH, src)
    out = folder / "saída – dub.m4a"
    code, err = dub(capsys, src, out, *FAST)
    assert code == 0, err
    assert out.is_file() and probe(out).audio[0].language == "por"
    assert (folder / "saída – dub.dubpreview" / "subtitles.pt.srt").is_file()
