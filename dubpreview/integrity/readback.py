"""Character error rate of a dub read back by ASR, comparable across scripts.

Used by ``bench/voices.py``, ``bench/voices_match.py`` and the tests (needs the ``test``
extra: jiwer, anyascii). Text is lower-cased, punctuation removed and spaces collapsed
(jiwer). Hindustani needs one more step: Whisper base writes Hindi speech in the Urdu
(Perso-Arabic) script about as often as in Devanagari, with the same words, and detects
it as ``ur``. For ``hi`` both texts are transliterated to ASCII (anyascii, ISC) and reduced
to their consonant skeleton (vowels, ``y``/``w``/``v``/``h`` and marks dropped: the Urdu
script leaves short vowels unwritten and spells long ones with those letters), so that
the score counts misheard words, not the script.
"""

from __future__ import annotations

import re

SAME_LANGUAGE = {"hi": {"hi", "ur"}}
"""Languages Whisper may name for speech of the key language (Hindustani: Hindi or Urdu)."""
_SKELETON_DROP = re.compile(r"[aeiouyvwh'`^~]")


def normalise(text: str, language: str) -> str:
    """``text`` as it is compared (see the module docstring)."""
    import jiwer

    norm = jiwer.Compose([jiwer.ToLowerCase(), jiwer.RemovePunctuation(), jiwer.RemoveMultipleSpaces(), jiwer.Strip()])
    out = norm(text)
    if language == "hi":
        from anyascii import anyascii

        out = " ".join(w for w in (_SKELETON_DROP.sub("", x) for x in anyascii(out).lower().split()) if w)
    return out


def cer(references: list[str], hypotheses: list[str], language: str) -> float:
    """Character error rate (0-1, jiwer) of ``hypotheses`` against ``references``."""
    import jiwer

    return jiwer.cer([normalise(t, language) or "-" for t in references],
                     [normalise(h, language) or "-" for h in hypotheses])


def heard_as(detected: str, language: str) -> bool:
    """Whether Whisper's detected language ``detected`` is ``language`` (:data:`SAME_LANGUAGE`)."""
    return detected in SAME_LANGUAGE.get(language, {language})
