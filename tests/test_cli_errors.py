"""Bad input through the real CLI: one clear line, non-zero exit, no traceback, nothing half-written.

Most cases fail before any model loads; the no-speech scene runs the real VAD and ASR.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from dubpreview.cli import main
from dubpreview.media.ffmpeg import ffmpeg_exe

DATA = Path(__file__).parent / "data"
SCENE = DATA / "example_fillets-ng_cs_dialogue_640x360_h264_aac.mp4"


def cli(capsys, *args) -> tuple[int, str]:
    code = main(list(map(str, args)))
    err = capsys.readouterr().err
    return code, err


def assert_one_line_error(code: int, err: str, *needles: str) -> None:
    lines = [ln for ln in err.splitlines() if ln.startswith("dubpreview: error:")]
    assert code == 2, err
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle.lower() in lines[0].lower(), lines[0]


def leftovers(folder: Path, keep: set[str]) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


def ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-y", "-hide_banner", "-loglevel", "error", *args], check=True)


def test_text_file_named_mp4(tmp_path, capsys):
    bad = tmp_path / "notes.mp4"
    bad.write_text("this is not a video\n" * 50)
    code, err = cli(capsys, "dub", bad, "--to", "pt")
    assert_one_line_error(code, err, "not a media file")
    assert leftovers(tmp_path, {"notes.mp4"}) == []


def test_empty_file(tmp_path, capsys):
    bad = tmp_path / "empty.mp4"
    bad.write_bytes(b"")
    code, err = cli(capsys, "dub", bad, "--to", "pt")
    assert_one_line_error(code, err, "empty")
    assert leftovers(tmp_path, {"empty.mp4"}) == []


def test_truncated_file(tmp_path, capsys):
    bad = tmp_path / "cut.mp4"
    data = SCENE.read_bytes()
    bad.write_bytes(data[: len(data) // 2])
    code, err = cli(capsys, "dub", bad, "--to", "pt")
    assert_one_line_error(code, err, "cut.mp4")
    assert leftovers(tmp_path, {"cut.mp4"}) == []


def test_video_without_audio(tmp_path, capsys):
    silent = tmp_path / "mute.mp4"
    ffmpeg("-i", str(SCENE), "-t", "3", "-an", "-c:v", "copy", str(silent))
    code, err = cli(capsys, "dub", silent, "--to", "pt")
    assert_one_line_error(code, err, "no audio stream")
    assert leftovers(tmp_path, {"mute.mp4"}) == []


def test_missing_file(tmp_path, capsys):
    code, err = cli(capsys, "dub", tmp_path / "nope.mp4", "--to", "pt")
    assert_one_line_error(code, err, "not found")


def test_unknown_language_code(tmp_path, capsys):
    shutil.copy(SCENE, tmp_path / "s.mp4")
    code, err = cli(capsys, "dub", tmp_path / "s.mp4", "--to", "xx")
    assert_one_line_error(code, err, "unknown language code 'xx'")
    code, err = cli(capsys, "dub", tmp_path / "s.mp4", "--to", "pt", "--from", "klingon")
    assert_one_line_error(code, err, "unknown language code")
    assert leftovers(tmp_path, {"s.mp4"}) == []


def test_language_kokoro_cannot_speak(tmp_path, capsys):
    shutil.copy(SCENE, tmp_path / "s.mp4")
    code, err = cli(capsys, "dub", tmp_path / "s.mp4", "--to", "de")
    assert_one_line_error(code, err, "cannot dub into 'de'")


def test_pair_no_backend_can_do_lists_the_pairs(tmp_path, capsys):
    shutil.copy(SCENE, tmp_path / "s.mp4")
    # cs->fr: not direct, and not through English either (nothing installed does en->fr)
    code, err = cli(capsys, "dub", tmp_path / "s.mp4", "--to", "fr", "--from", "cs")
    assert_one_line_error(code, err, "cs->fr", "en->pt")
    assert leftovers(tmp_path, {"s.mp4"}) == []


def test_output_equal_to_input(tmp_path, capsys):
    src = tmp_path / "s.mp4"
    shutil.copy(SCENE, src)
    before = src.read_bytes()
    code, err = cli(capsys, "dub", src, "--to", "pt", "-o", src)
    assert_one_line_error(code, err, "output path is the input")
    assert src.read_bytes() == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to a read-only folder")
def test_read_only_output_folder(tmp_path, capsys):
    src = tmp_path / "s.mp4"
    shutil.copy(SCENE, src)
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        code, err = cli(capsys, "dub", src, "--to", "pt", "-o", ro / "out.mp4")
    finally:
        ro.chmod(0o755)
    assert_one_line_error(code, err, "cannot write")
    assert leftovers(ro, set()) == []


def test_output_folder_under_a_file(tmp_path, capsys):
    """Also an unwritable output folder, and one that root cannot write either."""
    src = tmp_path / "s.mp4"
    shutil.copy(SCENE, src)
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    code, err = cli(capsys, "dub", src, "--to", "pt", "-o", blocker / "out.mp4")
    assert_one_line_error(code, err, "cannot write")
    assert leftovers(tmp_path, {"s.mp4", "afile"}) == []


@pytest.mark.slow
def test_scene_without_speech_still_gives_a_preview(tmp_path, capsys):
    """Real VAD + ASR on 6 s of low noise: the preview keeps the original audio and says so."""
    quiet = tmp_path / "quiet.mp4"
    ffmpeg("-f", "lavfi", "-i", "color=c=black:s=320x180:r=25:d=6",
           "-f", "lavfi", "-i", "anoisesrc=color=pink:amplitude=0.01:d=6:r=48000",
           "-shortest", "-c:v", "libx264", "-c:a", "aac", str(quiet))
    code = main(["dub", str(quiet), "--to", "pt", "--from", "en"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "no speech found" in captured.err
    preview = tmp_path / "quiet.dub-pt.mp4"
    assert f"preview: {preview}" in captured.out
    import av
    with av.open(str(preview)) as c:
        assert len(c.streams.video) == 1 and len(c.streams.audio) == 1
