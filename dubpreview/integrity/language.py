"""Translations left untranslated (the dub would speak the source language), or that say
more than the source did.

The tiny Bergamot models copy what they cannot translate ("totalkaboutit." came back as
itself), and a pivot can leave English in a Portuguese line. With no language-ID model for
text on hand, the test is lexical and documented: a translation is *untranslated* when,
ignoring case and punctuation, it equals the source (two words or more, or one of
:data:`MIN_SAME_CHARS` letters), or when at least
:data:`MAX_COPIED_SHARE` of its content words (:data:`MIN_WORD_CHARS` letters or more, not
capitalised inside the sentence, so names are allowed through) are words of the source line,
or when its letters are the source's respelled (:func:`spelling_similarity` of at least
:data:`MAX_SPELLING_SIMILARITY`, for translations of :data:`MIN_SAME_CHARS` letters or more).
Related languages share words ("no", "a", "original"): the thresholds keep those below the
line.

The tiny Bergamot en->pt model also *adds* what was never said: "Thank you." comes back as
"Obrigado por enviar uma edição." ("thank you for sending an edit", a line of its web training
data). :func:`added_words` flags a translation with at least :data:`ADDED_RATIO` times the
source's words (and at least :data:`ADDED_MIN_WORDS`); between European languages a
translation runs 0.8-1.4 times the source's words.
"""

from __future__ import annotations

import re
import unicodedata

MAX_COPIED_SHARE = 0.6
"""Share of a translation's content words found in its source that marks it untranslated."""
MIN_WORD_CHARS = 4
"""Shorter words are not counted (function words shared between languages)."""
MIN_SAME_CHARS = 8
"""A one-word line copied as is counts only from this length ("Okay." and names pass)."""
MAX_SPELLING_SIMILARITY = 0.5
"""Letter 3-gram Dice similarity to the source from which a translation is the source respelled
(Whisper's speech translation transliterates Czech it cannot translate)."""
MIN_CONTENT_WORDS = 2
"""Fewer content words than this: only the equality test applies."""


ADDED_RATIO = 2.5
"""Words of the translation per word of the source from which it says more than the source."""
ADDED_MIN_WORDS = 4
"""Translations shorter than this many words are never judged by :func:`added_words`."""


def _words(text: str) -> list[str]:
    return re.findall(r"[^\W\d_][\w'’-]*", text)


def _norm(text: str) -> str:
    return " ".join(w.lower() for w in _words(text))


def _letters(text: str) -> str:
    """Lower-case letters of ``text`` with the diacritics taken off (NFKD), nothing else."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if c.isalpha() and not unicodedata.combining(c))


def spelling_similarity(source: str, translation: str) -> float:
    """Dice coefficient of the letter 3-grams of both texts (diacritics and spaces removed):
    near 1 when the translation is the source respelled ("Potopený vrák" -> "Potopenivrak")."""
    a, b = _letters(source), _letters(translation)
    ga = {a[i:i + 3] for i in range(len(a) - 2)}
    gb = {b[i:i + 3] for i in range(len(b) - 2)}
    return 2 * len(ga & gb) / (len(ga) + len(gb)) if ga and gb else 0.0


def copied_share(source: str, translation: str) -> tuple[float, int]:
    """(share of ``translation``'s content words that appear in ``source``, count of content words)."""
    src = {w.lower() for w in _words(source)}
    words = _words(translation)
    content = [w for i, w in enumerate(words) if len(w) >= MIN_WORD_CHARS and not (i > 0 and w[0].isupper())]
    if not content:
        return 0.0, 0
    return sum(1 for w in content if w.lower() in src) / len(content), len(content)


def untranslated(source: str, translation: str) -> str | None:
    """Why ``translation`` is left in the source language, or None when it is translated.

    Returns ``"same as the source"`` or ``"N % of its words are the source's"``.
    """
    if not _norm(translation):
        return None
    same = _norm(translation) == _norm(source)
    if same and (len(_words(source)) >= 2 or len(_norm(source)) >= MIN_SAME_CHARS):
        return "same as the source"
    share, n = copied_share(source, translation)
    if n >= MIN_CONTENT_WORDS and share >= MAX_COPIED_SHARE:
        return f"{share:.0%} of its words are the source's"
    similar = spelling_similarity(source, translation)
    if len(_letters(translation)) >= MIN_SAME_CHARS and similar >= MAX_SPELLING_SIMILARITY:
        return f"the source respelled (letter 3-gram similarity {similar:.2f})"
    return None


def added_words(source: str, translation: str) -> str | None:
    """Why ``translation`` says more than ``source`` (see the module docstring), or None."""
    n, m = len(_words(source)), len(_words(translation))
    if n and m >= max(ADDED_MIN_WORDS, ADDED_RATIO * n):
        return f"{m} words for the source's {n}"
    return None
