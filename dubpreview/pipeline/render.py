"""The render: the dub of every language, made from the project's state and its caches.

:func:`render` speaks and fits every line (:mod:`dubpreview.pipeline.synthesize`), mixes
the dub over the scene's music and effects (:mod:`dubpreview.mix`), writes the stems and
subtitles and remuxes the preview (video copied). It reads the scene from cached files a
block at a time and never re-enters the analysis: :func:`render_project` renders a
project again from its ``project.json`` alone (after an edit by
:mod:`dubpreview.project.edits`), with no probe of the scene's audio, no transcription,
no translation, and no synthesis of a line whose text, voice and speed did not change;
the mix is kept when none of its inputs changed, and re-mixed only around the lines that
did otherwise (:mod:`dubpreview.mix.splice`).
"""

from __future__ import annotations

import json
import os
from functools import partial
from pathlib import Path

import numpy as np

from dubpreview import languages
from dubpreview.errors import DubError
from dubpreview.mix.duck import MIX_RATE, DubStem
from dubpreview.pipeline.records import DubResult, SceneRun
from dubpreview.pipeline.stages import Reporter, Stages
from dubpreview.records import Segment
from dubpreview.settings import DubSettings
from dubpreview.util.files import atomic_write_json


def _export_wav(reader, path: Path, gain: float = 1.0) -> Path:
    """16-bit WAV at :data:`MIX_RATE` of everything ``reader`` holds (``read(lo, hi)``,
    ``frames``, ``channels``; times ``gain``), written a block at a time and atomically
    (:func:`dubpreview.media.wav.write_wav`)."""
    from dubpreview.media.wav import reader_blocks, write_wav

    return write_wav(path, reader_blocks(reader, gain=gain), MIX_RATE, reader.channels)


class _Dialogue:
    """A reader of the mono loudness reference: the dialogue stem (stereo original minus
    the bed, averaged) when separated, else the original's mono downmix."""

    channels = 1

    def __init__(self, original, bed):
        self.original, self.bed, self.frames = original, bed, original.frames

    def read(self, lo: int, hi: int) -> np.ndarray:
        """Float32 ``(hi - lo, 1)``."""
        x = self.original.read(lo, hi)
        if self.bed is not None:
            x = np.subtract(x, self.bed.read(lo, hi), dtype=np.float32)
        return x.mean(axis=1, keepdims=True)


def separation_stage(run: SceneRun, settings: DubSettings, prefetch=None):
    """The scene's audio and its stems as cached files: ``(scene WAV, SceneFiles)``
    (:func:`~dubpreview.separate.cache.separate_scene_file`; spleeter on one torch thread).
    ``prefetch``: a :class:`~dubpreview.separate.prefetch.SeparationPrefetch` already making
    them (its result is used; the stage then times the wait for it), or None."""
    from dubpreview.separate.cache import scene_audio_file, separate_scene_file

    method, stages = settings.separation.method, run.stages
    if prefetch is not None:
        with stages.stage(f"separate dialogue ({method})") as st:
            scene_wav, sep = prefetch.result()
            st["status"] = "cached" if sep.cached else "computed"
            st["extra"] = {"method": sep.method, "background_s": round(prefetch.seconds, 2)}
        return scene_wav, sep
    with stages.stage("load original audio"):
        scene_wav = scene_audio_file(run.project, run.source, run.info, MIX_RATE, run.stream_index)
    with stages.stage(f"separate dialogue ({method})") as st:
        sep = separate_scene_file(run.project, scene_wav, MIX_RATE, method)
        st["status"] = "cached" if sep.cached else "computed"
        st["extra"] = {"method": sep.method}
    return scene_wav, sep


