"""The one rule that makes a line's text from its words.

Whisper's word timestamps carry each word's text with its leading space (``" So,"``,
``" we"``); :func:`dubpreview.asr.common.finish_segments` strips them so that every stored
word is bare. Any place that rebuilds a line from words (a diarization split, a merge, the
re-decoding of a region) calls :func:`join_words`, which puts the space back by the
writing system's rule: scripts written without spaces between words (Chinese, Japanese,
Thai, Lao, Khmer, Burmese; the same rule as Whisper's tokenizer, which splits
those languages on characters, not spaces, ``whisper/tokenizer.py`` ``split_to_word_tokens``) are joined directly, everything else with one space. Before
this rule a split joined words with ``""`` and the dub said ``So,soweneed``.
"""

from __future__ import annotations

import unicodedata

_UNSPACED_SCRIPTS = ("CJK", "HIRAGANA", "KATAKANA", "THAI", "LAO", "KHMER", "MYANMAR")
"""Unicode name prefixes of scripts written without spaces between words (Korean is
written with spaces between its words, so Hangul is joined like Latin)."""


def _unspaced(ch: str) -> bool:
    """True for a character of a script written without spaces between words, or for
    full-width punctuation (U+3000-U+303F, U+FF00-U+FFEF) that belongs to such text."""
    if not ch:
        return False
    code = ord(ch)
    if 0x3000 <= code <= 0x303F or 0xFF00 <= code <= 0xFFEF:
        return True
    return unicodedata.name(ch, "").startswith(_UNSPACED_SCRIPTS)


def join_words(words: list[str]) -> str:
    """The text of a line made from its word texts, in order.

    Each word is stripped; empty words are skipped; two neighbours are joined without a
    space when the end of the first or the start of the second is in a script written
    without spaces (see the module docstring), otherwise with exactly one space. So no two
    words of a spaced language ever fuse, and ``join_words(text.split())`` gives back a
    whitespace-normalised ``text``.
    """
    out = ""
    for w in words:
        w = w.strip()
        if not w:
            continue
        if out and not (_unspaced(out[-1]) or _unspaced(w[0])):
            out += " "
        out += w
    return out


def text_of(words) -> str:
    """:func:`join_words` of records with a ``text`` attribute (:class:`~dubpreview.records.Word`)."""
    return join_words([w.text for w in words])
