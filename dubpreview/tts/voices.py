"""Voice presets from the top-level ``voices/`` folder (data, with its licence).

``voices/presets.json`` maps each dub language to its default Kokoro voice.
``$DUBPREVIEW_VOICES`` points elsewhere (e.g. a studio's own preset folder).
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path

from dubpreview.errors import DubError


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


def default_voice(language: str) -> str:
    """The preset voice for ``language`` (ISO 639-1).

    Raises:
        DubError: no preset for that language.
    """
    table = _presets(str(voices_dir())).get("default_voice", {})
    if language not in table:
        raise DubError(f"no default voice for '{language}'; dub languages: {', '.join(sorted(table))}")
    return table[language]
