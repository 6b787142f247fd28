"""Speakers and voices of one scene, as pipeline stages (cached in the project).

- :func:`speakers_stage` (in ``analyze``, after ASR): diarize the scene (cached by the
  source and the speaker count), give each segment its speaker, split segments that span a
  speaker change, then, when voice matching is on, build each speaker's voice profile per
  dub language (cached by the speaker's spans, the language and the options) or reuse a
  saved one from the library; the result goes to ``project.json`` ``speakers``.
- :func:`line_voice` (in synthesis and in the studio): the voice of each line, by one rule;
  :func:`speaker_synth`: the synthesizer that speaks the matched voices.

User overrides in ``project.json`` ``speakers.<id>``: ``voice`` (a Kokoro voice name for
all that speaker's lines), ``gender_override`` (``"male"``/``"female"``: the voice is
chosen again for it), ``profile_override`` (a saved profile id to use, or ``"none"`` to
refuse the library's match), ``label``. The measured values sit beside them (``gender``,
``f0_hz``, ``profile``, ``library_match``, ``voices``).
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

from dubpreview.errors import DubError
from dubpreview.records import Segment

DIARIZE_VERSION = 1
PROFILE_VERSION = 2
MIN_PROFILE_S = 1.0
"""A speaker with less speech than this (seconds) keeps the default voice."""
MAX_PROFILE_S = 60.0
"""At most this much of a speaker's speech is analysed for the profile (seconds)."""


def _speaker_audio(audio16: np.ndarray, segments: list[Segment], speaker: str) -> np.ndarray:
    parts, total = [], 0
    for s in segments:
        if s.speaker != speaker:
            continue
        a, b = int(s.start * 16000), int(s.end * 16000)
        parts.append(audio16[a:b])
        total += b - a
        if total >= MAX_PROFILE_S * 16000:
            break
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


GENDER_MIN_S = 0.5
"""Speech (seconds) a speaker needs for its pitch, hence its gender, to be read."""
GENDER_MAX_S = 20.0
"""At most this much of a speaker's speech is pitch-tracked for its gender (seconds)."""


def _speaker_genders(audio: Callable[[], np.ndarray], segments: list[Segment], speakers: dict,
                     all_speakers: bool = True) -> None:
    """Each speaker's median F0 (``f0_hz``) and ``gender`` read from it
    (:func:`~dubpreview.voices.profile.gender_from_f0`), so that even without voice matching
    a speaker gets the default voice of its gender; the user's ``gender_override`` wins.
    ``audio()`` gives the scene's 16 kHz mono audio; with ``all_speakers`` False only the
    speakers whose override was just taken back are measured again."""
    from dubpreview.voices.profile import gender_from_f0
    from dubpreview.voices.world import f0_stats

    for spk, info in speakers.items():
        if all_speakers or (not info.get("gender_override") and info.get("gender_source") == "user"):
            voice = _speaker_audio(audio(), segments, spk)[: int(GENDER_MAX_S * 16000)]
            if voice.size >= GENDER_MIN_S * 16000:
                f0 = f0_stats(voice, 16000)
                if f0.voiced_s > 0.2:
                    info["f0_hz"] = round(f0.median_hz, 1)
                    info["gender"] = gender_from_f0(f0)
                    info["gender_source"] = "audio"
        if info.get("gender_override"):
            info["gender"], info["gender_source"] = info["gender_override"], "user"


def _speakers_key(speakers: dict, settings) -> str:
    """What the speakers' voices were chosen from: each speaker's overrides and the voice
    settings. :func:`refresh_voices` chooses again when it changed."""
    from dubpreview.project.store import cache_key

    return cache_key(targets=settings.targets, voices=settings.voices.model_dump(),
                     speakers={s: [i.get("voice"), i.get("gender_override"), i.get("profile_override")]
                               for s, i in sorted(speakers.items())})


def _diarize_key(project, settings) -> str:
    from dubpreview.project.store import cache_key

    return cache_key(source=project.audio_id, n=settings.voices.speakers, v=DIARIZE_VERSION,
                     model="resemblyzer-0.1.4-ge2e")


def refresh_voices(project, settings, stages, audio: Callable[[], np.ndarray]) -> None:
    """Choose the speakers' voices again where the user changed a speaker (a gender set or
    taken back, a saved profile chosen or refused, a picked voice taken back) since they
    were chosen: the render's step, from the cached diarization, profiles and choices;
    ``audio()`` (the scene's 16 kHz audio) is only decoded when a voice must be measured
    again. Nothing happens when no speaker changed."""
    from dubpreview.diarize import Diarization

    speakers = project.state.get("speakers") or {}
    if not speakers or not settings.voices.diarize or project.state.get("speakers_key") == _speakers_key(speakers, settings):
        return
    cached = project.get_json("diarize", _diarize_key(project, settings))
    if cached is None:
        raise DubError("the project's speaker analysis is missing from its cache; run `dubpreview dub` again")
    segments = [Segment.from_dict(d) for d in project.state.get("segments", [])]
    _speaker_genders(audio, segments, speakers, all_speakers=False)
    if settings.voices.match:
        match_voices(project, audio, segments, Diarization.from_dict(cached), settings, stages)
    project.state["speakers_key"] = _speakers_key(speakers, settings)


