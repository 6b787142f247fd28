"""The orchestrator: scene in, preview out, every stage cached in the project folder.

``dub()`` runs two halves that can also run on their own:

- :func:`analyze` — probe, extract audio, transcribe, translate; writes ``project.json``.
- :func:`render` — synthesize each line (cached by text, voice, speed, model), fit the
  timing, mix over the ducked original, write stems and subtitles, remux the preview.

An edit to ``project.json`` (a translation, a line's offset or speed) followed by
:func:`render` recomputes only the clips whose inputs changed.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from dubpreview import languages
from dubpreview.errors import DubError
from dubpreview.mix.duck import MIX_RATE, DubStem, MixedLine, MixSettings
from dubpreview.project.store import Project, cache_key, file_sha256
from dubpreview.records import Segment, TimingReport
from dubpreview.timing.fit import TimingSettings, clip_fits, pick_clip, place, plan, synthesis_speed
from dubpreview.util.files import atomic_write_json, fault_point

Reporter = Callable[[str, str, float], None]
"""``reporter(stage, status, seconds)``; status is "start", "computed", "cached" or "note"."""


@dataclass
class DubSettings:
    """What the user chose for a run.

    ``targets``: dub languages (ISO 639-1); ``source_language``: None to detect;
    ``asr``: transcriber name; ``translator``: backend name or None for automatic;
    ``translation_file``: a human translation (SRT/VTT) to import; ``hf_model``: a
    transformers model (hub name or folder); ``voice``: Kokoro voice for every line
    (None = the language's preset); ``threads``: CPU threads per model;
    ``separation``: dialogue/M&E separation, one of ``auto``, ``spleeter``, ``centre``,
    ``none`` (:mod:`dubpreview.separate`); ``target_lufs``: programme loudness (LUFS,
    EBU R128 -23); ``bed_db``: level of the music-and-effects bed (dB). These two override
    the same fields of ``mix`` when rendering.
    Speakers (:mod:`dubpreview.voices.scene`): ``diarize`` gives each line a speaker
    (``speakers``: their number, None = found); ``voice_match`` gives each speaker a voice
    matched to the actor (``voice_refine``: refine it by one more synthesis per speaker);
    ``voice_library``: saved profiles folder (None = ``voices/profiles``); ``save_voices``:
    save this scene's profiles there. ``audio_stream``: the audio stream to dub, counted
    from 0 among the scene's audio streams (None = the first dialogue-bearing one,
    :mod:`dubpreview.media.streams`). ``beam_size``: Whisper's beam (1 = greedy; None = the
    backend's default: 5 for faster-whisper, 1 for openai-whisper). ``guards``: the
    integrity guards after ASR and translation (:mod:`dubpreview.integrity`; off = the
    first pass as Whisper gave it, for comparison in ``bench/content.py``). ``fallback``:
    Whisper's temperature fallback on the first pass (off = temperature 0 only, deterministic).
    """

    targets: list[str]
    source_language: str | None = None
    asr: str = "faster-whisper"
    translator: str | None = None
    translation_file: str | None = None
    hf_model: str | None = None
    voice: str | None = None
    threads: int = 2
    timing: TimingSettings = field(default_factory=TimingSettings)
    mix: MixSettings = field(default_factory=MixSettings)
    separation: str = "auto"
    target_lufs: float = -23.0
    bed_db: float = 0.0
    diarize: bool = True
    speakers: int | None = None
    voice_match: bool = True
    voice_refine: bool = False
    voice_library: str | None = None
    save_voices: bool = False
    audio_stream: int | None = None
    beam_size: int | None = None
    guards: bool = True
    fallback: bool = True

    def public(self) -> dict:
        """The settings as stored in ``project.json``."""
        return {
            "targets": self.targets, "source_language": self.source_language, "asr": self.asr,
            "translator": self.translator, "translation_file": self.translation_file,
            "hf_model": self.hf_model, "voice": self.voice,
            "timing": vars(self.timing), "mix": vars(self.mix),
            "diarize": self.diarize, "speakers": self.speakers, "voice_match": self.voice_match,
            "voice_refine": self.voice_refine, "voice_library": self.voice_library, "save_voices": self.save_voices,
            "separation": self.separation, "target_lufs": self.target_lufs, "bed_db": self.bed_db,
            "audio_stream": self.audio_stream, "beam_size": self.beam_size, "guards": self.guards,
            "fallback": self.fallback,
        }


@dataclass
class DubResult:
    """What a run produced: the preview, the project folder and its files, the stage log."""

    preview: Path
    project: Path
    source_language: str
    segments: list[Segment]
    stage_log: list[dict]
    warnings: list[str]
    timing: dict[str, dict]
    outputs: dict[str, Path]
    routes: dict[str, str] = field(default_factory=dict)
    """Target language -> how it was translated, e.g. ``"cs->en (whisper-translate), en->pt (bergamot)"``."""


class _Stages:
    """Times each stage, logs it in the project, and tells the reporter."""

    def __init__(self, project: Project, reporter: Reporter | None):
        self.project = project
        self.reporter = reporter or (lambda stage, status, seconds: None)

    @contextmanager
    def stage(self, name: str) -> Iterator[dict]:
        """Time the stage; its log line also gets ``peak_rss_mb``, the process's peak
        resident memory so far (MiB, :func:`dubpreview.util.memory.peak_rss_mb`): the stage
        after which it rose is the one that needed that memory; and ``cpu_s``, the CPU seconds
        the process spent in it (all threads, :func:`time.process_time`; over the wall seconds
        it is the stage's core use)."""
        from dubpreview.util.memory import peak_rss_mb

        rec = {"status": "computed", "extra": {}}
        fault_point(f"stage:{name}")  # reliability tests only: see util.files.fault_point
        self.reporter(name, "start", 0.0)
        t0, c0 = time.perf_counter(), time.process_time()
        yield rec
        seconds = time.perf_counter() - t0
        rec["extra"].setdefault("peak_rss_mb", round(peak_rss_mb()))
        rec["extra"].setdefault("cpu_s", round(time.process_time() - c0, 2))
        self.project.log(name, rec["status"], seconds, **rec["extra"])
        self.reporter(name, rec["status"], seconds)

    def note(self, message: str) -> None:
        self.reporter(message, "note", 0.0)


def check_writable(folder: Path) -> None:
    """Raise DubError unless a file can be created in ``folder`` (created if missing)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".dubpreview-write-test-"):
            pass
    except OSError as exc:
        raise DubError(f"cannot write to the output folder {folder} ({exc.strerror}); choose another -o") from None


def _targets(settings: DubSettings) -> list[str]:
    from dubpreview.tts.kokoro import default_synthesizer

    if not settings.targets:
        raise DubError("no target language given; pass --to LANG, e.g. --to pt")
    spoken = default_synthesizer(settings.threads).languages()
    out = []
    for code in settings.targets:
        lang = languages.normalize(code)
        if lang not in spoken:
            raise DubError(f"cannot dub into '{code}': the embedded voices speak {', '.join(sorted(spoken))}")
        out.append(lang)
    return out


def default_project_dir(output: Path) -> Path:
    """``OUT.dubpreview/`` beside the preview (``scene.dub-pt.mp4`` -> ``scene.dub-pt.dubpreview``)."""
    return output.with_suffix(".dubpreview")


@dataclass
class SceneRun:
    """One run over a scene, opened by :func:`open_run`: the resolved ``source`` file, its
    probe ``info``, the ``project``, the stage timer ``stages`` and the ``output`` preview path."""

    source: Path
    info: object
    project: Project
    stages: _Stages
    output: Path
    stream_index: int | None = None
    """The container index of the audio stream dubbed (None: the first audio stream)."""


def open_run(source: str | os.PathLike, settings: DubSettings, output: str | os.PathLike | None = None,
             project_dir: str | os.PathLike | None = None, reporter: Reporter | None = None) -> SceneRun:
    """Check the input and the settings and open (or create) the project; nothing is computed.

    Normalises ``settings.targets`` and ``settings.source_language`` in place. Raises
    :class:`DubError` for bad input (missing file, a folder, not a media file, no audio,
    unknown language, output equal to input, unwritable folder, a pair no backend can
    translate even through English).
    """
    from dubpreview.media.probe import probe
    from dubpreview.media.remux import default_output_path

    src = Path(source).expanduser()
    if not src.exists():
        raise DubError(f"input file not found: {src}")
    if src.is_dir():
        raise DubError(f"{src} is a folder; give a video or audio file")
    src = src.resolve()
    targets = _targets(settings)
    settings.targets = targets
    from dubpreview.mix.programme import check_options

    check_options(settings.separation, settings.target_lufs, settings.bed_db)
    if settings.translation_file and len(targets) > 1:
        raise DubError("--translation imports one language; dub one target language per run with it")
    if settings.source_language:
        settings.source_language = languages.normalize(settings.source_language)
    out = Path(output).expanduser() if output else default_output_path(src, targets)
    out = out.resolve()
    if out == src:
        raise DubError("the output path is the input file; choose another -o")
    check_writable(out.parent)
    info = probe(src)
    if settings.source_language:
        for target in targets:  # fail before any work or output when the pair cannot be done
            _route(settings, settings.source_language, target, transcriber=None, check_only=True)
    proj_dir = Path(project_dir).expanduser().resolve() if project_dir else default_project_dir(out)
    from dubpreview.media.streams import dialogue_stream

    stream, note = dialogue_stream(src, info, settings.audio_stream)
    project = Project.open(proj_dir, src, file_sha256(src))
    project.state["settings"] = settings.public()
    index = None if stream.index == info.audio[0].index else stream.index
    project.state["source"]["stream"] = index  # part of every cache key of the scene's audio
    stages = _Stages(project, reporter)
    if note:
        stages.note(note)
    return SceneRun(src, info, project, stages, out, index)


def dub(source: str | os.PathLike, settings: DubSettings, output: str | os.PathLike | None = None,
        project_dir: str | os.PathLike | None = None, reporter: Reporter | None = None) -> DubResult:
    """Dub ``source`` into ``settings.targets`` and write the preview.

    Returns the :class:`DubResult`. Raises :class:`DubError` for bad input (see
    :func:`open_run`); nothing is left half-written.
    """
    from dubpreview.separate.prefetch import SeparationPrefetch

    run = open_run(source, settings, output, project_dir, reporter)
    project, stages = run.project, run.stages
    # the stems are made beside the transcription (one torch thread in the cores Whisper leaves idle)
    prefetch = SeparationPrefetch(project, run.source, run.info, MIX_RATE, settings.separation, run.stream_index)
    segments, language, audio16 = analyze(run.source, run.info, project, settings, stages,
                                          before_speakers=prefetch.wait)
    warnings: list[str] = list(project.state.get("warnings", []))
    if not segments:
        warnings.append("no speech found in the scene; the preview keeps the original audio only")
    for message in warnings:
        stages.note(message)
    outputs, timing = render(run.source, run.info, project, settings, stages, run.output, segments, language,
                             prefetch=prefetch)
    project.state["outputs"] = {k: str(v) for k, v in outputs.items()}
    project.save()
    return DubResult(run.output, project.root, language, segments, project.stage_log, warnings, timing, outputs,
                     dict(project.state.get("translation_routes", {})))


def analyze_only(source: str | os.PathLike, settings: DubSettings, output: str | os.PathLike | None = None,
                 project_dir: str | os.PathLike | None = None, reporter: Reporter | None = None) -> int:
    """The first stage group of :func:`dub` on its own: extract, transcribe, find speakers and
    translate into every target (cached in the project). Returns the number of lines.
    A later :func:`dub` with the same arguments finds all of it cached.
    Raises :class:`DubError` as :func:`open_run`."""
    run = open_run(source, settings, output, project_dir, reporter)
    segments, _, _ = analyze(run.source, run.info, run.project, settings, run.stages)
    return len(segments)


def separate_only(source: str | os.PathLike, settings: DubSettings, output: str | os.PathLike | None = None,
                  project_dir: str | os.PathLike | None = None, reporter: Reporter | None = None) -> str:
    """The separation stage of :func:`dub` on its own: the dialogue/M&E stems of the scene at
    :data:`~dubpreview.mix.duck.MIX_RATE`, cached in the project (``project.json`` is not
    written, so this may run beside :func:`analyze_only`). Returns the method that ran.
    Raises :class:`DubError` as :func:`open_run`."""
    from dubpreview.separate.cache import scene_audio_file, separate_scene_file

    run = open_run(source, settings, output, project_dir, reporter)
    with run.stages.stage("load original audio"):
        scene = scene_audio_file(run.project, run.source, run.info, MIX_RATE, run.stream_index)
    with run.stages.stage(f"separate dialogue ({settings.separation})") as st:
        sep = separate_scene_file(run.project, scene, MIX_RATE, settings.separation)
        st["status"] = "cached" if sep.cached else "computed"
        st["extra"] = {"method": sep.method}
    return sep.method


def transcriber_for(settings: DubSettings):
    """The run's transcriber (one per backend and thread count per process)."""
    from dubpreview.asr.select import get_transcriber

    threads = {"faster-whisper": "cpu_threads", "openai-whisper": "threads"}.get(settings.asr, "threads")
    opts = {threads: settings.threads, "guards": settings.guards, "fallback": settings.fallback}
    if settings.beam_size is not None:
        opts["beam_size"] = settings.beam_size
    return get_transcriber(settings.asr, **opts)


def _translator(settings: DubSettings, source: str, target: str, transcriber):
    """The direct translator of the pair (:func:`~dubpreview.translate.select.select_translator`)."""
    from dubpreview.translate.select import select_translator

    return select_translator(source, target, backend=settings.translator,
                             translation_file=settings.translation_file,
                             transcriber=transcriber, hf_model=settings.hf_model)


def _route(settings: DubSettings, source: str, target: str, transcriber, check_only: bool = False):
    """The pair's hops, direct or through English (:func:`~dubpreview.translate.select.select_route`)."""
    from dubpreview.translate.select import select_route

    if check_only and settings.translation_file is None and transcriber is None:
        # whisper-translate needs a transcriber only to run, not to be chosen
        transcriber = transcriber_for(settings)
    return select_route(source, target, backend=settings.translator,
                        translation_file=settings.translation_file,
                        transcriber=transcriber, hf_model=settings.hf_model)


def analyze(src: Path, info, project: Project, settings: DubSettings, stages: _Stages,
            before_speakers: Callable[[], None] | None = None) -> tuple[list[Segment], str, np.ndarray]:
    """Extract audio, transcribe and translate (each cached); store segments in the project.

    ``before_speakers`` is called after the transcript's guard and before the speaker stage
    (:class:`~dubpreview.separate.prefetch.SeparationPrefetch.wait`: torch work in another
    thread ends before diarization's). Returns (segments, source language, 16 kHz mono audio).
    """
    from dubpreview.media.extract import load_audio

    with stages.stage("extract audio"):
        audio16 = load_audio(src, sample_rate=16000, channels=1, stream_index=project.stream_index).samples
    transcriber = transcriber_for(settings)
    sha = project.audio_id
    key = cache_key(source=sha, asr=transcriber.name, model=transcriber.model_id,
                    language=settings.source_language, decode=transcriber.options_id)
    with stages.stage(f"transcribe ({transcriber.name})") as st:
        cached = project.get_json("asr", key)
        if cached is None:
            tr = transcriber.transcribe(audio16, language=settings.source_language)
            cached = {"language": tr.language, "language_probability": tr.language_probability,
                      "segments": [s.to_dict() for s in tr.segments]}
            project.put_json("asr", key, cached)
        else:
            st["status"] = "cached"
        st["extra"] = {"segments": len(cached["segments"]), "language": cached["language"]}
    language = cached["language"]
    cached = _guard_transcript(project, transcriber, audio16, cached, key, settings, stages)
    segments = [Segment.from_dict(d) for d in cached["segments"]]
    project.state["coverage"] = cached["coverage"]
    project.state["dropped"] = cached.get("dropped", [])
    from dubpreview.voices.scene import speakers_stage  # speaker per segment, voice profiles

    if before_speakers is not None:
        before_speakers()
    segments = speakers_stage(project, audio16, segments, settings, stages)
    edits = {d["id"]: d for d in project.state.get("segments", []) if project.state.get("asr_key") == key}
    project.state["asr_key"] = key
    project.state["source_language"] = language
    project.state["duration"] = info.duration
    warnings: list[str] = []
    routes: dict[str, str] = {}
    for target in settings.targets:
        if not segments:
            break
        try:
            route = _route(settings, language, target, transcriber)
        except DubError as exc:
            if settings.source_language is not None:
                raise
            raise DubError(f"the scene sounds like {languages.name(language)} (language identification, "
                           f"p {cached['language_probability']:.2f}) and {exc}; if the scene is in another "
                           "language, choose it as the source language (--from, or Source language in the app)") from None
        from dubpreview.translate.select import describe_route

        routes[target] = describe_route(route)
        if len(route) > 1:
            warnings.append(f"no installed translator does {language}->{target}; translated through "
                            f"English: {routes[target]}")
        hop_segments = [Segment.from_dict(s.to_dict()) for s in segments]  # the guard flags copies
        for hop_source, hop_target, translator in route:
            tkey = cache_key(source=sha, backend=translator.name, pair=[hop_source, hop_target],
                             texts=[s.text for s in hop_segments], spans=[[s.start, s.end] for s in hop_segments],
                             file=file_sha256(settings.translation_file) if settings.translation_file else None,
                             model=settings.hf_model, rule=getattr(translator, "rule", None))
            with stages.stage(f"translate {hop_source}->{hop_target} ({translator.name})") as st:
                texts = project.get_json("translate", tkey)
                if texts is None:
                    texts = translator.translate(hop_segments, hop_source, hop_target, audio=audio16)
                    project.put_json("translate", tkey, texts)
                else:
                    st["status"] = "cached"
            warnings += list(getattr(translator, "warnings", []))
            if settings.guards and not settings.translation_file and hop_source != hop_target:  # not identity
                texts = _guard_translation(project, translator, hop_segments, texts, tkey, hop_source, target,
                                           audio16, settings, stages)
            hop_segments = [replace(seg, text=text, words=[]) for seg, text in zip(hop_segments, texts)]
        for seg, hop in zip(segments, hop_segments):
            seg.translation[target] = hop.text
            seg.flags = [f for f in seg.flags if f.language != target] + [f for f in hop.flags if f.language == target]
    for seg in segments:  # user edits made in project.json win over the automatic values
        old = edits.get(seg.id)
        if old:
            seg.translation.update({k: v for k, v in old.get("translation", {}).items()
                                    if k in (old.get("edited") or [])})
            seg.offset_ms, seg.speed = old.get("offset_ms", 0.0), old.get("speed")
            seg.voice, seg.muted = old.get("voice"), old.get("muted", False)
            seg.edited = list(old.get("edited") or [])
            seg.flags = [f for f in seg.flags if f.language not in seg.edited]  # the user's words stand
    project.state["segments"] = [s.to_dict() for s in segments]
    project.state["warnings"] = warnings
    project.state["translation_routes"] = routes
    project.save()
    return segments, language, audio16


def _guard_transcript(project: Project, transcriber, audio16: np.ndarray, cached: dict, asr_key: str,
                      settings: DubSettings, stages: _Stages) -> dict:
    """The transcript after the ASR guard (:func:`dubpreview.integrity.asr_guard.guard_transcript`),
    cached: ``{"language", "segments", "coverage", "dropped"}``. With the guards off, the first
    pass as it is, with its coverage measured all the same."""
    from dubpreview.integrity import asr_guard
    from dubpreview.integrity.coverage import measure

    gkey = cache_key(asr=asr_key, guards=asr_guard.GUARD_VERSION if settings.guards else 0,
                     accepted=settings.timing.accepted_speed)
    with stages.stage("guard transcript" if settings.guards else "speech coverage") as st:
        out = project.get_json("asr-guard", gkey)
        if out is None:
            segments = [Segment.from_dict(d) for d in cached["segments"]]
            if settings.guards and segments:
                g = asr_guard.guard_transcript(transcriber, audio16, segments, cached["language"],
                                               settings.timing.accepted_speed)
                segments, cov, dropped = g.segments, g.coverage, g.dropped
            else:
                cov, dropped = measure(asr_guard.vad_speech(transcriber, audio16),
                                       [(s.start, s.end) for s in segments]), []
            out = {"language": cached["language"], "segments": [s.to_dict() for s in segments],
                   "coverage": cov.to_dict(), "dropped": dropped}
            project.put_json("asr-guard", gkey, out)
        else:
            st["status"] = "cached"
        st["extra"] = {"coverage": out["coverage"]["share"], "dropped": len(out["dropped"]),
                       "flagged": sum(1 for s in out["segments"] if s.get("flags"))}
    return out


def _guard_translation(project: Project, translator, segments: list[Segment], texts: list[str], tkey: str,
                       source: str, target: str, audio16: np.ndarray, settings: DubSettings,
                       stages: _Stages) -> list[str]:
    """One hop's translations after the translation guard
    (:func:`dubpreview.integrity.translation_guard.guard_translations`), cached; the flags for
    ``target`` are added to ``segments`` (the hop's copies)."""
    from dubpreview.integrity.asr_guard import GUARD_VERSION
    from dubpreview.integrity.translation_guard import guard_translations
    from dubpreview.records import Flag

    gkey = cache_key(translate=tkey, target=target, guards=GUARD_VERSION, accepted=settings.timing.accepted_speed,
                     edited=[s.id for s in segments if target in s.edited])
    with stages.stage(f"guard translation {source}->{target}") as st:
        out = project.get_json("translate-guard", gkey)
        if out is None:
            again = getattr(translator, "retranslate", None)
            retranslate = (lambda seg: again(seg, source, audio16)) if again else None
            guarded = guard_translations(segments, texts, target, settings.timing.accepted_speed, retranslate)
            out = {"texts": guarded, "flags": [[vars(f) for f in s.flags if f.language == target] for s in segments]}
            project.put_json("translate-guard", gkey, out)
        else:
            st["status"] = "cached"
            for seg, fl in zip(segments, out["flags"]):
                seg.flags = [f for f in seg.flags if f.language != target] + [Flag(**f) for f in fl]
        st["extra"] = {"flagged": sum(1 for fl in out["flags"] if fl)}
    return out["texts"]


def _clip(project: Project, synth, text: str, lang: str, voice: str, speed: float,
          counts: dict[str, int]) -> tuple[np.ndarray, Path]:
    key = cache_key(text=text, lang=lang, voice=voice, speed=round(speed, 4), model=synth.model_id)
    hit = project.get_audio("clips", key)
    if hit is not None:
        _count(counts, "cached")
        return hit[0], project.cache_path("clips", key, "wav")
    _count(counts, "computed")
    samples = synth.synthesize(text, lang, voice, speed)
    return samples, project.put_audio("clips", key, samples, synth.sample_rate)


_counts_lock = threading.Lock()


def _count(counts: dict[str, int], what: str) -> None:
    """``counts[what] += 1`` from any synthesis worker thread."""
    with _counts_lock:
        counts[what] += 1


def _shorten_lines(segments: list[Segment], naturals: list[float], report: TimingReport, lang: str,
                   translator, synth, timing: TimingSettings, n: int = 4) -> list[int]:
    """Length-aware translation: where a line does not fit its window at the accepted speed
    and the translator gives n-best candidates (``translate_nbest``), take the best-scoring one that
    fits (:func:`dubpreview.timing.length.choose`). Lines the user edited are left alone.

    Updates the segments in place (``translation``, ``alternatives``, ``shortened``) and
    returns the indices of the lines that changed.
    """
    from dubpreview.timing.length import choose, rank

    nbest = getattr(translator, "translate_nbest", None)
    def rushed(i: int) -> bool:  # does not fit its window even at the accepted speed
        p = report.placements[i]
        return naturals[i] / timing.accepted_speed > p.slot - (p.start - segments[i].start) + timing.tolerance_s

    todo = [i for i, seg in enumerate(segments) if rushed(i) and lang not in seg.edited and seg.speed is None]
    if nbest is None or not todo:
        return []
    candidates = nbest([segments[i].text for i in todo], n)
    changed = []
    for i, cands in zip(todo, candidates):
        seg, p = segments[i], report.placements[i]
        units = synth.units(seg.translation[lang], lang) or 1
        per_unit = naturals[i] / units
        ranked = rank(cands + [(seg.translation[lang], max((c[1] for c in cands), default=0.0))],
                      lambda text: synth.units(text, lang) * per_unit)
        room = max(1e-3, p.slot - (p.start - seg.start))
        pick = choose(ranked, naturals[i], room * timing.accepted_speed)
        seg.alternatives[lang] = [vars(c) for c in ranked]
        if pick is not None and pick.text != seg.translation[lang]:
            seg.translation[lang] = pick.text
            seg.shortened = sorted(set(seg.shortened) | {lang})
            changed.append(i)
    return changed


def _nbest_translator(settings: DubSettings, source: str, target: str):
    """The run's translator for ``source -> target`` when it can give n-best candidates
    (for length-aware translation), else None."""
    if settings.translation_file or source == target:
        return None
    try:
        translator = _translator(settings, source, target, transcriber_for(settings))
    except DubError:
        return None
    return translator if hasattr(translator, "translate_nbest") else None


def _line_clip(project: Project, synth, text: str, lang: str, voice: str, speed: float,
               counts: dict[str, int]) -> tuple[np.ndarray, Path]:
    """The clip at ``speed``: native re-synthesis where the backend has a speed control,
    else the natural clip time-stretched with atempo (cached too)."""
    if getattr(synth, "native_speed", True) or speed == 1.0:
        return _clip(project, synth, text, lang, voice, speed, counts)
    from dubpreview.timing.stretch import time_stretch

    key = cache_key(text=text, lang=lang, voice=voice, speed=round(speed, 4), model=synth.model_id, stretch="atempo")
    hit = project.get_audio("clips", key)
    if hit is not None:
        _count(counts, "cached")
        return hit[0], project.cache_path("clips", key, "wav")
    natural, _ = _clip(project, synth, text, lang, voice, 1.0, counts)
    samples = time_stretch(natural, synth.sample_rate, speed)
    return samples, project.put_audio("clips", key, samples, synth.sample_rate)


def _length_model(project: Project, synth, text: str, lang: str, voice: str, counts: dict[str, int]):
    """How long a line will be at any TTS speed (:mod:`dubpreview.tts.durations`): the
    backend's duration predictor where it has one (``length_model``; cached in the project,
    no audio made), else its natural clip synthesized (cached) and measured."""
    from dubpreview.tts.durations import KokoroLength, PowerLawLength

    predict = getattr(synth, "length_model", None)
    if predict is not None:
        key = cache_key(text=text, lang=lang, voice=voice, model=synth.model_id, predictor=1)
        hit = project.get_json("durations", key)
        if hit is not None:
            return KokoroLength.from_dict(hit)
        model = predict(text, lang, voice)
        if model is not None:
            project.put_json("durations", key, model.to_dict())
            return model
    samples, _ = _clip(project, synth, text, lang, voice, 1.0, counts)
    return PowerLawLength(len(samples) / synth.sample_rate, getattr(synth, "speed_exponent", 1.0))


def synthesize_and_fit(project: Project, segments: list[Segment], lang: str, duration: float,
                       settings: DubSettings, stages: _Stages,
                       translator=None) -> tuple[TimingReport, list[MixedLine]]:
    """Synthesize every dubbed line of ``lang`` and fit it (:mod:`dubpreview.timing.fit`).

    Each line's length at any speed is predicted first (:func:`_length_model`: Kokoro's
    duration predictor, no audio); the pure planner chooses rates and starts from those
    natural lengths; lines that would be rushed get a shorter translation where
    ``translator`` offers n-best candidates; every line is then synthesized once, at the TTS
    speed its length model gives for its planned length (:func:`~dubpreview.timing.fit.synthesis_speed`).
    The measured clips correct the length models and the plan is made again on them; a line
    whose clip does not fit the new plan (:func:`~dubpreview.timing.fit.clip_fits`) is
    synthesized at most once more, at the corrected model's speed, and the better of its two
    clips is kept (:func:`~dubpreview.timing.fit.pick_clip`). The final placement uses the
    real clip lengths, and its speeds are the rates as heard (natural / real length).
    Returns the timing report (its lines carry the clip paths) and the lines ready to mix.
    """
    from dubpreview.tts.kokoro import default_synthesizer, parallel_map
    from dubpreview.tts.voices import default_voice

    synth = default_synthesizer(settings.threads)
    voice = settings.voice or default_voice(lang)
    from dubpreview.voices.scene import foreign_voice_notes, speaker_voices

    synth, by_speaker = speaker_voices(project, lang, settings, synth)  # matched or chosen per speaker
    for message in foreign_voice_notes(synth, by_speaker, lang):
        stages.note(message)
    timing = settings.timing
    from dubpreview.integrity.flags import held

    active = [s for s in segments if not s.muted and s.translation.get(lang, "").strip() and not held(s, lang)]
    counts = {"computed": 0, "cached": 0}
    rate_hz = synth.sample_rate

    def voice_of(seg: Segment) -> str:
        return seg.voice or by_speaker.get(seg.speaker, voice)

    def model_of(seg: Segment):
        return _length_model(project, synth, seg.translation[lang], lang, voice_of(seg), counts)

    def clip_at(job: tuple[Segment, float]) -> tuple[np.ndarray, Path]:
        seg, speed = job
        return _line_clip(project, synth, seg.translation[lang], lang, voice_of(seg), speed, counts)

    workers = getattr(synth, "workers", 1)  # independent lines in parallel (tts/kokoro.py: 1.3x on 2 cores)
    with stages.stage(f"synthesize {lang} ({synth.name}, {'voices per speaker' if by_speaker else voice})") as st:
        models = parallel_map(model_of, active, workers)
        naturals = [m.seconds(1.0) for m in models]
        planned = plan(active, naturals, timing, duration)
        changed = _shorten_lines(active, naturals, planned, lang, translator, synth, timing)
        if changed:
            for i, m in zip(changed, parallel_map(model_of, [active[i] for i in changed], workers)):
                models[i], naturals[i] = m, m.seconds(1.0)
            planned = plan(active, naturals, timing, duration)
        first = [synthesis_speed(m.seconds, nat, nat / p.speed, timing)
                 for m, nat, p in zip(models, naturals, planned.placements)]
        made = parallel_map(clip_at, list(zip(active, first)), workers)
        for i, (m, sp, clip) in enumerate(zip(models, first, made)):  # each model corrected by its clip
            predicted, real = m.seconds(sp), len(clip[0]) / rate_hz
            if predicted > 0 and real > 0:
                models[i] = m.scaled(real / predicted)
                naturals[i] = models[i].seconds(1.0)
        planned = plan(active, naturals, timing, duration)

        def refit(i: int) -> tuple[tuple[np.ndarray, Path], float, float]:
            natural, target = naturals[i], naturals[i] / planned.placements[i].speed
            tried = {first[i]: made[i]}
            lengths = {first[i]: len(made[i][0]) / rate_hz}
            if natural <= 0 or target <= 0:
                return made[i], lengths[first[i]], first[i]
            if not clip_fits(lengths[first[i]], natural, target, timing):  # at most once more
                again = synthesis_speed(models[i].seconds, natural, target, timing)
                if again not in tried:
                    tried[again] = clip_at((active[i], again))
                    lengths[again] = len(tried[again][0]) / rate_hz
            pick = pick_clip(lengths, natural, target, timing)
            return tried[pick], lengths[pick], pick

        fitted = parallel_map(refit, list(range(len(active))), workers)
        clips = [f[0] for f in fitted]
        durations = [f[1] for f in fitted]
        params = [f[2] for f in fitted]
        st["status"] = "cached" if counts["computed"] == 0 else "computed"
        st["extra"] = dict(counts)
    targets = [min(p.start, p.desired_start) for p in planned.placements]
    rates = [round(nat / dur, 4) if dur > 0 else 1.0 for nat, dur in zip(naturals, durations)]
    report = place(active, durations, rates, timing, duration, targets=targets)
    _flag_overruns(active, report, lang, duration, timing)
    report.clips = [path.relative_to(project.root).as_posix() for _, path in clips]  # a folder that moves keeps working
    report.naturals = naturals
    report.synthesis_speeds = params
    lines = [MixedLine(p.start, samples, synth.sample_rate, seg.start, seg.end)
             for p, (samples, _), seg in zip(report.placements, clips, active)]
    return report, lines


def _flag_overruns(segments: list[Segment], report: TimingReport, lang: str, duration: float,
                   timing: TimingSettings) -> None:
    """Flag :data:`~dubpreview.integrity.flags.OVERRUN` on the lines of ``lang`` that end
    more than ``timing.max_overrun_s`` after their slot or more than ``timing.tolerance_s``
    past the scene's end (``duration``, seconds; the stem stops there), clearing the flag
    where a new fit no longer overruns."""
    from dubpreview.integrity import flags

    for seg, p in zip(segments, report.placements):
        seg.flags = [f for f in seg.flags if (f.reason, f.language) != (flags.OVERRUN, lang)]
        past_end = p.start + p.duration - duration
        if past_end > timing.tolerance_s:
            flags.add(seg, flags.OVERRUN, f"runs {past_end:.1f} s past the end of the scene: cut there", lang)
        elif p.overflow > timing.max_overrun_s:
            flags.add(seg, flags.OVERRUN, f"ends {p.overflow:.1f} s after its slot at {p.speed:.2f}x", lang)


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


def render(src: Path, info, project: Project, settings: DubSettings, stages: _Stages, out: Path,
           segments: list[Segment], language: str,
           prefetch=None) -> tuple[dict[str, Path], dict[str, dict]]:
    """Synthesize, fit, mix, write stems and subtitles, remux. Returns (outputs, timing per language).

    ``prefetch``: a :class:`~dubpreview.separate.prefetch.SeparationPrefetch` already making
    the stems (its result is used; the stage then times the wait for it), or None."""
    from dubpreview.media.remux import AudioTrack, SubtitleTrack, write_preview
    from dubpreview.media.wav import write_wav
    from dubpreview.mix.programme import MixSource, duck_depths, normalise_stream
    from dubpreview.separate.cache import scene_audio_file, separate_scene_file
    from dubpreview.subtitles import cues_from_segments, write_srt, write_vtt

    root = project.root
    outputs: dict[str, Path] = {}
    timing: dict[str, dict] = {}
    audio_tracks, subtitle_tracks = [], []
    if prefetch is not None:
        with stages.stage(f"separate dialogue ({settings.separation})") as st:
            scene_wav, sep = prefetch.result()
            st["status"] = "cached" if sep.cached else "computed"
            st["extra"] = {"method": sep.method, "background_s": round(prefetch.seconds, 2)}
    else:
        with stages.stage("load original audio"):
            scene_wav = scene_audio_file(project, src, info, MIX_RATE, project.stream_index)
        with stages.stage(f"separate dialogue ({settings.separation})") as st:
            sep = separate_scene_file(project, scene_wav, MIX_RATE, settings.separation)  # 1 torch thread: see separate/spleeter.py
            st["status"] = "cached" if sep.cached else "computed"
            st["extra"] = {"method": sep.method}
    for note in sep.notes:
        stages.note(note)
    project.state["separation"] = {"method": sep.method, "notes": sep.notes}
    # from here on the scene is read from files a block at a time: no whole-scene arrays
    original, bed = sep.original(), sep.bed_reader()
    if sep.separated:  # the music-and-effects stem, as separated (before bed level and ducking)
        outputs["me_stem"] = _export_wav(bed, root / "me.wav")
    reference = _Dialogue(original, bed if sep.separated else None)
    frames = original.frames
    duration = frames / MIX_RATE
    mix_settings = replace(settings.mix, target_lufs=settings.target_lufs, bed_db=settings.bed_db)
    for i, lang in enumerate(settings.targets if segments else []):
        report, lines = synthesize_and_fit(project, segments, lang, duration, settings, stages,
                                           translator=_nbest_translator(settings, language, lang))
        timing[lang] = report.to_dict()
        with stages.stage(f"mix {lang}"):
            stem = DubStem(lines, reference, frames, mix_settings)  # each line matched on the dialogue stem
            del lines
            last = project.state.get("loudness", {}).get(lang, {})
            same = (last.get("target_lufs") == mix_settings.target_lufs and last.get("bed_db") == mix_settings.bed_db
                    and last.get("separation") == sep.method)
            spans = [(p.start, p.end) for p in report.placements]
            source = MixSource(bed, stem, spans, duck_depths(spans, mix_settings, sep.separated, sep.bed_speech),
                               mix_settings.ramp_s, mix_settings.bed_db)
            mix_path = root / f"mix.{lang}.wav"
            loud = normalise_stream(source, lambda blocks: write_wav(mix_path, blocks, MIX_RATE, 2),
                                    mix_settings.target_lufs, mix_settings.true_peak_db,
                                    previous_gain_db=last.get("gain_db") if same else None)
            project.state.setdefault("loudness", {})[lang] = {
                "integrated_lufs": round(loud.lufs, 2), "true_peak_dbtp": round(loud.true_peak_db, 2),
                "gain_db": loud.gain_db, "limited": loud.limited, "target_lufs": mix_settings.target_lufs,
                "bed_db": mix_settings.bed_db, "separation": sep.method}
            # the dub stem as heard in the programme
            outputs[f"dub_stem_{lang}"] = _export_wav(stem, root / f"dub.{lang}.wav", 10 ** (loud.gain_db / 20))
            outputs[f"mix_{lang}"] = mix_path
        audio_tracks.append(AudioTrack(outputs[f"mix_{lang}"], lang, f"Dub ({languages.name(lang)})", i == 0,
                                       encode_cache=str(root / "cache" / "aac" / f"mix.{lang}")))
        for ext, writer in (("srt", write_srt), ("vtt", write_vtt)):
            outputs[f"subtitles_{lang}_{ext}"] = root / f"subtitles.{lang}.{ext}"
            writer(cues_from_segments(segments, lang), outputs[f"subtitles_{lang}_{ext}"])
        subtitle_tracks.append(SubtitleTrack(outputs[f"subtitles_{lang}_srt"], lang, languages.name(lang)))
    original.close()
    bed.close()
    project.state["segments"] = [s.to_dict() for s in segments]  # with any length-aware choices
    if segments:
        for ext, writer in (("srt", write_srt), ("vtt", write_vtt)):
            outputs[f"subtitles_{language}_source_{ext}"] = root / f"subtitles.source-{language}.{ext}"
            writer(cues_from_segments(segments), outputs[f"subtitles_{language}_source_{ext}"])
        subtitle_tracks.append(SubtitleTrack(outputs[f"subtitles_{language}_source_srt"], language,
                                             f"{languages.name(language)} (original)"))
        atomic_write_json(root / "timing.json", {"languages": timing})
        outputs["timing"] = root / "timing.json"
    audio_tracks.append(AudioTrack(None, language, f"Original ({languages.name(language)})", not audio_tracks,
                                   stream_index=project.stream_index))
    with stages.stage("remux preview") as st:
        remux_report: dict = {}
        write_preview(src, info, out, audio_tracks, subtitle_tracks, report=remux_report)
        st["extra"] = {"dub_encoding": {audio_tracks[k].language: how
                                        for k, how in remux_report.get("encoded", {}).items()}}
    outputs["preview"] = out
    project.state["timing"] = {k: v["totals"] for k, v in timing.items()}
    return outputs, timing


def settings_from_state(state: dict) -> DubSettings:
    """The :class:`DubSettings` stored in a ``project.json`` state (see :meth:`DubSettings.public`)."""
    d = dict(state["settings"])
    timing = TimingSettings(**d.pop("timing", {}))
    mix_settings = MixSettings(**d.pop("mix", {}))
    return DubSettings(**d, timing=timing, mix=mix_settings)


def rerender(project_dir: str | os.PathLike, reporter: Reporter | None = None) -> DubResult:
    """Render the project again after edits to its ``project.json``.

    Reuses every cached artifact: a timing edit only remixes and remuxes; a translation
    edit re-synthesizes that line. Raises DubError when the folder is not a finished
    project or its source file has moved.
    """
    from dubpreview.project.schema import load_state

    root = Path(project_dir)
    state = load_state(root)
    source, preview = state["source"]["path"], state.get("outputs", {}).get("preview")
    if not preview or not state.get("settings"):
        raise DubError(f"{root} is not a finished dubpreview project; run `dubpreview dub` first")
    return dub(source, settings_from_state(state), output=preview, project_dir=root, reporter=reporter)


def edit_segment(project_dir: str | os.PathLike, segment_id: int, language: str | None = None,
                 translation: str | None = None, offset_ms: float | None = None,
                 speed: float | None = None, voice: str | None = None, muted: bool | None = None) -> Segment:
    """Change one line in ``project.json`` (atomically): its ``translation`` in ``language``,
    its ``offset_ms`` (milliseconds), forced ``speed`` (0 clears it), ``voice`` or ``muted``.

    Returns the edited segment. Raises DubError for an unknown project, line or language.
    """
    from dubpreview.project.schema import check_state, load_state

    root = Path(project_dir)
    state = load_state(root)
    if not state.get("settings"):
        raise DubError(f"{root} has not been run yet; run `dubpreview dub` first")
    seg = next((s for s in state.get("segments", []) if s["id"] == segment_id), None)
    if seg is None:
        raise DubError(f"the project has no line {segment_id}")
    if translation is not None:
        if language not in state["settings"]["targets"]:
            raise DubError(f"the project does not dub into '{language}'")
        seg["translation"][language] = translation
        seg["edited"] = sorted(set(seg.get("edited", [])) | {language})
        seg["flags"] = [f for f in seg.get("flags", []) if f.get("language") != language]  # the user's words stand
    if offset_ms is not None:
        seg["offset_ms"] = float(offset_ms)
    if speed is not None:
        if speed and not 0.5 <= speed <= 2.0:
            raise DubError(f"speed {speed} is outside 0.5-2.0")
        seg["speed"] = float(speed) or None
    if voice is not None:
        seg["voice"] = voice or None
    if muted is not None:
        seg["muted"] = bool(muted)
    check_state(state, str(root / "project.json"))  # an edit never writes a state the next load refuses
    atomic_write_json(root / "project.json", state)
    return Segment.from_dict(seg)
