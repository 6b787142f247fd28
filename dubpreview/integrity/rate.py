"""The speaking-rate ceiling: text too long to be spoken in its slot.

A 3 s line that comes back as 250 words is not a line to speed up: it is a decoding loop
(and its synthesis took minutes and ran 80 s past the scene). The estimate is deliberately
fast speech, :data:`FAST_CHARS_PER_S` characters a second (about 7 syllables a second:
fast conversational English and Portuguese run at 5-7, Pellegrino et al. 2011, "A
cross-language perspective on speech information rate", Language 87(3)); scripts written
without spaces count :data:`FAST_CJK_CHARS_PER_S` characters a second. A line whose
estimate at the accepted speed exceeds :data:`CEILING` times its slot cannot be spoken
there by any honest fit.
"""

from __future__ import annotations

from dubpreview.integrity.repetition import tokens
from dubpreview.integrity.words import _unspaced, join_words

FAST_CHARS_PER_S = 20.0
"""Characters (letters, digits, spaces) a second of fast speech in alphabetic scripts."""
FAST_CJK_CHARS_PER_S = 8.0
"""Characters a second of fast speech in Chinese and Japanese."""
CEILING = 2.0
"""Largest ratio of estimated speaking time (at the accepted speed) to slot."""
MIN_SLOT_S = 0.5
"""Slots shorter than this count as this long (a short "Yeah." must not be cut)."""


def speaking_seconds(text: str) -> float:
    """Fast-speech estimate of how long ``text`` takes to say (seconds)."""
    cjk = sum(1 for c in text if _unspaced(c))
    other = sum(1 for c in text if (c.isalnum() or c == " ") and not _unspaced(c))
    return other / FAST_CHARS_PER_S + cjk / FAST_CJK_CHARS_PER_S


def too_long(text: str, slot_s: float, accepted_speed: float) -> bool:
    """True when ``text`` cannot be spoken within :data:`CEILING` x ``slot_s`` seconds at
    ``accepted_speed``."""
    return speaking_seconds(text) / accepted_speed > CEILING * max(slot_s, MIN_SLOT_S)


def shorten(text: str, slot_s: float, accepted_speed: float) -> str:
    """The longest run of ``text``'s first words that fits the ceiling (at least one word),
    cut after the last sentence or clause end that fits when there is one."""
    words = tokens(text)
    budget = CEILING * max(slot_s, MIN_SLOT_S) * accepted_speed
    keep = 1
    for n in range(1, len(words) + 1):
        if speaking_seconds(join_words(words[:n])) > budget:
            break
        keep = n
    clause = [i + 1 for i in range(keep) if words[i][-1:] in ".!?;,…。！？"]
    if clause and clause[-1] >= keep / 2:
        keep = clause[-1]
    return join_words(words[:keep])