def speakers_stage(project, audio16: np.ndarray, segments: list[Segment], settings, stages) -> list[Segment]:
    """Diarize, assign and split segments, and (if ``settings.voices.match``) profile the
    speakers; returns the new segments and fills ``project.state["speakers"]``."""
    from dubpreview.diarize import Diarization, assign_speakers, diarize

    if not settings.voices.diarize or not segments:
        return segments
    key = _diarize_key(project, settings)
    with stages.stage("diarize (resemblyzer)") as st:
        cached = project.get_json("diarize", key)
        if cached is None:
            diar = diarize(audio16, n_speakers=settings.voices.speakers, threads=settings.threads)
            project.put_json("diarize", key, diar.to_dict())
        else:
            diar = Diarization.from_dict(cached)
            st["status"] = "cached"
        segments = assign_speakers(segments, diar)
        st["extra"] = {"speakers": len(diar.speakers), "segments": len(segments)}
    old = project.state.get("speakers", {})
    speakers = {}
    for spk in diar.speakers:
        prev = old.get(spk, {})
        speakers[spk] = {**prev, "label": prev.get("label", spk),
                         "seconds": round(sum(s.duration for s in segments if s.speaker == spk), 2),
                         "lines": sum(1 for s in segments if s.speaker == spk)}
    project.state["speakers"] = speakers
    _speaker_genders(lambda: audio16, segments, speakers)
    if settings.voices.match:
        match_voices(project, lambda: audio16, segments, diar, settings, stages)
    project.state["speakers_key"] = _speakers_key(speakers, settings)
    return segments


def match_voices(project, audio: Callable[[], np.ndarray], segments: list[Segment], diar, settings,
                 stages) -> None:
    """Build or reuse a voice profile per speaker and dub language (see the module docstring);
    ``audio()`` gives the scene's 16 kHz mono audio (called only to measure a new profile)."""
    from dubpreview.project.store import cache_key
    from dubpreview.voices import library
    from dubpreview.voices.profile import VoiceProfile, choose_voice, measure

    from dubpreview.models import npm

    refine = settings.voices.refine
    all_voices = npm.installed("kokoro-voices-54") is not None  # which bank the choice comes from
    saved = library.load_all(settings.voices.library)
    state = project.state["speakers"]
    eligible = [s for s in diar.speakers if state[s]["seconds"] >= MIN_PROFILE_S and not state[s].get("voice")]
    found = library.match_unique({s: diar.centroids[s] for s in eligible}, saved)
    sha = project.audio_id
    taken: dict[str, list] = {lang: [] for lang in settings.targets}  # VoiceChoices given so far
    eligible.sort(key=lambda s: -state[s]["seconds"])  # the main characters choose first
    for spk in eligible:
        info = state[spk]
        chosen_id = info.get("profile_override")
        prof, sim = found.get(spk, (None, 0.0))
        if chosen_id == "none":
            prof = None
        elif chosen_id:
            prof = next((p for p in saved if p.id == chosen_id), None)
            if prof is None:
                raise DubError(f"speaker {spk}: no saved voice profile '{chosen_id}' in {library.library_dir(settings.voices.library)}")
        info["library_match"] = {"profile": prof.id if prof else None, "similarity": round(sim, 4)}
        spans = [[round(s.start, 3), round(s.end, 3)] for s in segments if s.speaker == spk]
        gender = info.get("gender_override") or None
        with stages.stage(f"voice profile {spk}") as st:
            t0 = time.perf_counter()
            if prof is None:
                pkey = cache_key(source=sha, spans=spans, gender=gender, v=PROFILE_VERSION)
                hit = project.get_json("profiles", pkey)
                if hit is None:
                    prof = measure(_speaker_audio(audio(), segments, spk), label=info.get("label", spk),
                                   threads=settings.threads, gender=gender, embedding=diar.centroids[spk],
                                   source={"file": project.state["source"]["path"], "sha256": sha, "speaker": spk})
                else:
                    prof = VoiceProfile.from_dict(hit["profile"], np.asarray(hit["embedding"], np.float32))
            elif gender and (prof.gender != gender or prof.gender_source != "user"):
                prof.set_gender(gender)
            computed = False
            for lang in settings.targets:
                if lang in prof.voices:
                    taken[lang].append(prof.voices[lang])
                    continue
                ckey = cache_key(profile=prof.id, gender=prof.gender, src=prof.gender_source, lang=lang,
                                 refine=refine, v=PROFILE_VERSION, voices54=all_voices,
                                 taken=[c.voice_id for c in taken[lang]])
                hit = project.get_json("voices", ckey)
                if hit is not None:
                    from dubpreview.voices.profile import VoiceChoice
                    prof.voices[lang] = VoiceChoice.from_dict(hit)
                    taken[lang].append(prof.voices[lang])
                    continue
                try:
                    choice = choose_voice(prof, lang, refine=refine, threads=settings.threads, build_missing=False,
                                          exclude=[c.weights for c in taken[lang]], others=taken[lang])
                except DubError as exc:
                    stages.note(f"speaker {spk}: no matched voice in '{lang}' ({exc})")
                    continue
                taken[lang].append(choice)
                project.put_json("voices", ckey, choice.to_dict())
                computed = True
            if info["library_match"]["profile"] is None:
                project.put_json("profiles", cache_key(source=sha, spans=spans, gender=gender, v=PROFILE_VERSION),
                                 {"profile": prof.to_dict(), "embedding": prof.embedding.tolist()})
            if settings.voices.save:
                library.save(prof, settings.voices.library)
            st["status"] = "computed" if computed else "cached"
            st["extra"] = {"profile": prof.id, "profile_seconds": round(time.perf_counter() - t0, 2)}
        info.update(profile=prof.id, f0_hz=round(prof.f0.median_hz, 1), gender=prof.gender,
                    gender_source=prof.gender_source,
                    voices={lang: c.to_dict() for lang, c in prof.voices.items() if lang in settings.targets})


