"""What the review studio does, without any web framework: run, edit, render, excerpts,
downloads. The Gradio callbacks (:mod:`dubpreview.app.callbacks`) are thin wrappers over
these functions, so a script (or a test) can call them directly too.

Every problem a user can cause raises :class:`~dubpreview.errors.DubError` with a
one-line message.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from dubpreview import languages
from dubpreview.errors import DubError
from dubpreview.project.schema import inside, relative_inside
from dubpreview.pipeline import DubResult, DubSettings, Reporter, dub, edit_segment, rerender
from dubpreview.util.files import atomic_path

from .projects import ProjectStore, safe_name

COLUMNS = ["line", "speaker", "start", "end", "source text", "translation", "voice", "offset (ms)", "speed", "fit"]
"""The segment table's columns; ``translation``, ``voice``, ``offset (ms)`` and ``speed`` are editable."""
EDITABLE = {"translation": 5, "voice": 6, "offset (ms)": 7, "speed": 8}
STATIC_COLUMNS = [i for i in range(len(COLUMNS)) if i not in EDITABLE.values()]
DUB_LANGUAGES = ["pt", "en", "es", "fr", "it", "hi"]
"""Languages the bundled Kokoro voices speak (the app's target choices)."""
SOURCE_LANGUAGES = ["auto", "en", "pt", "cs", "es", "fr", "de", "it", "hi", "ja", "zh", "ru", "nl", "pl"]


def _state(folder: Path) -> dict:
    """The project's validated state (:func:`dubpreview.project.schema.load_state`)."""
    from dubpreview.project.schema import load_state

    if not (folder / "project.json").exists():
        raise DubError("this project has not been run yet; press Run first")
    return load_state(folder)


def _timing(folder: Path) -> dict:
    try:
        return json.loads((folder / "timing.json").read_text(encoding="utf-8"))["languages"]
    except (OSError, ValueError, KeyError):
        return {}


def preview_path(folder: Path) -> Path:
    """Where the project's preview goes: ``preview.mp4`` (``preview.m4a`` for audio-only scenes)."""
    state_out = {}
    try:
        state_out = _state(folder).get("outputs", {})
    except DubError:
        pass
    if state_out.get("preview"):
        return inside(folder, state_out["preview"])  # never a file outside the project
    return folder / "preview.mp4"


def check_upload(path: str | os.PathLike, max_bytes: int | None) -> None:
    """Refuse an upload over ``max_bytes`` or one FFmpeg cannot read as audio/video
    (probed with :func:`dubpreview.media.probe.probe`, never trusted by its name)."""
    from dubpreview.media.probe import probe

    p = Path(path)
    if not p.is_file():
        raise DubError("the uploaded file is gone; upload it again")
    if max_bytes and p.stat().st_size > max_bytes:
        raise DubError(f"the file is {p.stat().st_size / 1e6:.0f} MB; the limit is {max_bytes / 1e6:.0f} MB")
    probe(p)


def run_project(store: ProjectStore, owner: str, source: str | os.PathLike, name: str,
                source_language: str | None, targets: list[str], translation_file: str | None = None,
                threads: int = 2, max_bytes: int | None = None, reporter: Reporter | None = None,
                separation: str = "auto", target_lufs: float = -23.0, bed_db: float = 0.0,
                voice_library: Path | None = None) -> tuple[Path, DubResult]:
    """Create a project for ``owner`` from ``source`` and dub it (every target language).

    ``separation``, ``target_lufs`` (LUFS) and ``bed_db`` (dB) are the mix options (see
    :class:`~dubpreview.pipeline.DubSettings`); ``voice_library`` is the owner's folder of
    saved voice profiles. The upload and the options are checked before anything is
    created. Returns (project folder, result).
    """
    from dubpreview.media.probe import probe

    from .speakers import checked_mix

    check_upload(source, max_bytes)
    separation, target_lufs, bed_db = checked_mix(separation, target_lufs, bed_db)
    info = probe(source, scan=False)
    if not targets:
        raise DubError("choose at least one target language")
    folder = store.create(owner, Path(source), name)
    settings = DubSettings(targets=list(targets), threads=threads,
                           source_language=None if source_language in (None, "", "auto") else source_language,
                           separation=separation, target_lufs=target_lufs, bed_db=bed_db,
                           voice_library=str(voice_library) if voice_library else None)
    if translation_file:
        dest = folder / "source-translation" / safe_name(Path(translation_file).name, "translation.srt")
        dest.parent.mkdir()
        dest.write_bytes(Path(translation_file).read_bytes())
        settings.translation_file = str(dest)
    suffix = ".mp4" if info.video else ".m4a"
    try:
        result = dub(store.source(folder), settings, output=folder / f"preview{suffix}", project_dir=folder,
                     reporter=reporter)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)  # a run that never finished leaves no project behind
        raise
    return folder, result