def _me_stem(bed, sep, root: Path, state: dict) -> Path:
    """``me.wav``, the music-and-effects stem as separated (before the bed level and any
    ducking), written again only when the separation changed since it was last written."""
    path, made_from = root / "me.wav", str(sep.bed)
    stamp = state.get("separation", {}).get("me_from")
    if not (path.is_file() and stamp == made_from):
        _export_wav(bed, path)
    state.setdefault("separation", {})["me_from"] = made_from
    return path


def _mix_made(lines, report, settings: DubSettings, sep, state: dict) -> tuple[list[list], str]:
    """What a language's mix is made of: each line as ``[start_s, end_s, clip, ref_start_s,
    ref_end_s]`` (clips are content-named, :mod:`dubpreview.pipeline.clips`), and the sha256
    of the rest (the mix settings, the separation, the bed it made, the source)."""
    import hashlib

    made = [[round(ln.start, 5), round(ln.start + len(ln.samples) / ln.rate, 5), clip,
             round(ln.ref_start, 5), round(ln.ref_end, 5)] for ln, clip in zip(lines, report.clips or [])]
    rest = {"mix": settings.mix.model_dump(mode="json"), "separation": [sep.method, bool(sep.separated)],
            "bed": (state.get("separation") or {}).get("me_from"),
            "source": (state.get("source") or {}).get("sha256")}
    return made, hashlib.sha256(json.dumps(rest, sort_keys=True).encode()).hexdigest()


def _energies_path(root: Path, lang: str, lines: list[list], rest: str) -> Path:
    import hashlib

    key = hashlib.sha256(json.dumps([lines, rest]).encode()).hexdigest()[:24]
    return root / "cache" / "loudness" / f"mix.{lang}.{key}.npy"


def _energies(root: Path, lang: str, lines: list[list], rest: str):
    """The loudness step energies of the programme made of ``lines`` and ``rest``
    (:func:`_mix_made`), as the last splice measured them; None when not kept."""
    try:
        return np.load(_energies_path(root, lang, lines, rest), allow_pickle=False)
    except (OSError, ValueError):
        return None


def _keep_energies(root: Path, lang: str, lines: list[list], rest: str, energies) -> None:
    """Keep ``energies`` (or none) for the programme just made; drop the older ones."""
    from dubpreview.util.files import atomic_path

    path = _energies_path(root, lang, lines, rest)
    for old in path.parent.glob(f"mix.{lang}.*.npy"):
        if old != path:
            old.unlink(missing_ok=True)
    if energies is not None:
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.save(f, energies, allow_pickle=False)


