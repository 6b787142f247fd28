"""Analysis of a scene: what is said, when, by whom, and its translation (each step cached).

:func:`analyze` extracts the 16 kHz dialogue audio, transcribes it (Whisper), runs the
transcript's integrity guards (:mod:`dubpreview.integrity`), finds the speakers and their
voices (:mod:`dubpreview.voices.scene`) and translates every line into every dub language
(directly or through English), with the translation guard on each hop. The user's edits
already in ``project.json`` (a translation, an offset, a voice) are laid over the new lines
and the result is written to the project: a render reads it from there.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from dubpreview import languages
from dubpreview.errors import DubError
from dubpreview.pipeline.stages import Stages
from dubpreview.project.store import Project, cache_key, file_sha256
from dubpreview.records import Segment
from dubpreview.settings import DubSettings


@dataclass
class Analysis:
    """What :func:`analyze` found: the lines (with the user's edits), the source language
    (ISO 639-1) and the 16 kHz mono float32 audio it was found in."""

    segments: list[Segment]
    language: str
    audio16: np.ndarray


def transcriber_for(settings: DubSettings):
    """The run's transcriber (one per backend and thread count per process)."""
    from dubpreview.asr.select import get_transcriber

    threads = {"faster-whisper": "cpu_threads", "openai-whisper": "threads"}.get(settings.asr, "threads")
    opts = {threads: settings.threads, "guards": settings.guards, "fallback": settings.fallback}
    if settings.beam_size is not None:
        opts["beam_size"] = settings.beam_size
    return get_transcriber(settings.asr, **opts)


def translator_for(settings: DubSettings, source: str, target: str, transcriber):
    """The direct translator of the pair (:func:`~dubpreview.translate.select.select_translator`)."""
    from dubpreview.translate.select import select_translator

    return select_translator(source, target, backend=settings.translator,
                             translation_file=settings.translation_file,
                             transcriber=transcriber, hf_model=settings.hf_model)


def route(settings: DubSettings, source: str, target: str, transcriber, check_only: bool = False):
    """The pair's hops, direct or through English (:func:`~dubpreview.translate.select.select_route`)."""
    from dubpreview.translate.select import select_route

    if check_only and settings.translation_file is None and transcriber is None:
        # whisper-translate needs a transcriber only to run, not to be chosen
        transcriber = transcriber_for(settings)
    return select_route(source, target, backend=settings.translator,
                        translation_file=settings.translation_file,
                        transcriber=transcriber, hf_model=settings.hf_model)


def analyze(run, settings: DubSettings, before_speakers: Callable[[], None] | None = None) -> Analysis:
    """Extract audio, transcribe and translate (each cached); store the lines in the
    project (``run``: a :class:`~dubpreview.pipeline.run.SceneRun`).

    ``before_speakers`` is called after the transcript's guard and before the speaker stage
    (:class:`~dubpreview.separate.prefetch.SeparationPrefetch.wait`: torch work in another
    thread ends before diarization's). Raises DubError for a pair nothing can translate.
    """
    from dubpreview.media.extract import load_audio

    src, info, project, stages = run.source, run.info, run.project, run.stages
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
            hops = route(settings, language, target, transcriber)
        except DubError as exc:
            if settings.source_language is not None:
                raise
            raise DubError(f"the scene sounds like {languages.name(language)} (language identification, "
                           f"p {cached['language_probability']:.2f}) and {exc}; if the scene is in another "
                           "language, choose it as the source language (--from, or Source language in the app)") from None
        from dubpreview.translate.select import describe_route

        routes[target] = describe_route(hops)
        if len(hops) > 1:
            warnings.append(f"no installed translator does {language}->{target}; translated through "
                            f"English: {routes[target]}")
        hop_segments = [Segment.from_dict(s.to_dict()) for s in segments]  # the guard flags copies
        for hop_source, hop_target, translator in hops:
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
    return Analysis(segments, language, audio16)


def _guard_transcript(project: Project, transcriber, audio16: np.ndarray, cached: dict, asr_key: str,
                      settings: DubSettings, stages: Stages) -> dict:
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
                       stages: Stages) -> list[str]:
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
