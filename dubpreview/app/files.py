"""The studio's files: per-line excerpts to listen to, the original sound for the player's
switch, and the downloads, each named by what it is."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

from dubpreview.errors import DubError
from dubpreview.project.schema import inside
from dubpreview.util.files import atomic_path

from .state import project_state
from .state import timing_of as _timing


def line_excerpts(folder: Path, segment_id: int, language: str | None = None,
                  margin_s: float = 0.25) -> tuple[Path, Path | None]:
    """WAV excerpts of one line: the original (cut from the source around the utterance)
    and the dub (cut from the project's dub stem where the timing report placed it; None
    when the line is not dubbed). Written to ``excerpts/`` in the project. Only the
    excerpt is decoded (ffmpeg seeks in the source; the stem is read at its offset), so a
    click costs the same in an hour-long scene as in a short one."""
    import ffmpeg as ffmpeg_python

    from dubpreview.media.ffmpeg import run_to_array
    from dubpreview.media.wav import WavReader
    from dubpreview.mix.duck import MIX_RATE

    state = project_state(folder)
    lang = language or state["settings"]["targets"][0]
    seg = next((s for s in state.get("segments", []) if s["id"] == int(segment_id)), None)
    if seg is None:
        raise DubError(f"the project has no line {segment_id}")
    out_dir = folder / "excerpts"
    out_dir.mkdir(exist_ok=True)
    start = max(0.0, seg["start"] - margin_s)
    stream = state["source"].get("stream")
    src = inside(folder, state["source"]["path"])
    graph = ffmpeg_python.input(str(src), ss=f"{start:.3f}", t=f"{seg['end'] + margin_s - start:.3f}").output(
        "pipe:", map="0:a:0" if stream is None else f"0:{stream}", format="f32le", acodec="pcm_f32le",
        ac=1, ar=MIX_RATE)
    original = run_to_array(graph, f"cut line {segment_id} from {src.name}")
    orig_path = _write_excerpt(original, out_dir / f"line{seg['id']}-original.wav")
    line = next((ln for ln in _timing(folder).get(lang, {}).get("lines", []) if ln["segment_id"] == seg["id"]), None)
    stem = folder / f"dub.{lang}.wav"
    if line is None or not stem.is_file():
        return orig_path, None
    with WavReader(stem) as reader:
        a = max(0, int((line["start"] - 0.05) * MIX_RATE))
        dub_audio = reader.read(a, min(reader.frames, max(a + 1, int((line["end"] + 0.05) * MIX_RATE))))[:, 0]
    dub_path = _write_excerpt(dub_audio, out_dir / f"line{seg['id']}-dub-{lang}.wav")
    return orig_path, dub_path


EXCERPT_FADE_MS = 10
"""Fade in and out of an excerpt (ms), so a cut inside sound does not click."""


def _write_excerpt(samples: np.ndarray, path: Path) -> Path:
    """Mono float ``samples`` at 48 kHz as a 16-bit WAV, faded in and out by pydub, atomically."""
    from dubpreview.mix.duck import MIX_RATE  # first: it imports pydub quietly and gives it our ffmpeg
    from pydub import AudioSegment

    pcm = (np.clip(samples if len(samples) else np.zeros(1, np.float32), -1, 1) * 32767).astype("<i2")
    clip = AudioSegment(pcm.tobytes(), frame_rate=MIX_RATE, sample_width=2, channels=1)
    fade = min(EXCERPT_FADE_MS, len(clip) // 4)
    if fade > 0:
        clip = clip.fade_in(fade).fade_out(fade)
    with atomic_path(path) as tmp:
        clip.export(tmp, format="wav")
    return path


def original_audio(folder: Path) -> Path:
    """The scene's own sound as AAC in ``original.m4a`` (made once per project), for the
    player's original/dub switch."""
    import ffmpeg as ffmpeg_python

    from dubpreview.media.ffmpeg import run

    out = folder / "original.m4a"
    if out.is_file():
        return out
    source = project_state(folder)["source"]
    src, stream = str(inside(folder, source["path"])), source.get("stream")
    with atomic_path(out) as tmp:
        run(ffmpeg_python.input(src).output(str(tmp), map="0:a:0" if stream is None else f"0:{stream}", vn=None,
                                            acodec="aac",
                                            audio_bitrate="128k", format="mp4"), "extract the original sound")
    return out


DOWNLOAD_NAMES = {
    "preview": "dubbed preview{ext}", "timing": "timing report.json", "me_stem": "music and effects stem.wav",
}
"""How the studio names a download by what it is (``{ext}``: the file's own extension)."""


def download_name(key: str, path: Path) -> str:
    """The name a download gets from its key in ``project.json`` ``outputs``: ``dub stem (pt).wav``,
    ``mix (pt).wav``, ``subtitles pt.srt``, ``subtitles en (original).vtt``, ``dubbed preview.mp4`` ..."""
    if key in DOWNLOAD_NAMES:
        return DOWNLOAD_NAMES[key].format(ext=path.suffix)
    parts = key.split("_")
    if key.startswith("dub_stem_"):
        return f"dub stem ({parts[-1]}).wav"
    if key.startswith("mix_"):
        return f"mix ({parts[-1]}).wav"
    if key.startswith("subtitles_") and len(parts) == 4 and parts[2] == "source":
        return f"subtitles {parts[1]} (original).{parts[3]}"
    if key.startswith("subtitles_") and len(parts) == 3:
        return f"subtitles {parts[1]}.{parts[2]}"
    return path.name


def downloads(folder: Path) -> dict[str, Path]:
    """What a user can take away, ``{name: file}``, each named by what it is
    (:func:`download_name`): the preview, the mix and the dub stem per language, the
    music-and-effects stem when the project has one, subtitles (source and each target,
    SRT and VTT) and the timing report. The files are hard links (or copies) of the
    project's outputs in its ``downloads/`` folder, made again on every call, so the
    names never point at an older render."""
    outputs = {}
    for k, v in project_state(folder).get("outputs", {}).items():
        try:
            outputs[k] = inside(folder, v)  # a download is never a file outside the project
        except DubError:
            continue
    out_dir = folder / "downloads"
    out_dir.mkdir(exist_ok=True)
    files: dict[str, Path] = {}
    for key in sorted(outputs, key=lambda k: (k != "preview", k)):
        path = outputs[key]
        if not path.is_file():
            continue
        name = download_name(key, path)
        link = out_dir / name
        link.unlink(missing_ok=True)
        try:
            os.link(path, link)
        except OSError:
            shutil.copyfile(path, link)
        files[name] = link
    return files
