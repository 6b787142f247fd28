"""The guard pass after machine translation, one target language at a time.

For each line's translation (lines the user edited in that language are left alone):

1. a loop (:func:`~dubpreview.integrity.repetition.is_degenerate`) or a text that could not
   be said in its slot (:func:`~dubpreview.integrity.rate.too_long`) is translated again by
   the backend's ``retranslate`` when it has one (Whisper speech translation decodes the
   line's audio again with the strict options); a clean result replaces it (``re-decoded``);
   otherwise the loop is collapsed (``repetition repaired``; ``degenerate`` holds it when it
   stays) and a text still too long is cut to what fits (``rate ceiling``);
2. a known hallucinated phrase (:mod:`~dubpreview.integrity.phrases`: "Thanks for watching.")
   that the source line does not hold is translated again, or removed (``phrase dropped``;
   a line with nothing left is not dubbed);
3. a translation that is the source text (:func:`~dubpreview.integrity.language.untranslated`)
   is flagged ``untranslated``, one that says far more than the source
   (:func:`~dubpreview.integrity.language.added_words`) ``words added``: both are held, not
   spoken until the user edits them.

Human translations imported from a subtitle file are not guarded: they are a person's words.
"""

from __future__ import annotations

import re
from typing import Callable

from dubpreview.integrity import flags, language, phrases, rate, repetition
from dubpreview.integrity.asr_guard import line_slots
from dubpreview.records import Segment


def guard_translations(segments: list[Segment], texts: list[str], target: str, accepted_speed: float = 1.2,
                       retranslate: Callable[[Segment], str] | None = None,
                       sources: list[list[str]] | None = None) -> list[str]:
    """The guarded translations of ``segments`` into ``target`` (one per segment, in order).

    ``texts``: the translator's output; ``retranslate(segment) -> str``: a second, stricter
    translation of one line (optional); ``sources``: per line, the texts the translation
    came from (the source line and, through a pivot, each intermediate hop), all compared
    for :data:`~dubpreview.integrity.flags.UNTRANSLATED` (default: the source text).
    Flags for ``target`` are added to each segment (in place; a pivot's hops each add theirs).
    """
    out = []
    for i, (seg, text, slot) in enumerate(zip(segments, texts, line_slots(segments))):
        if target in seg.edited or not text.strip():
            out.append(text)
            continue
        bad = lambda t: repetition.is_degenerate(t) or rate.too_long(t, slot, accepted_speed)  # noqa: E731
        if bad(text):
            again = retranslate(seg) if retranslate else ""
            if again.strip() and not bad(again):
                flags.add(seg, flags.REDECODED, f"the first translation looped or overran: {text[:80]!r}", target)
                text = again
            else:
                if repetition.is_degenerate(text):
                    before, text = text, repetition.repair(text)
                    flags.add(seg, flags.REPAIRED, f"{len(before.split())} words -> {len(text.split())}: "
                                                   f"{before[:80]!r}", target)
                    if repetition.is_degenerate(text):
                        flags.add(seg, flags.DEGENERATE, "the loop is still there after the repair", target)
                if rate.too_long(text, slot, accepted_speed):
                    flags.add(seg, flags.RATE_CEILING, f"cut to what {slot:.1f} s can hold: {text[:80]!r}", target)
                    text = rate.shorten(text, slot, accepted_speed)
        srcs = sources[i] if sources else [seg.text]
        found = [m.phrase for m in phrases.find(text, []) if not any(phrases.find(src, []) for src in srcs)]
        if found:  # Whisper's stock lines in a translation the source never said
            again = retranslate(seg) if retranslate else ""
            if again.strip() and not phrases.find(again, []) and not bad(again):
                flags.add(seg, flags.REDECODED, f"the first translation was a known hallucination: {text[:80]!r}",
                          target)
                text = again
            else:
                before = text
                for phrase in found:
                    text = phrases.remove(text, phrase)
                flags.add(seg, flags.PHRASE_DROPPED, f"known hallucination removed from {before[:80]!r}"
                          + ("; nothing left to say" if not re.search(r"\w", text) else ""), target)
                if not re.search(r"\w", text):
                    text = ""
        for src in srcs:
            why = language.untranslated(src, text)
            if why:
                flags.add(seg, flags.UNTRANSLATED, why, target)
                break
        why = language.added_words(seg.text, text)
        if why:
            flags.add(seg, flags.ADDED, why, target)
        out.append(text)
    return out
