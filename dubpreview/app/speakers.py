"""The studio's speaker and mix panels, without any web framework.

Speakers: each speaker the diarization found (:mod:`dubpreview.voices.scene`) with what was
measured from the audio (lines, seconds, gender and its source, median F0 in Hz, the
library match) and the voice each dub language gives it. A user can pick a bundled Kokoro
voice for a speaker, go back to the matched voice, override the gender, load a saved
profile from their own voice library (or refuse the library's match), rename the speaker,
and save the scene's speakers to their library for the next scene.

Mix: the separation method, the programme's target loudness (LUFS) and the bed level (dB)
of an existing project, applied by the next render.

Every problem a user can cause raises :class:`~dubpreview.errors.DubError` with one line.
"""

from __future__ import annotations

from pathlib import Path

from dubpreview.errors import DubError
from dubpreview.project import edits

from .state import project_state as _state

SPEAKER_COLUMNS = ["speaker", "name", "lines", "seconds", "gender", "F0 (Hz)", "voice", "similarity", "library"]
"""The speaker table's columns (read-only; edits go through :func:`edit_speaker`)."""
MATCHED = "matched (from the actor's voice)"
"""The voice choice that returns a speaker to its matched voice."""
GENDER_AUTO = "from the audio"
PROFILE_AUTO = "automatic (library match)"
PROFILE_NONE = "none (measure this scene)"


def voice_label(info: dict, lang: str) -> str:
    """How a speaker's voice in ``lang`` is shown: the picked voice, the matched blend
    (``kokoro voice weight + ...``), the default voice of the speaker's gender, or ``preset``
    when none applies."""
    if info.get("voice"):
        return f"{info['voice']} (picked)"
    choice = (info.get("voices") or {}).get(lang)
    if not choice:
        if info.get("gender") in ("female", "male"):
            from dubpreview.errors import DubError
            from dubpreview.tts.voices import default_voice

            try:
                return f"{default_voice(lang, info['gender'])} ({info['gender']} default)"
            except DubError:
                pass
        return "preset"
    blend = " + ".join(f"{v} {w:.2f}" for v, w in sorted(choice["weights"].items(), key=lambda kv: -kv[1]))
    return f"{choice['voice_id']} = {blend}"


def speaker_rows(folder: Path, language: str | None = None) -> list[list]:
    """The speaker table (columns :data:`SPEAKER_COLUMNS`) for ``language`` (default: the
    first target); empty when the project has no diarization."""
    state = _state(folder)
    lang = language or state["settings"]["targets"][0]
    rows = []
    for spk, info in (state.get("speakers") or {}).items():
        gender = info.get("gender") or "?"
        if info.get("gender_override"):
            gender = f"{info['gender_override']} (set)"
        elif info.get("gender"):
            gender += " (audio)"
        choice = (info.get("voices") or {}).get(lang) or {}
        lib = info.get("library_match") or {}
        library = "—"
        if info.get("profile_override") == "none":
            library = "not used"
        elif lib.get("profile"):
            library = f"{lib['profile']} ({lib.get('similarity', 0):.2f})"
        rows.append([spk, info.get("label", spk), info.get("lines", 0), info.get("seconds", 0.0), gender,
                     info.get("f0_hz", ""), voice_label(info, lang),
                     "" if info.get("voice") or not choice else choice.get("similarity", ""), library])
    return rows


def speaker_choices(folder: Path) -> list[str]:
    """The speakers of the project, for the speaker picker."""
    return list((_state(folder).get("speakers") or {}))


def library_choices(library: Path | None) -> list[tuple[str, str]]:
    """(label, value) choices of the profile picker: automatic, none, then each saved
    profile in ``library`` as ``label · id``."""
    from dubpreview.voices import library as lib

    out = [(PROFILE_AUTO, ""), (PROFILE_NONE, "none")]
    out += [(f"{p.label} · {p.id}", p.id) for p in lib.load_all(library)]
    return out


def edit_speaker(folder: Path, speaker: str, label: str | None, voice: str | None, gender: str | None,
                 profile: str | None) -> dict:
    """Apply the speaker panel to one speaker (see :func:`dubpreview.project.edits.edit_speaker`):
    ``voice`` a Kokoro voice or :data:`MATCHED`; ``gender`` ``male``/``female`` or
    :data:`GENDER_AUTO`; ``profile`` a saved profile id, ``"none"`` or ``""`` (automatic);
    ``label`` the character's name. None leaves a field as it is. Returns the speaker entry."""
    if not speaker:
        raise DubError("pick a speaker first")
    voice = None if voice is None else ("" if voice in (MATCHED, "") else voice)
    gender = None if gender is None else ("" if gender in (GENDER_AUTO, "") else gender)
    label = None if label is None or not str(label).strip() else str(label).strip()
    state = edits.edit_speaker(folder, speaker, label=label, voice=voice, gender=gender, profile=profile)
    return state["speakers"][speaker]


def mix_form(separation: str | None, target_lufs, bed_db, accepted_speed=None, max_speed=None) -> dict:
    """The mix-and-timing form's values as settings changes (flat names of
    :data:`dubpreview.settings.FLAT`): an empty separation is ``auto``; an empty speed leaves the
    project's speed as it is. Raises DubError (one line) for values that are not numbers."""
    try:
        values = {"target_lufs": float(target_lufs), "bed_db": float(bed_db)}
        for name, value in (("accepted_speed", accepted_speed), ("max_speed", max_speed)):
            if value not in (None, ""):
                values[name] = float(value)
    except (TypeError, ValueError):
        raise DubError("target loudness, bed level and speeds must be numbers (LUFS, dB, x)") from None
    return {"separation": separation or "auto", **values}


def set_mix(folder: Path, separation: str, target_lufs: float, bed_db: float,
            accepted_speed: float | None = None, max_speed: float | None = None) -> dict:
    """Store the mix and timing options of a project (checked by
    :func:`dubpreview.project.edits.edit_settings` against the ranges of
    :class:`~dubpreview.settings.MixSettings` and :class:`~dubpreview.settings.TimingSettings`);
    the next render applies them. Returns the new settings."""
    form = mix_form(separation, target_lufs, bed_db, accepted_speed, max_speed)
    return edits.edit_settings(folder, **form)["settings"]


def mix_of(folder: Path) -> tuple[str, float, float, float, float]:
    """The project's (separation, target LUFS, bed dB, accepted speed, maximum speed)."""
    s = _state(folder)["settings"]
    return (s["separation"]["method"], float(s["mix"]["target_lufs"]), float(s["mix"]["bed_db"]),
            float(s["timing"]["accepted_speed"]), float(s["timing"]["max_speed"]))
