"""Speakers and voices of one scene, as pipeline stages (cached in the project).

- :func:`speakers_stage` (in ``analyze``, after ASR): diarize the scene (cached by the
  source and the speaker count), give each segment its speaker, split segments that span a
  speaker change, then, when voice matching is on, build each speaker's voice profile per
  dub language (cached by the speaker's spans, the language and the options) or reuse a
  saved one from the library; the result goes to ``project.json`` ``speakers``.
- :func:`speaker_voices` (in synthesis): the synthesizer and the voice id of each speaker.

User overrides in ``project.json`` ``speakers.<id>``: ``voice`` (a Kokoro voice name for
all that speaker's lines), ``gender_override`` (``"male"``/``"female"``: the voice is
chosen again for it), ``profile_override`` (a saved profile id to use, or ``"none"`` to
refuse the library's match), ``label``. The measured values sit beside them (``gender``,
``f0_hz``, ``profile``, ``library_match``, ``voices``).
"""

from __future__ import annotations

import time

import numpy as np

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


def _speaker_genders(audio16: np.ndarray, segments: list[Segment], speakers: dict) -> None:
    """Each speaker's median F0 (``f0_hz``) and ``gender`` read from it
    (:func:`~dubpreview.voices.profile.gender_from_f0`), so that even without voice matching
    a speaker gets the default voice of its gender; the user's ``gender_override`` wins."""
    from dubpreview.voices.profile import gender_from_f0
    from dubpreview.voices.world import f0_stats

    for spk, info in speakers.items():
        audio = _speaker_audio(audio16, segments, spk)[: int(GENDER_MAX_S * 16000)]
        if audio.size >= GENDER_MIN_S * 16000:
            f0 = f0_stats(audio, 16000)
            if f0.voiced_s > 0.2:
                info["f0_hz"] = round(f0.median_hz, 1)
                info["gender"] = gender_from_f0(f0)
                info["gender_source"] = "audio"
        if info.get("gender_override"):
            info["gender"], info["gender_source"] = info["gender_override"], "user"


def speakers_stage(project, audio16: np.ndarray, segments: list[Segment], settings, stages) -> list[Segment]:
    """Diarize, assign and split segments, and (if ``settings.voice_match``) profile the
    speakers; returns the new segments and fills ``project.state["speakers"]``."""
    from dubpreview.diarize import Diarization, assign_speakers, diarize
    from dubpreview.project.store import cache_key

    if not getattr(settings, "diarize", True) or not segments:
        return segments
    sha = project.audio_id
    key = cache_key(source=sha, n=settings.speakers, v=DIARIZE_VERSION, model="resemblyzer-0.1.4-ge2e")
    with stages.stage("diarize (resemblyzer)") as st:
        cached = project.get_json("diarize", key)
        if cached is None:
            diar = diarize(audio16, n_speakers=settings.speakers, threads=settings.threads)
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
    _speaker_genders(audio16, segments, speakers)
    if getattr(settings, "voice_match", False):
        match_voices(project, audio16, segments, diar, settings, stages)
    return segments


def match_voices(project, audio16: np.ndarray, segments: list[Segment], diar, settings, stages) -> None:
    """Build or reuse a voice profile per speaker and dub language (see the module docstring)."""
    from dubpreview.errors import DubError
    from dubpreview.project.store import cache_key
    from dubpreview.voices import library
    from dubpreview.voices.profile import VoiceProfile, choose_voice, measure

    from dubpreview.models import npm

    refine = bool(getattr(settings, "voice_refine", False))
    all_voices = npm.installed("kokoro-voices-54") is not None  # which bank the choice comes from
    saved = library.load_all(getattr(settings, "voice_library", None))
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
                raise DubError(f"speaker {spk}: no saved voice profile '{chosen_id}' in {library.library_dir(settings.voice_library)}")
        info["library_match"] = {"profile": prof.id if prof else None, "similarity": round(sim, 4)}
        spans = [[round(s.start, 3), round(s.end, 3)] for s in segments if s.speaker == spk]
        gender = info.get("gender_override") or None
        with stages.stage(f"voice profile {spk}") as st:
            t0 = time.perf_counter()
            if prof is None:
                pkey = cache_key(source=sha, spans=spans, gender=gender, v=PROFILE_VERSION)
                hit = project.get_json("profiles", pkey)
                if hit is None:
                    prof = measure(_speaker_audio(audio16, segments, spk), label=info.get("label", spk),
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
            if getattr(settings, "save_voices", False):
                library.save(prof, getattr(settings, "voice_library", None))
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


def speaker_voices(project, lang: str, settings, synth):
    """The synthesizer for ``lang`` and the voice of each speaker: ``(synth, {speaker: voice})``
    by :func:`speaker_voice_id`. The synthesizer is ``synth`` itself when no matched voice
    is used, else a :class:`~dubpreview.voices.synth.MatchedSynthesizer` around it."""
    from dubpreview.voices.profile import VoiceChoice
    from dubpreview.voices.synth import MatchedSynthesizer

    out: dict[str, str] = {}
    wrapped = None
    for spk, info in (project.state.get("speakers") or {}).items():
        vid = speaker_voice_id(info, lang, getattr(settings, "voice", None), getattr(settings, "voice_match", False),
                               getattr(settings, "diarize", True))
        if vid is None:
            continue
        if vid.startswith("match-"):
            if wrapped is None:
                wrapped = MatchedSynthesizer(synth)
            vid = wrapped.register(VoiceChoice.from_dict(info["voices"][lang]))
        out[spk] = vid
    return (wrapped or synth), out


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


def edit_speaker(project_dir, speaker: str, label: str | None = None, voice: str | None = None,
                 gender: str | None = None, profile: str | None = None) -> dict:
    """Change one speaker in ``project.json`` (atomically), for the CLI or the app: its
    ``label``; ``voice`` (a Kokoro voice name for all its lines, ``""`` back to matched);
    ``gender`` (``"male"``/``"female"``, ``""`` back to the audio's); ``profile`` (a saved
    profile id from the library, ``"none"`` to refuse the library's match, ``""`` automatic).
    The next render applies it (``pipeline.rerender``). Returns the speaker's entry.

    Raises:
        DubError: unknown project, speaker, voice or gender.
    """
    import json
    from pathlib import Path

    from dubpreview.errors import DubError
    from dubpreview.util.files import atomic_write_json

    root = Path(project_dir)
    try:
        state = json.loads((root / "project.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise DubError(f"{root} is not a dubpreview project") from None
    info = (state.get("speakers") or {}).get(speaker)
    if info is None:
        raise DubError(f"the project has no speaker '{speaker}'; speakers: {', '.join(state.get('speakers') or {}) or 'none'}")
    if label is not None:
        info["label"] = label or speaker
    if voice is not None:
        if voice:
            from dubpreview.tts.kokoro import default_synthesizer

            default_synthesizer().style(voice, 1)  # DubError naming the voices if unknown
        info["voice"] = voice or None
    if gender is not None:
        if gender not in ("", "male", "female"):
            raise DubError(f"gender must be 'male' or 'female', not '{gender}'")
        info["gender_override"] = gender or None
    if profile is not None:
        info["profile_override"] = profile or None
    atomic_write_json(root / "project.json", state)
    return info
