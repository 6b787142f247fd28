"""Whole sentences for text translators: a sentence that runs over several lines is translated once.

Diarization and Whisper's segmentation cut lines at pauses and speaker turns, not at sentence
ends, so one sentence often spans two lines ("So what do we need" | "to talk about?").
Translated line by line, each fragment comes out as a fragment ("Então o que precisamos" |
"para falar sobre?"); translated whole, the sentence is right ("Então, o que precisamos
falar?"). :func:`sentence_groups` finds the lines of one sentence, the translator translates
their joined text, and :func:`split_translation` gives each line its share of the result, cut
at word boundaries (at a comma or other clause end where one is near), so every line keeps its
own slot and speaker.
"""

from __future__ import annotations

import re

from dubpreview.integrity.words import join_words
from dubpreview.records import Segment

SENTENCE_END = re.compile(r"[.!?…。！？]['\"”’»)\]]*$")
"""A text that ends a sentence (final punctuation, then closing quotes or brackets)."""
MAX_GAP_S = 1.5
"""Lines further apart than this (seconds) are never joined into one sentence."""
MAX_LINES = 4
"""At most this many lines are joined (a text with no punctuation at all stays line by line)."""
CLAUSE_END = re.compile(r"[,;:–—]$")


def sentence_groups(segments: list[Segment], max_gap_s: float = MAX_GAP_S,
                    max_lines: int = MAX_LINES) -> list[list[int]]:
    """Indices of ``segments`` (in time order) grouped into sentences: a line joins the
    previous one when the previous text does not end a sentence (:data:`SENTENCE_END`), the
    gap between them is at most ``max_gap_s`` seconds and the group holds fewer than
    ``max_lines`` lines. Every index is in exactly one group, in order."""
    groups: list[list[int]] = []
    for i, seg in enumerate(segments):
        if groups and i > 0:
            prev = segments[i - 1]
            if (prev.text.strip() and not SENTENCE_END.search(prev.text.strip())
                    and seg.start - prev.end <= max_gap_s and len(groups[-1]) < max_lines and seg.text.strip()):
                groups[-1].append(i)
                continue
        groups.append([i])
    return groups


def split_translation(text: str, weights: list[float], prefer_sentences: bool = False) -> list[str]:
    """``text`` cut into ``len(weights)`` parts at word boundaries, part ``k`` holding about
    ``weights[k] / sum(weights)`` of its characters (the source lines' lengths). A cut moves
    to a clause end (comma, semicolon, colon, dash) within a quarter of a part's length of the
    proportional point. With ``prefer_sentences`` (a human subtitle spread over the lines it
    holds), a cut goes to the sentence end (:data:`SENTENCE_END`) nearest that point wherever
    one is left for it, before any clause end. Parts are never empty while there are as many
    words as parts; joined with single spaces they give back ``text``'s words in order."""
    n = len(weights)
    words = text.split()
    if n <= 1 or not words:
        return [text.strip()] + [""] * (n - 1) if n else []
    total = sum(max(w, 1e-9) for w in weights)
    ends = [len(" ".join(words[:k + 1])) for k in range(len(words))]  # characters up to word k
    length = ends[-1]
    cuts: list[int] = []  # cuts[j]: the number of words before part j + 1
    acc = 0.0
    for j in range(n - 1):
        acc += max(weights[j], 1e-9)
        want = length * acc / total
        lo = (cuts[-1] if cuts else 0) + 1  # at least one word in this part
        hi = len(words) - (n - 1 - j)  # and one in each later part
        if lo > hi:
            cuts.append(min(lo, len(words)))
            continue
        reach = 0.25 * length * max(weights[j], 1e-9) / total
        best = min(range(lo, hi + 1), key=lambda k: abs(ends[k - 1] - want))
        clause = [k for k in range(lo, hi + 1) if CLAUSE_END.search(words[k - 1]) and abs(ends[k - 1] - want) <= reach]
        sentence = [k for k in range(lo, hi + 1) if SENTENCE_END.search(words[k - 1])] if prefer_sentences else []
        if sentence:
            best = min(sentence, key=lambda k: abs(ends[k - 1] - want))
        elif clause:
            best = min(clause, key=lambda k: abs(ends[k - 1] - want))
        cuts.append(best)
    bounds = [0, *cuts, len(words)]
    return [join_words(words[a:b]) for a, b in zip(bounds, bounds[1:])]


def translate_sentences(translate_texts, segments: list[Segment]) -> list[str]:
    """One translation per segment, sentences translated whole: ``translate_texts(texts) ->
    texts`` runs once over the joined text of every group of :func:`sentence_groups`, and
    each group's translation is split back over its lines by the lengths of their texts."""
    groups = sentence_groups(segments)
    joined = [join_words([segments[i].text.strip() for i in g]) for g in groups]
    done = translate_texts(joined)
    out = [""] * len(segments)
    for g, translated in zip(groups, done):
        parts = split_translation(translated, [len(segments[i].text.strip()) for i in g]) if len(g) > 1 else [translated]
        for i, part in zip(g, parts):
            out[i] = part
    return out
