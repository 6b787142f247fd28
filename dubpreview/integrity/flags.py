"""The reasons a line is doubtful, as each line stores them (``Segment.flags``).

Every guard that changes or doubts a line adds a :class:`~dubpreview.records.Flag` with one
of the reasons below, so a reviewer sees what was done and goes to those lines first. Two
reasons *hold* the line: it is not spoken in that language (the dub leaves it silent and the
studio shows why) until the user edits the line's translation there, which clears the hold
(an edited translation is the user's word):

- :data:`UNTRANSLATED` — the translation equals the source, or most of its words are the
  source's words (the translator gave up);
- :data:`DEGENERATE` — a repetition loop that neither a re-decode nor the repair removed;
- :data:`ADDED` — the translation says far more than the source (a translation hallucination).
"""

from __future__ import annotations

from collections import Counter

from dubpreview.records import Flag, Segment

LOW_CONFIDENCE = "low confidence"
"""Whisper's mean log-probability of the line's window is below -1.0 (its own
``logprob_threshold``)."""
REDECODED = "re-decoded"
"""The first decode looped or overran its slot; the line was decoded again on its own."""
REPAIRED = "repetition repaired"
"""A repetition loop was collapsed to one occurrence."""
PHRASE_DROPPED = "phrase dropped"
"""A known hallucinated phrase was removed from the line (the audio under it held no speech)."""
RECOVERED = "recovered"
"""The first pass left this speech out; decoding its region on its own found the line."""
RATE_CEILING = "rate ceiling"
"""The text could not be spoken within twice its slot at the accepted speed: it was cut to
what fits."""
UNTRANSLATED = "untranslated"
"""The translation is (mostly) the source text: held, not spoken."""
DEGENERATE = "degenerate"
"""A loop that could not be repaired: held, not spoken."""
ADDED = "words added"
"""The translation has 2.5 times the source's words or more: held, not spoken."""
OVERRUN = "overrun"
"""The dub of the line ends more than the timing's ``max_overrun_s`` (1 s) after its slot
(or past the end of the scene) even at the maximum speed: spoken, but a reviewer should
shorten it."""
HOLDING = frozenset({UNTRANSLATED, DEGENERATE, ADDED})
"""Reasons that keep a line out of the dub in their language."""


def add(seg: Segment, reason: str, detail: str = "", language: str | None = None) -> None:
    """Add a flag to ``seg`` (one per reason and language: a second replaces the first)."""
    seg.flags = [f for f in seg.flags if (f.reason, f.language) != (reason, language)]
    seg.flags.append(Flag(reason=reason, language=language, detail=detail))


def clear_language(seg: Segment, language: str) -> None:
    """Remove the flags of ``seg`` that concern ``language`` (before a new translation)."""
    seg.flags = [f for f in seg.flags if f.language != language]


def for_language(seg: Segment, language: str) -> list[Flag]:
    """The flags that concern the dub of ``seg`` in ``language``: the source line's and that
    language's."""
    return [f for f in seg.flags if f.language in (None, language)]


def held(seg: Segment, language: str) -> bool:
    """True when ``seg`` is not to be spoken in ``language``: a holding flag, and the user
    has not edited the line's translation in that language."""
    if language in seg.edited:
        return False
    return any(f.reason in HOLDING for f in for_language(seg, language))


def label(seg: Segment | dict, language: str) -> str:
    """The flags of a line for one language as the studio's table shows them:
    ``"⚠ untranslated; low confidence"`` (``""`` when none)."""
    flags = seg.flags if isinstance(seg, Segment) else [Flag(**f) for f in seg.get("flags", [])]
    reasons = [f.reason for f in flags if f.language in (None, language)]
    if isinstance(seg, dict) and language in (seg.get("edited") or []):
        reasons = [r for r in reasons if r not in HOLDING]
    return ("⚠ " + "; ".join(dict.fromkeys(reasons))) if reasons else ""


def counts(segments: list[Segment], language: str | None = None) -> Counter:
    """How many lines carry each reason (for ``language``'s dub, or every flag when None)."""
    c: Counter = Counter()
    for seg in segments:
        flags = seg.flags if language is None else for_language(seg, language)
        c.update(dict.fromkeys(f.reason for f in flags))
    return c