def _mix(run: SceneRun, settings: DubSettings, lang: str, lines, report, sep,
         readers) -> tuple[dict[str, Path], str]:
    """Mix ``lang``'s lines over the bed into ``mix.LANG.wav`` at the programme loudness,
    and write the dub stem as heard in it (``dub.LANG.wav``). Returns both paths and how:
    ``kept``, ``spliced`` or ``whole`` (with why a splice was not kept, when one was tried).

    A render that changed none of the mix's inputs keeps both files; one that changed some
    lines only re-mixes around them at the last render's gain (:mod:`dubpreview.mix.splice`)
    while the result still meets the loudness target; else the whole programme is mixed."""
    from dubpreview.media.wav import write_wav
    from dubpreview.mix.programme import MixSource, duck_depths, normalise_stream
    from dubpreview.mix.splice import changed_regions, splice_programme

    project, mix, root = run.project, settings.mix, run.project.root
    last = project.state.get("loudness", {}).get(lang, {})
    made, rest = _mix_made(lines, report, settings, sep, project.state)
    mix_path, stem_path = root / f"mix.{lang}.wav", root / f"dub.{lang}.wav"
    kept = last.get("mix_rest") == rest and mix_path.exists() and stem_path.exists() and "gain_db" in last
    if kept and last.get("mix_lines") == made:
        return {f"mix_{lang}": mix_path, f"dub_stem_{lang}": stem_path}, "kept"  # nothing it is made of changed
    original, bed, reference = readers
    stem = DubStem(lines, reference, original.frames, mix)  # each line matched on the dialogue stem
    spans = [(p.start, p.end) for p in report.placements]
    source = MixSource(bed, stem, spans, duck_depths(spans, mix, sep.separated, sep.bed_speech), mix.ramp_s, mix.bed_db)
    loud, how, energies = None, "whole", None
    if kept and last.get("mix_lines") is not None:
        regions = changed_regions(last["mix_lines"], made, original.frames, mix.ramp_s + 0.05)
        measured = _energies(root, lang, last["mix_lines"], rest)
        loud, how, energies = splice_programme(
            source, stem, mix_path, stem_path, regions, float(last["gain_db"]), mix.target_lufs, mix.true_peak_db,
            bool(last.get("limited")), None if measured is None else (measured, float(last["true_peak_dbtp"])))
    if loud is None:
        how = "whole" if how == "whole" else f"whole ({how})"
        same = (last.get("target_lufs") == mix.target_lufs and last.get("bed_db") == mix.bed_db
                and last.get("separation") == sep.method)
        loud = normalise_stream(source, lambda blocks: write_wav(mix_path, blocks, MIX_RATE, 2), mix.target_lufs,
                                mix.true_peak_db, previous_gain_db=last.get("gain_db") if same else None)
        _export_wav(stem, stem_path, 10 ** (loud.gain_db / 20))
    project.state.setdefault("loudness", {})[lang] = {
        "integrated_lufs": round(loud.lufs, 2), "true_peak_dbtp": round(loud.true_peak_db, 2),
        "gain_db": loud.gain_db, "limited": loud.limited, "target_lufs": mix.target_lufs,
        "bed_db": mix.bed_db, "separation": sep.method, "mix_rest": rest, "mix_lines": made}
    _keep_energies(root, lang, made, rest, energies)
    return {f"mix_{lang}": mix_path, f"dub_stem_{lang}": stem_path}, how


