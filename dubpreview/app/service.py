"""What the review studio does, without any web framework: run, edit, render, excerpts,
downloads. The Gradio callbacks (:mod:`dubpreview.app.callbacks`) are thin wrappers over
these functions, so a script (or a test) can call them directly too.

Every problem a user can cause raises :class:`~dubpreview.errors.DubError` with a
one-line message.
"""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path
from typing import Callable

from dubpreview import languages
from dubpreview.errors import DubError
from dubpreview.pipeline import DubResult, Reporter, dub
from dubpreview.project import edits
from dubpreview.project.schema import inside

from .projects import ProjectStore, safe_name
from .state import project_state as _state
from .state import targets_of, timing_of as _timing

COLUMNS = ["line", "speaker", "start", "end", "source text", "translation", "voice", "offset (ms)", "speed", "fit"]
"""The segment table's columns; ``translation``, ``voice``, ``offset (ms)`` and ``speed`` are editable."""
EDITABLE = {"translation": 5, "voice": 6, "offset (ms)": 7, "speed": 8}
STATIC_COLUMNS = [i for i in range(len(COLUMNS)) if i not in EDITABLE.values()]
DUB_LANGUAGES = ["pt", "en", "es", "fr", "it", "hi"]
"""Languages the bundled Kokoro voices speak (the app's target choices)."""
SOURCE_LANGUAGES = ["auto", "en", "pt", "cs", "es", "fr", "de", "it", "hi", "ja", "zh", "ru", "nl", "pl"]


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
                accepted_speed: float | None = None, max_speed: float | None = None,
                voice_library: Path | None = None) -> tuple[Path, DubResult]:
    """Create a project for ``owner`` from ``source`` and dub it (every target language).

    ``separation``, ``target_lufs`` (LUFS) and ``bed_db`` (dB) are the mix options,
    ``accepted_speed`` and ``max_speed`` the timing options (None: the defaults; see
    :class:`~dubpreview.settings.DubSettings`); ``voice_library`` is the owner's folder of
    saved voice profiles. The upload and the options are checked before anything is
    created. Returns (project folder, result).
    """
    from dubpreview.media.probe import probe
    from dubpreview.settings import from_flat

    check_upload(source, max_bytes)
    if not targets:
        raise DubError("choose at least one target language")
    values = {"to": list(targets), "threads": threads, "separation": separation or "auto",
              "from": None if source_language in (None, "", "auto") else source_language,
              "target_lufs": target_lufs, "bed_db": bed_db,
              "voice_library": str(voice_library) if voice_library else None}
    values.update({k: v for k, v in (("accepted_speed", accepted_speed), ("max_speed", max_speed))
                   if v not in (None, "")})
    settings = from_flat(values)
    info = probe(source, scan=False)
    folder = store.create(owner, Path(source), name)
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
    """Render the project again from its state after edits
    (:func:`dubpreview.pipeline.render_project`: the analysis is not re-entered, only the
    clips whose text, voice or speed changed are synthesized, the video stream is copied)."""
    from dubpreview.pipeline import render_project as render

    return render(folder, reporter=reporter)


def segment_rows(folder: Path, language: str | None = None) -> list[list]:
    """The segment table for ``language`` (default: the first target): one row per line,
    columns :data:`COLUMNS`; fit status from ``timing.json``."""
    from dubpreview.integrity.flags import held
    from dubpreview.integrity.flags import label as flag_label
    from dubpreview.records import Segment
    from dubpreview.settings import from_state
    from dubpreview.timing.report import fit_status
    from dubpreview.voices.scene import line_voice

    state = _state(folder)
    lang = language or state["settings"]["targets"][0]
    if lang not in state["settings"]["targets"]:
        raise DubError(f"the project does not dub into '{lang}'")
    lines = {ln["segment_id"]: ln for ln in _timing(folder).get(lang, {}).get("lines", [])}
    voices, speakers = from_state(state["settings"]).voices, state.get("speakers") or {}
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
                     line_voice(seg.get("voice"), speakers.get(seg.get("speaker", "")), lang, voices),
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
    with :func:`dubpreview.project.edits.edit_line` (which checks each value: offsets and
    speeds within the ranges of :mod:`dubpreview.settings`, empty speed = automatic, known
    voices); returns one description per change."""
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
            edits.edit_line(folder, sid, language, translation=text)
            changes.append(f"line {sid}: translation")
        voice = str(row[6] or "").strip()
        if voice and voice != before[6]:
            edits.edit_line(folder, sid, voice=voice)
            changes.append(f"line {sid}: voice {voice}")
        offset = _number(row[7], "offset", sid)
        if offset is not None and offset != before[7]:
            edits.edit_line(folder, sid, offset_ms=offset)
            changes.append(f"line {sid}: offset {offset:.0f} ms")
        speed = _number(row[8], "speed", sid)
        if speed != _number(before[8], "speed", sid):
            edits.edit_line(folder, sid, speed=speed or 0.0)
            changes.append(f"line {sid}: speed {'automatic' if speed is None else speed}")
    return changes


def edit_line(folder: Path, segment_id: int, language: str | None, translation: str | None = None,
              offset_ms: float | None = None, speed: float | None = None, voice: str | None = None,
              muted: bool | None = None) -> list[list]:
    """Edit one line (see :func:`dubpreview.project.edits.edit_line`); returns the new table."""
    lang = language or targets_of(folder)[0]
    edits.edit_line(folder, int(segment_id), lang, translation=translation, offset_ms=offset_ms,
                    speed=speed, voice=voice, muted=muted)
    return segment_rows(folder, lang)


def forget_line_clips(folder: Path, segment_id: int) -> int:
    """Delete the cached clips of one line in every language (the one the last render used
    and its natural clip), so the next render synthesizes that line again; returns how many."""
    from dubpreview.pipeline.clips import clip_key
    from dubpreview.settings import from_state
    from dubpreview.tts.kokoro import default_synthesizer
    from dubpreview.voices.scene import line_voice

    state = _state(folder)
    seg = next((s for s in state.get("segments", []) if s["id"] == int(segment_id)), None)
    if seg is None:
        raise DubError(f"the project has no line {segment_id}")
    model_id, voices = default_synthesizer().model_id, from_state(state["settings"]).voices
    gone = 0
    for lang, report in _timing(folder).items():
        text = seg["translation"].get(lang, "")
        voice = line_voice(seg.get("voice"), (state.get("speakers") or {}).get(seg.get("speaker", "")), lang, voices)
        speeds = {1.0} | {ln["synthesis_speed"] for ln in report.get("lines", [])
                          if ln.get("segment_id") == seg["id"] and ln.get("synthesis_speed") is not None}
        for speed in speeds:
            for stretched in (False, True):
                p = folder / "cache" / "clips" / f"{clip_key(text, lang, voice, speed, model_id, stretched)}.wav"
                if p.is_file():
                    p.unlink()
                    gone += 1
    return gone


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
