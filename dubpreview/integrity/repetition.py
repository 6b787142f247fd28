"""Repetition loops: Whisper's degenerate output ("the world of the world of ...",
"Yeah," sixteen times over 3 s of talk) found and repaired.

Two tests, either of which marks a text as degenerate:

- Whisper's own **compression ratio** (``whisper/utils.py`` ``compression_ratio``: UTF-8 bytes
  over zlib-compressed bytes); ``transcribe()`` re-decodes a window above
  :data:`COMPRESSION_RATIO_THRESHOLD` = 2.4 at a higher temperature.
- A **repeated n-gram** detector (:func:`find_loops`): an n-gram of words repeated back to
  back at least :func:`min_repeats` times (5 for one word, 4 for two, 3 for three to eight).
  Real dialogue does say "no, no, no" and "thank you, thank you": the thresholds sit above that.

:func:`repair` collapses every loop to one occurrence of its n-gram. Words are compared
without case and punctuation; the text kept is the original's.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

from dubpreview.integrity.words import _unspaced, join_words

COMPRESSION_RATIO_THRESHOLD = 2.4
"""openai/whisper ``transcribe()``'s default ``compression_ratio_threshold``."""
MAX_N = 8
"""Longest n-gram (in words) the detector looks for."""
MIN_BYTES = 40
"""Texts shorter than this (UTF-8 bytes) are not judged by compression ratio: zlib's header
dominates and the ratio says nothing."""


def compression_ratio(text: str) -> float:
    """UTF-8 length over zlib-compressed length of ``text`` (as openai/whisper computes it)."""
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


def tokens(text: str) -> list[str]:
    """The text's words: split on spaces, and into characters for scripts written without
    spaces (so a Japanese loop is found too)."""
    out: list[str] = []
    for part in text.split():
        if any(_unspaced(c) for c in part):
            out += [c for c in part if not c.isspace()]
        else:
            out.append(part)
    return out


def _norm(token: str) -> str:
    return re.sub(r"[\W_]+", "", token.lower())


def min_repeats(n: int) -> int:
    """Back-to-back occurrences of an ``n``-word n-gram that make a loop."""
    return 5 if n == 1 else 4 if n == 2 else 3


@dataclass(frozen=True)
class Loop:
    """``n``-gram starting at token ``start`` repeated ``count`` times back to back."""

    start: int
    n: int
    count: int

    @property
    def end(self) -> int:
        """Token index just past the loop."""
        return self.start + self.n * self.count


def find_loops(words: list[str]) -> list[Loop]:
    """Non-overlapping loops in ``words`` (see :func:`min_repeats`), left to right; at each
    position the n-gram covering the most tokens wins."""
    norm = [_norm(w) for w in words]
    loops, i = [], 0
    while i < len(norm):
        best = None
        for n in range(1, MAX_N + 1):
            if i + n > len(norm) or not any(norm[i:i + n]):
                continue
            count = 1
            while norm[i + count * n:i + (count + 1) * n] == norm[i:i + n]:
                count += 1
            if count >= min_repeats(n) and (best is None or n * count > best.n * best.count):
                best = Loop(i, n, count)
        if best:
            loops.append(best)
            i = best.end
        else:
            i += 1
    return loops


def is_degenerate(text: str) -> bool:
    """True when ``text`` holds a repetition loop or compresses above Whisper's 2.4."""
    if len(text.encode("utf-8")) >= MIN_BYTES and compression_ratio(text) > COMPRESSION_RATIO_THRESHOLD:
        return True
    return bool(find_loops(tokens(text)))


def repair(text: str) -> str:
    """``text`` with each loop collapsed to one occurrence of its n-gram (the rest kept as is)."""
    words = tokens(text)
    loops = find_loops(words)
    if not loops:
        return text
    out, i = [], 0
    for loop in loops:
        out += words[i:loop.start + loop.n]
        i = loop.end
    out += words[i:]
    return join_words(out)