def render_project(folder: Path, reporter: Reporter | None = None) -> DubResult:
    """Render the project again after edits (cached clips reused, video stream copied)."""
    return rerender(folder, reporter=reporter)


def targets_of(folder: Path) -> list[str]:
    """The project's dub languages, in order (the first is the preview's default track)."""
    return list(_state(folder)["settings"]["targets"])


def segment_rows(folder: Path, language: str | None = None) -> list[list]:
    """The segment table for ``language`` (default: the first target): one row per line,
    columns :data:`COLUMNS`; fit status from ``timing.json``."""
    from dubpreview.integrity.flags import held
    from dubpreview.integrity.flags import label as flag_label
    from dubpreview.records import Segment
    from dubpreview.timing.report import fit_status
    from dubpreview.tts.voices import default_voice

    state = _state(folder)
    lang = language or state["settings"]["targets"][0]
    if lang not in state["settings"]["targets"]:
        raise DubError(f"the project does not dub into '{lang}'")
    from .speakers import speaker_voice

    lines = {ln["segment_id"]: ln for ln in _timing(folder).get(lang, {}).get("lines", [])}
    voice = state["settings"].get("voice") or default_voice(lang)
    rows = []
    for seg in state.get("segments", []):
        line = lines.get(seg["id"])
        if seg.get("muted"):
            fit = "muted"
        elif line is None:
            fit = "not dubbed" if not seg["translation"].get(lang, "").strip() else "render to see"
        else:
            fit = fit_status(line)
        doubt = flag_label(seg, lang)  # the reviewer goes to these first
        if doubt:
            fit = f"{doubt} · {'held: edit to dub' if held(Segment.from_dict(seg), lang) else fit}"
        rows.append([seg["id"], seg.get("speaker", ""), round(seg["start"], 2), round(seg["end"], 2),
                     seg["text"], seg["translation"].get(lang, ""),
                     seg.get("voice") or speaker_voice(state, seg.get("speaker", ""), lang) or voice,
                     int(round(seg.get("offset_ms") or 0)), "" if seg.get("speed") is None else seg["speed"], fit])
    return rows


def _number(value, what: str, line: int) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or str(value).strip() == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise DubError(f"line {line}: {what} '{value}' is not a number") from None