def render(run: SceneRun, settings: DubSettings, segments: list[Segment], language: str,
           prefetch=None) -> DubResult:
    """Synthesize, fit, mix, write stems and subtitles, remux; record the outputs in the
    project. ``segments`` are the project's lines (with the user's edits), ``language`` the
    source language; ``prefetch`` as in :func:`separation_stage`. Returns the :class:`DubResult`."""
    from dubpreview.media.remux import AudioTrack, SubtitleTrack, write_preview
    from dubpreview.pipeline.synthesize import nbest_translator, synthesize_and_fit
    from dubpreview.subtitles import cues_from_segments, write_srt, write_vtt

    project, stages, root = run.project, run.stages, run.project.root
    warnings: list[str] = list(project.state.get("warnings", []))
    if not segments:
        warnings.append("no speech found in the scene; the preview keeps the original audio only")
    for message in warnings:
        stages.note(message)
    outputs: dict[str, Path] = {}
    timing: dict[str, dict] = {}
    audio_tracks, subtitle_tracks = [], []
    _, sep = separation_stage(run, settings, prefetch)
    for note in sep.notes:
        stages.note(note)
    project.state.setdefault("separation", {}).update(method=sep.method, notes=sep.notes)
    # from here on the scene is read from files a block at a time: no whole-scene arrays
    original, bed = sep.original(), sep.bed_reader()
    if sep.separated:
        outputs["me_stem"] = _me_stem(bed, sep, root, project.state)
    readers = (original, bed, _Dialogue(original, bed if sep.separated else None))
    duration = original.frames / MIX_RATE
    for i, lang in enumerate(settings.targets if segments else []):
        report, lines = synthesize_and_fit(project, segments, lang, duration, settings, stages,
                                           translator=partial(nbest_translator, settings, language, lang))
        timing[lang] = report.to_dict()
        with stages.stage(f"mix {lang}") as st:
            paths, how = _mix(run, settings, lang, lines, report, sep, readers)
            outputs.update(paths)
            st["extra"] = {"mix": how}
        del lines
        audio_tracks.append(AudioTrack(outputs[f"mix_{lang}"], lang, f"Dub ({languages.name(lang)})", i == 0,
                                       encode_cache=str(root / "cache" / "aac" / f"mix.{lang}")))
        for ext, writer in (("srt", write_srt), ("vtt", write_vtt)):
            outputs[f"subtitles_{lang}_{ext}"] = root / f"subtitles.{lang}.{ext}"
            writer(cues_from_segments(segments, lang), outputs[f"subtitles_{lang}_{ext}"])
        subtitle_tracks.append(SubtitleTrack(outputs[f"subtitles_{lang}_srt"], lang, languages.name(lang)))
    original.close()
    bed.close()
    project.state["segments"] = [s.to_dict() for s in segments]  # with any length-aware choices and flags
    if segments:
        for ext, writer in (("srt", write_srt), ("vtt", write_vtt)):
            outputs[f"subtitles_{language}_source_{ext}"] = root / f"subtitles.source-{language}.{ext}"
            writer(cues_from_segments(segments), outputs[f"subtitles_{language}_source_{ext}"])
        subtitle_tracks.append(SubtitleTrack(outputs[f"subtitles_{language}_source_srt"], language,
                                             f"{languages.name(language)} (original)"))
        atomic_write_json(root / "timing.json", {"languages": timing, "settings": settings.timing.model_dump(mode="json")})
        outputs["timing"] = root / "timing.json"
    audio_tracks.append(AudioTrack(None, language, f"Original ({languages.name(language)})", not audio_tracks,
                                   stream_index=run.stream_index))
    with stages.stage("remux preview") as st:
        remux_report: dict = {}
        write_preview(run.source, run.info, run.output, audio_tracks, subtitle_tracks, report=remux_report)
        st["extra"] = {"dub_encoding": {audio_tracks[k].language: how
                                        for k, how in remux_report.get("encoded", {}).items()}}
    outputs["preview"] = run.output
    project.state["timing"] = {k: v["totals"] for k, v in timing.items()}
    project.state["outputs"] = {k: str(v) for k, v in outputs.items()}
    project.save()
    return DubResult(run.output, root, language, segments, project.stage_log, warnings, timing, outputs,
                     dict(project.state.get("translation_routes", {})))


def render_project(project_dir: str | os.PathLike, reporter: Reporter | None = None) -> DubResult:
    """Render a project again from its ``project.json`` (after edits): the lines, speakers
    and settings as stored, every cached artifact reused. The analysis is not re-entered:
    the scene is not transcribed, translated or separated again (a speaker's new gender or
    saved profile only chooses that speaker's voice again, :func:`~dubpreview.voices.scene.refresh_voices`).

    Raises:
        DubError: the folder is not a finished project, or its source file is missing or changed.
    """
    from dubpreview.media.probe import probe
    from dubpreview.project.store import Project
    from dubpreview.settings import from_state
    from dubpreview.voices.scene import refresh_voices

    project = Project.load(project_dir)
    state = project.state
    preview = state.get("outputs", {}).get("preview")
    if not preview or not state.get("settings") or "source_language" not in state:
        raise DubError(f"{project.root} is not a finished dubpreview project; run `dubpreview dub` first")
    src = project.check_source()
    settings = from_state(state["settings"])
    info = probe(src)
    run = SceneRun(src, info, project, Stages(project, reporter), Path(preview), project.stream_index)
    refresh_voices(project, settings, run.stages, lambda: _audio16(run))
    segments = [Segment.from_dict(d) for d in state.get("segments", [])]
    return render(run, settings, segments, state["source_language"])


def _audio16(run: SceneRun) -> np.ndarray:
    """The scene's 16 kHz mono audio (decoded only when a speaker's voice must be measured again)."""
    from dubpreview.media.extract import load_audio

    return load_audio(run.source, sample_rate=16000, channels=1, stream_index=run.stream_index).samples
