"""Text to Kokoro phonemes through espeak-ng (no system package needed).

espeak-ng's library and data come from the ``espeakng-loader`` wheel; ``phonemizer``
drives it and ``misaki.espeak`` (Kokoro's own G2P package, Apache-2.0) maps espeak's
IPA onto Kokoro's phoneme inventory. This is Kokoro's documented recipe for its
non-English languages; for English it is misaki's espeak fallback applied to whole
sentences (misaki's dictionary G2P needs spaCy, which the default install leaves out).
"""

from __future__ import annotations

import re
import threading
import types
from functools import lru_cache

from dubpreview.errors import DubError

ESPEAK_VOICE = {"en": "en-us", "pt": "pt-br", "es": "es", "fr": "fr-fr", "it": "it", "hi": "hi"}
"""ISO 639-1 -> espeak-ng voice, as in Kokoro's ``KPipeline`` language table."""

_lock = threading.Lock()


@lru_cache(maxsize=None)
def _g2p(language: str):
    try:
        from misaki import espeak  # sets espeak-ng's library and data paths on import
    except ImportError as exc:  # pragma: no cover - install problem
        raise DubError(f"phonemization needs the 'misaki' and 'espeakng-loader' packages ({exc}); "
                       "reinstall dubpreview") from None
    if language == "en":
        return espeak.EspeakFallback(british=False)
    return espeak.EspeakG2P(ESPEAK_VOICE[language])


_MARKUP = re.compile(r"</?[A-Za-z][^<>]*>|\{\\[^{}]*\}")
_UNSPOKEN = {"So", "Sk", "Cf", "Cc", "Co", "Cs", "Cn"}


def speakable(text: str) -> str:
    """``text`` without what a voice should not read out: markup tags (``<i>``, ``</b>``,
    ASS overrides ``{\\an8}``), emoji and other pictographs, their modifiers (Unicode
    categories So and Sk), and invisible format and control characters (Cf, Cc: zero-width
    spaces, bidirectional overrides). Letters of any script, digits and punctuation stay;
    espeak-ng would otherwise read an emoji's name aloud ("rosto sorridente")."""
    import unicodedata

    text = _MARKUP.sub(" ", text)
    return "".join(" " if c in "\t\n\r" else c for c in text
                   if c in "\t\n\r" or unicodedata.category(c) not in _UNSPOKEN)


@lru_cache(maxsize=8192)
def phonemize(text: str, language: str) -> str:
    """Kokoro phoneme string for ``text`` in ``language`` (ISO 639-1).

    Raises:
        DubError: the language has no espeak-ng voice here.
    """
    if language not in ESPEAK_VOICE:
        raise DubError(f"no phonemizer for language '{language}'; the dub can speak "
                       f"{', '.join(sorted(ESPEAK_VOICE))}")
    text = re.sub(r"\s+", " ", speakable(text)).strip()
    if not text:
        return ""
    g2p = _g2p(language)
    with _lock:  # the espeak-ng library is not thread-safe
        if language == "en":
            ps, _ = g2p(types.SimpleNamespace(text=text))
        else:
            ps, _ = g2p(text)
    return (ps or "").strip()