def apply_table_edits(folder: Path, language: str, rows: list[list]) -> list[str]:
    """Save the cells that differ from the project (translation, voice, offset, speed)
    with :func:`dubpreview.pipeline.edit_segment`; returns one description per change.

    Offsets are limited to ±5000 ms, speeds to 0.5-2.0 (empty = automatic); unknown
    voices are refused with the list of voices.
    """
    old = {r[0]: r for r in segment_rows(folder, language)}
    changes = []
    for row in rows:
        try:
            sid = int(float(row[0]))
        except (TypeError, ValueError, IndexError):
            raise DubError("the table lost its line numbers; reload the project") from None
        before = old.get(sid)
        if before is None or len(row) < len(COLUMNS):
            raise DubError(f"the table has no line {row[0] if row else '?'}; reload the project")
        text = str(row[5] if row[5] is not None else "").strip()
        if text != str(before[5]).strip():
            edit_segment(folder, sid, language, translation=text)
            changes.append(f"line {sid}: translation")
        voice = str(row[6] or "").strip()
        if voice and voice != before[6]:
            check_voice(voice)
            edit_segment(folder, sid, voice=voice)
            changes.append(f"line {sid}: voice {voice}")
        offset = _number(row[7], "offset", sid)
        if offset is not None and offset != before[7]:
            if not -5000 <= offset <= 5000:
                raise DubError(f"line {sid}: offset {offset:.0f} ms is outside ±5000 ms")
            edit_segment(folder, sid, offset_ms=offset)
            changes.append(f"line {sid}: offset {offset:.0f} ms")
        speed = _number(row[8], "speed", sid)
        old_speed = _number(before[8], "speed", sid)
        if speed != old_speed:
            if speed is not None and not 0.5 <= speed <= 2.0:
                raise DubError(f"line {sid}: speed {speed} is outside 0.5-2.0 (empty = automatic)")
            edit_segment(folder, sid, speed=speed or 0.0)
            changes.append(f"line {sid}: speed {'automatic' if speed is None else speed}")
    return changes


def check_voice(voice: str) -> None:
    """DubError unless ``voice`` is one of the bundled Kokoro voices."""
    from dubpreview.tts.kokoro import default_synthesizer

    voices = default_synthesizer().voices()
    if voice not in voices:
        raise DubError(f"unknown voice '{voice}'; voices: {', '.join(voices)}")


def edit_line(folder: Path, segment_id: int, language: str | None, translation: str | None = None,
              offset_ms: float | None = None, speed: float | None = None, voice: str | None = None,
              muted: bool | None = None) -> list[list]:
    """Edit one line (see :func:`dubpreview.pipeline.edit_segment`); returns the new table."""
    lang = language or targets_of(folder)[0]
    if voice:
        check_voice(voice)
    if offset_ms is not None and not -5000 <= offset_ms <= 5000:
        raise DubError(f"offset {offset_ms:.0f} ms is outside ±5000 ms")
    edit_segment(folder, int(segment_id), lang, translation=translation, offset_ms=offset_ms,
                 speed=speed, voice=voice, muted=muted)
    return segment_rows(folder, lang)


def forget_line_clips(folder: Path, segment_id: int) -> int:
    """Delete the cached clips of one line in every language (its natural clip and the one
    at its speed), so the next render synthesizes that line again; returns how many."""
    from dubpreview.project.store import cache_key
    from dubpreview.tts.kokoro import default_synthesizer
    from dubpreview.tts.voices import default_voice

    from .speakers import speaker_voice

    state = _state(folder)
    seg = next((s for s in state.get("segments", []) if s["id"] == int(segment_id)), None)
    if seg is None:
        raise DubError(f"the project has no line {segment_id}")
    synth = default_synthesizer()
    gone = 0
    for lang, report in _timing(folder).items():
        text = seg["translation"].get(lang, "")
        voice = (seg.get("voice") or state["settings"].get("voice")
                 or speaker_voice(state, seg.get("speaker", ""), lang) or default_voice(lang))
        paths = [folder / ln["clip"] for ln in report.get("lines", [])
                 if ln.get("segment_id") == seg["id"] and relative_inside(ln.get("clip"))]
        key = cache_key(text=text, lang=lang, voice=voice, speed=1.0, model=synth.model_id)
        paths.append(folder / "cache" / "clips" / f"{key}.wav")
        for p in paths:
            if p.is_file() and folder in p.resolve().parents:
                p.unlink()
                gone += 1
    return gone


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

    state = _state(folder)
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
    source = _state(folder)["source"]
    src, stream = str(inside(folder, source["path"])), source.get("stream")
    with atomic_path(out) as tmp:
        run(ffmpeg_python.input(src).output(str(tmp), map="0:a:0" if stream is None else f"0:{stream}", vn=None,
                                            acodec="aac",
                                            audio_bitrate="128k", format="mp4"), "extract the original sound")
    return out


