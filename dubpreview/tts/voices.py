"""Voice presets from the top-level ``voices/`` folder (data, with its licence).

``voices/presets.json`` gives each dub language its default female and male Kokoro voice,
chosen by ``bench/voices.py`` (lowest read-back CER among the language's own voices; table
in ``bench/voices_results.md``), and a ``fallback`` pair from the five PyPI voices for a
machine where the 54 npm voices could not be fetched. ``$DUBPREVIEW_VOICES`` points
elsewhere (e.g. a studio's own preset folder).
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path

from dubpreview.errors import DubError

GENDERS = ("female", "male")


def voices_dir() -> Path:
    """The presets folder: ``$DUBPREVIEW_VOICES`` or ``voices/`` beside the package."""
    env = os.environ.get("DUBPREVIEW_VOICES")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "voices"


@lru_cache(maxsize=None)
def _presets(folder: str) -> dict:
    path = Path(folder) / "presets.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DubError(f"cannot read the voice presets {path} ({exc}); reinstall dubpreview "
                       "or set DUBPREVIEW_VOICES") from None


def _all_voices() -> bool:
    from dubpreview.models import npm

    return npm.installed("kokoro-voices-54") is not None


def default_voice(language: str, gender: str | None = None) -> str:
    """The preset voice for ``language`` (ISO 639-1) and ``gender`` (``"female"``/``"male"``;
    None: the language's first default, ``"default_gender"`` in the presets). The pair of the
    five PyPI voices where the 54 npm voices are not installed.

    Raises:
        DubError: no preset for that language, or another gender.
    """
    presets = _presets(str(voices_dir()))
    table = presets.get("default_voice" if _all_voices() else "fallback_voice", {})
    if language not in table:
        raise DubError(f"no default voice for '{language}'; dub languages: {', '.join(sorted(table))}")
    gender = gender or presets.get("default_gender", "female")
    if gender not in GENDERS:
        raise DubError(f"gender must be 'female' or 'male', not '{gender}'")
    return table[language][gender]


def defaults() -> dict[str, dict[str, str]]:
    """language -> gender -> preset voice (what :func:`default_voice` answers)."""
    presets = _presets(str(voices_dir()))
    return presets.get("default_voice" if _all_voices() else "fallback_voice", {})


def cross_language(language: str) -> list[str]:
    """Voices of other languages that may voice a character in ``language`` (their read-back
    CER there is close to the language's own voices', ``bench/voices.py``): presets
    ``cross_language``."""
    return list(_presets(str(voices_dir())).get("cross_language", {}).get(language, []))