def speaker_voice_id(info: dict, lang: str, one_voice: str | None, voice_match: bool, diarize: bool) -> str | None:
    """The voice a speaker's lines use in ``lang`` (the one rule, for the render and the
    studio): None when the run has ``one_voice`` for every line; else the speaker's
    ``voice`` override; then its matched voice id (``match-...``, when matching and
    diarization are on); then the language's default voice of the speaker's ``gender``
    (read from its pitch or set by the user); None where there is none of these (the
    language's default voice)."""
    from dubpreview.errors import DubError
    from dubpreview.tts.voices import default_voice

    if one_voice:
        return None
    if info.get("voice"):
        return info["voice"]
    choice = (info.get("voices") or {}).get(lang)
    if voice_match and diarize and choice:
        return choice["voice_id"]
    if info.get("gender") in ("female", "male"):
        try:
            return default_voice(lang, info["gender"])
        except DubError:
            return None
    return None


def line_voice(seg_voice: str | None, speaker: dict | None, lang: str, voices) -> str:
    """The voice one line speaks ``lang`` with: the one rule of the render, the studio's
    table and its regenerate button. The line's own ``voice`` (``seg_voice``); else the
    run's one voice for every line (``voices.voice``, a
    :class:`~dubpreview.settings.VoiceSettings`); else its speaker's
    (:func:`speaker_voice_id`; ``speaker`` is the speaker's entry of ``project.json``);
    else the language's default voice."""
    from dubpreview.tts.voices import default_voice

    if seg_voice:
        return seg_voice
    if voices.voice:
        return voices.voice
    return speaker_voice_id(speaker or {}, lang, None, voices.match, voices.diarize) or default_voice(lang)


def speaker_synth(speakers: dict, lang: str, voices, synth):
    """``synth`` able to speak every matched voice (``match-...``) the ``speakers`` (the
    ``project.json`` entries) use in ``lang`` by :func:`speaker_voice_id`: ``synth`` itself
    when none is used, else a :class:`~dubpreview.voices.synth.MatchedSynthesizer` around it
    with their choices registered."""
    from dubpreview.voices.profile import VoiceChoice
    from dubpreview.voices.synth import MatchedSynthesizer

    wrapped = None
    for info in speakers.values():
        vid = speaker_voice_id(info, lang, voices.voice, voices.match, voices.diarize)
        if vid and vid.startswith("match-"):
            wrapped = wrapped or MatchedSynthesizer(synth)
            wrapped.register(VoiceChoice.from_dict(info["voices"][lang]))
    return wrapped or synth


def foreign_voice_notes(synth, by_speaker: dict[str, str], lang: str) -> list[str]:
    """One line per speaker whose voice in ``lang`` is a voice of another language (an
    accent the reviewer should know of: e.g. no Kokoro voice is a French man)."""
    from dubpreview.tts.catalogue import gender_of, info

    notes = []
    for spk, vid in sorted(by_speaker.items()):
        choice = getattr(synth, "choices", {}).get(vid)
        names = [n for n, w in (choice.weights.items() if choice else [(vid, 1.0)]) if w > 1e-4]
        foreign = [n for n in names if gender_of(n) and info(n).language != lang]
        if foreign:
            v = info(foreign[0])
            notes.append(f"speaker {spk} speaks {lang} with {', '.join(foreign)}, a {v.accent} {v.gender} voice: "
                         f"expect an accent")
    return notes