@dataclass
class Downloads:
    """The files a user can take away, by label (``label -> path``)."""

    files: dict[str, Path]


def downloads(folder: Path) -> Downloads:
    """Preview, subtitles (source and each target, SRT and VTT), dub stems, the
    music-and-effects stem when the project has one, and the timing report."""
    outputs = {}
    for k, v in _state(folder).get("outputs", {}).items():
        try:
            outputs[k] = inside(folder, v)  # a download is never a file outside the project
        except DubError:
            continue
    files: dict[str, Path] = {}
    for key in sorted(outputs, key=lambda k: (k != "preview", k)):
        path = outputs[key]
        if not path.is_file() or key.startswith("mix_"):
            continue
        files[key] = path
    for path in sorted(folder.glob("*.wav")):  # stems written by other stages (e.g. music and effects)
        if not path.name.startswith(("mix.", "dub.")) and path not in files.values():
            files[path.stem] = path
    return Downloads(files)


def stage_table(stage_log: list[dict]) -> str:
    """The run's stage log as a Markdown table (stage, computed/cached, seconds, clips)."""
    rows = ["| stage | status | seconds | clips computed |", "|---|---|---:|---:|"]
    for e in stage_log:
        rows.append(f"| {e['stage']} | {e['status']} | {e['seconds']:.2f} | {e.get('computed', '')} |")
    return "\n".join(rows)


def summary(folder: Path, result: DubResult | None = None) -> str:
    """One paragraph about the project: source, languages, totals of the timing report."""
    state = _state(folder)
    src = languages.name(state.get("source_language", "?")) if state.get("source_language") else "?"
    targets = state["settings"]["targets"]
    parts = [f"**Project {folder.name}** — {Path(state['source']['path']).name}, {src} → "
             + ", ".join(languages.name(t) for t in targets)]
    for lang, tot in (state.get("timing") or {}).items():
        if tot.get("lines"):
            parts.append(f"{lang}: {tot['lines']} lines, speed max {tot['speed_max']:.2f}, "
                         f"{tot['lines_overflowing']} overrun")
    cov = state.get("coverage")
    if cov:
        gaps = ", ".join(f"{s:.1f}-{e:.1f} s" for s, e in cov.get("uncovered", []))
        parts.append(f"speech coverage {cov['share']:.0%}" + (f" (not in any line: {gaps})" if gaps else ""))
    flagged = sum(1 for seg in state.get("segments", []) if seg.get("flags"))
    if flagged:
        parts.append(f"⚠ {flagged} lines to check (marked ⚠ in the table)")
    warnings = (result.warnings if result else state.get("warnings")) or []
    parts += [f"⚠ {w}" for w in warnings]
    return " · ".join(parts)


class StageProgress:
    """A pipeline reporter that feeds a progress callback ``progress(fraction, desc)``
    with one step per stage (``total`` is the expected number of stages)."""

    def __init__(self, progress: Callable[[float, str], None], total: int):
        self.progress, self.total, self.done = progress, max(1, total), 0
        self.log: list[tuple[str, str, float]] = []

    def __call__(self, stage: str, status: str, seconds: float) -> None:
        if status == "note":
            return
        if status == "start":
            self.progress(min(0.99, self.done / self.total), f"{stage} …")
            return
        self.done += 1
        self.log.append((stage, status, seconds))
        self.progress(min(0.99, self.done / self.total), f"{stage}: {status}")


def expected_stages(targets: list[str]) -> int:
    """How many stages a run reports: extract, transcribe, load, remux, and translate,
    synthesize and mix per target (other stages only make the bar end early)."""
    return 4 + 3 * len(targets)
