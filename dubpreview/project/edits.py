"""The one writer of ``project.json``: every change to a project's state goes through here.

A run (:meth:`dubpreview.project.store.Project.save`), the studio, the command line and
the batch all write the file with :func:`write_state`, which validates the whole state
against the schema (:func:`dubpreview.project.schema.check_state`) before it replaces the
file atomically (temp name, fsync, rename): a state the next load would refuse is never
written, and a crash leaves the old file whole. The edit functions read the state, change
one thing, write it and return the new state:

- :func:`edit_line` — one line's translation, offset, forced speed, voice or mute;
- :func:`edit_speaker` — one speaker's name, voice, gender or saved profile;
- :func:`edit_settings` — the project's settings (flat names of
  :data:`dubpreview.settings.FLAT`: ``target_lufs``, ``max_speed`` ...).

None of them renders: :func:`dubpreview.pipeline.render_project` does that from the state.
Every problem a user can cause raises :class:`~dubpreview.errors.DubError` in one line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dubpreview.errors import DubError
from dubpreview.project.schema import SCHEMA_VERSION, check_state, load_state
from dubpreview.settings import LINE_OFFSET_MS, LINE_SPEED_RANGE, from_state, updated
from dubpreview.util.files import atomic_write_json


def write_state(root: str | Path, state: dict) -> dict:
    """Validate ``state`` and write it as ``<root>/project.json`` atomically; returns the
    state as written (settings in this schema's form, :data:`SCHEMA_VERSION`).

    Raises:
        DubError: the state fails the schema (one line naming the field; nothing is written).
        OSError: the disk is full or the folder unwritable (the old file is left whole).
    """
    state["schema_version"] = SCHEMA_VERSION
    state = check_state(state, str(Path(root) / "project.json"))
    atomic_write_json(Path(root) / "project.json", state)
    return state


def _run_state(root: Path) -> dict:
    state = load_state(root)
    if not state.get("settings"):
        raise DubError(f"{root} has not been run yet; run `dubpreview dub` first")
    return state


def check_voice(voice: str) -> None:
    """DubError unless ``voice`` is one of the Kokoro voices (:mod:`dubpreview.tts.catalogue`)."""
    from dubpreview.tts.kokoro import default_synthesizer

    voices = default_synthesizer().voices()
    if voice not in voices:
        raise DubError(f"unknown voice '{voice}'; voices: {', '.join(voices)}")


def edit_line(project_dir: str | Path, segment_id: int, language: str | None = None,
              translation: str | None = None, offset_ms: float | None = None, speed: float | None = None,
              voice: str | None = None, muted: bool | None = None) -> dict:
    """Change one line: its ``translation`` in ``language`` (default: the first dub
    language; the user's words clear the line's flags there and are never replaced by a
    later run), ``offset_ms`` (milliseconds, within ±:data:`~dubpreview.settings.LINE_OFFSET_MS`),
    a forced ``speed`` (within :data:`~dubpreview.settings.LINE_SPEED_RANGE`; 0 back to
    automatic), ``voice`` (a Kokoro voice; ``""`` back to the speaker's) or ``muted``.
    None leaves a field as it is. Returns the new state.

    Raises:
        DubError: unknown project, line, language or voice, or a value out of range.
    """
    root = Path(project_dir)
    state = _run_state(root)
    seg = next((s for s in state.get("segments", []) if s["id"] == int(segment_id)), None)
    if seg is None:
        raise DubError(f"the project has no line {segment_id}")
    targets = state["settings"]["targets"]
    if translation is not None:
        language = language or targets[0]
        if language not in targets:
            raise DubError(f"the project does not dub into '{language}'")
        seg["translation"][language] = translation
        seg["edited"] = sorted(set(seg.get("edited", [])) | {language})
        seg["flags"] = [f for f in seg.get("flags", []) if f.get("language") != language]  # the user's words stand
    if offset_ms is not None:
        if not -LINE_OFFSET_MS <= float(offset_ms) <= LINE_OFFSET_MS:
            raise DubError(f"line {segment_id}: offset {float(offset_ms):.0f} ms is outside ±{LINE_OFFSET_MS:.0f} ms")
        seg["offset_ms"] = float(offset_ms)
    if speed is not None:
        lo, hi = LINE_SPEED_RANGE
        if speed and not lo <= float(speed) <= hi:
            raise DubError(f"line {segment_id}: speed {speed} is outside {lo}-{hi} (empty = automatic)")
        seg["speed"] = float(speed) or None
    if voice is not None:
        if voice:
            check_voice(voice)
        seg["voice"] = voice or None
    if muted is not None:
        seg["muted"] = bool(muted)
    return write_state(root, state)


def edit_speaker(project_dir: str | Path, speaker: str, label: str | None = None, voice: str | None = None,
                 gender: str | None = None, profile: str | None = None) -> dict:
    """Change one speaker: its ``label`` (the character's name); ``voice`` (a Kokoro voice
    for all its lines, ``""`` back to the matched one); ``gender`` (``"male"``/``"female"``,
    ``""`` back to the audio's: the voice is chosen again for it); ``profile`` (a saved
    profile id from the voice library, ``"none"`` to refuse the library's match, ``""``
    automatic). None leaves a field as it is. The next render applies it. Returns the new state.

    Raises:
        DubError: unknown project, speaker, voice or gender.
    """
    root = Path(project_dir)
    state = _run_state(root)
    info = (state.get("speakers") or {}).get(speaker)
    if info is None:
        raise DubError(f"the project has no speaker '{speaker}'; speakers: {', '.join(state.get('speakers') or {}) or 'none'}")
    if label is not None:
        info["label"] = label or speaker
    if voice is not None:
        if voice:
            check_voice(voice)
        info["voice"] = voice or None
    if gender is not None:
        if gender not in ("", "male", "female"):
            raise DubError(f"gender must be 'male' or 'female', not '{gender}'")
        info["gender_override"] = gender or None
    if profile is not None:
        info["profile_override"] = profile or None
    return write_state(root, state)


def edit_settings(project_dir: str | Path, **changes: Any) -> dict:
    """Change the project's settings: ``changes`` by their flat names
    (:data:`dubpreview.settings.FLAT`, e.g. ``target_lufs=-16``, ``max_speed=1.25``,
    ``separation="none"``; None = unchanged), validated together with the rest. The
    next render applies them (a change of the dub languages or of what the analysis
    depends on needs a new run: refused here). Returns the new state.

    Raises:
        DubError: unknown project, unknown setting, or a value out of range (one line).
    """
    root = Path(project_dir)
    state = _run_state(root)
    analysis = {"to", "targets", "from", "source_language", "asr", "beam_size", "guards", "fallback",
                "translator", "translation", "translation_file", "hf_model", "audio_stream", "diarize", "speakers"}
    refused = sorted(k for k, v in changes.items() if v is not None and k in analysis)
    if refused:
        raise DubError(f"{refused[0]} changes what the scene's analysis found; run the scene again to change it")
    new = updated(from_state(state["settings"]), changes)
    state["settings"] = new.public()
    return write_state(root, state)
